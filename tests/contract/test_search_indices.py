"""Index APIs over REST (in-process): create/get/head/delete, names, _mapping, _settings, _refresh,
_count, _cat/indices, and the catch-all routing of /{index}."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from modelnode.errors import ModelNodeError
from modelnode.services.indices import validate_index_name
from tests.support import assert_error

MAPPINGS = {
    "properties": {
        "title": {"type": "text"},
        "views": {"type": "long"},
        "vec": {"type": "knn_vector", "dimension": 2, "space_type": "l2"},
    }
}


def create(client: TestClient, name: str = "books", **body: Any) -> dict[str, Any]:
    r = client.put(f"/{name}", json=body or {"mappings": MAPPINGS, "settings": {"index.knn": True}})
    assert r.status_code == 200, r.text
    return r.json()


def test_create_get_head_delete(client: TestClient) -> None:
    assert create(client) == {"acknowledged": True, "shards_acknowledged": True, "index": "books"}
    got = client.get("/books").json()
    assert set(got) == {"books"}
    info = got["books"]
    assert info["aliases"] == {}
    assert info["mappings"]["properties"]["views"] == {"type": "long"}
    index = info["settings"]["index"]
    assert index["knn"] == "true" and index["number_of_shards"] == "1" and index["number_of_replicas"] == "1"
    assert index["provided_name"] == "books" and len(index["uuid"]) >= 20 and index["creation_date"].isdigit()
    assert client.head("/books").status_code == 200
    assert client.head("/nope").status_code == 404

    assert_error(client.put("/books", json={}), 400, "resource_already_exists_exception", "index [books/")
    assert client.delete("/books").json() == {"acknowledged": True}
    assert client.head("/books").status_code == 404
    assert_error(client.get("/books"), 404, "index_not_found_exception", "no such index [books]")
    assert_error(client.delete("/books"), 404, "index_not_found_exception")


def test_create_without_body_and_with_typed_mappings(client: TestClient) -> None:
    assert client.put("/plain").status_code == 200
    assert client.get("/plain/_mapping").json()["plain"]["mappings"].get("properties", {}) == {}
    r = client.put("/typed", json={"mappings": {"_doc": {"properties": {"a": {"type": "keyword"}}}}})
    assert r.status_code == 200, r.text
    assert client.get("/typed/_mapping").json()["typed"]["mappings"]["properties"]["a"]["type"] == "keyword"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Upper", "must be lowercase"),
        ("_under", None),  # routed as an unknown /_... path, see below
        ("-dash", "must not start with '_', '-', or '+'"),
        ("+plus", "must not start with '_', '-', or '+'"),
        ("a*b", "must not contain the following characters"),
        ("a,b", "must not contain the following characters"),
        ("a#b", "must not contain '#'"),
        ("a:b", "must not contain ':'"),
        ("x" * 256, "index name is too long, (256 > 255)"),
        (".plugins-ml-model", "reserved for ML Commons' system indices"),
    ],
)
def test_invalid_index_names(client: TestClient, name: str, reason: str | None) -> None:
    r = client.put(f"/{quote(name, safe='')}", json={})
    if reason is None:
        assert_error(r, 400, "illegal_argument_exception", "no handler found for uri")
    else:
        assert_error(r, 400, "invalid_index_name_exception", reason)
    assert client.get("/_cat/indices?format=json").json() == []


def test_dot_names_are_invalid() -> None:
    for name in (".", ".."):  # HTTP clients normalise these paths away: check the rule directly
        with pytest.raises(ModelNodeError, match=r"must not be '\.' or '\.\.'"):
            validate_index_name(name)


def test_unknown_underscore_paths_have_no_handler(client: TestClient) -> None:
    for method, path in (("GET", "/_foo"), ("PUT", "/_foo"), ("GET", "/_foo/_doc/1"), ("POST", "/_foo/_search")):
        r = client.request(method, path, json={})
        assert_error(r, 400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{method}]")
    # ML routes still win over the catch-all
    assert client.get("/_plugins/_ml/stats").status_code == 200
    assert client.get("/_cluster/health").status_code == 200


def test_bad_create_bodies_store_nothing(client: TestClient) -> None:
    assert_error(client.put("/x", json={"mapping": {}}), 400, "parse_exception", "unknown key [mapping]")
    assert_error(client.put("/x", json={"aliases": {"a": {}}}), 400, "illegal_argument_exception")
    r = client.put("/x", json={"settings": {"index.uuid": "mine"}})
    assert_error(r, 400, "illegal_argument_exception", "private index setting [index.uuid]")
    assert client.head("/x").status_code == 404


def test_comma_lists_and_wildcards(client: TestClient) -> None:
    for name in ("logs-a", "logs-b", "other"):
        create(client, name, mappings={"properties": {"a": {"type": "keyword"}}})
    assert sorted(client.get("/logs-*").json()) == ["logs-a", "logs-b"]
    assert sorted(client.get("/logs-a,other").json()) == ["logs-a", "other"]
    assert sorted(client.get("/_all/_mapping").json()) == ["logs-a", "logs-b", "other"]
    assert client.get("/nomatch-*").json() == {}
    assert_error(client.get("/logs-a,missing"), 404, "index_not_found_exception", "no such index [missing]")
    assert client.delete("/logs-*").json() == {"acknowledged": True}
    assert [r["index"] for r in client.get("/_cat/indices?format=json").json()] == ["other"]


def test_mapping_get_put_and_conflicts(client: TestClient) -> None:
    create(client)
    r = client.put("/books/_mapping", json={"properties": {"author": {"type": "keyword"}}})
    assert r.json() == {"acknowledged": True}, r.text
    props = client.get("/books/_mapping").json()["books"]["mappings"]["properties"]
    assert props["author"] == {"type": "keyword"} and props["views"] == {"type": "long"}
    r = client.put("/books/_mapping", json={"properties": {"views": {"type": "keyword"}}})
    assert r.status_code == 400, r.text
    assert client.get("/books/_mapping").json()["books"]["mappings"]["properties"]["views"] == {"type": "long"}
    assert_error(client.put("/missing/_mapping", json={"properties": {}}), 404, "index_not_found_exception")
    assert "books" in client.get("/_mapping").json()


def test_settings_dynamic_and_static(client: TestClient) -> None:
    create(client)
    flat = client.get("/books/_settings?flat_settings=true").json()["books"]["settings"]
    assert flat["index.knn"] == "true" and flat["index.provided_name"] == "books"
    r = client.put("/books/_settings", json={"index": {"default_pipeline": "p1", "search.default_pipeline": "s1"}})
    assert r.json() == {"acknowledged": True}, r.text
    nested = client.get("/books/_settings").json()["books"]["settings"]["index"]
    assert nested["default_pipeline"] == "p1" and nested["search"] == {"default_pipeline": "s1"}
    r = client.put("/books/_settings", json={"index.knn.algo_param.ef_search": 50})
    assert r.status_code == 200, r.text
    assert client.get("/books/_settings/index.knn*?flat_settings=true").json() == {
        "books": {"settings": {"index.knn": "true", "index.knn.algo_param.ef_search": "50"}}
    }
    # static settings cannot change on an open index; nothing changes
    r = client.put("/books/_settings", json={"index": {"knn": False, "default_pipeline": "p2"}})
    assert_error(r, 400, "illegal_argument_exception", "Can't update non dynamic settings [[index.knn]]")
    assert client.get("/books/_settings").json()["books"]["settings"]["index"]["default_pipeline"] == "p1"
    r = client.put("/books/_settings", json={"index.bogus": 1})
    assert_error(r, 400, "illegal_argument_exception", "unknown setting [index.bogus]")
    # null resets a setting
    assert client.put("/books/_settings", json={"index": {"default_pipeline": None}}).status_code == 200
    assert "default_pipeline" not in client.get("/books/_settings").json()["books"]["settings"]["index"]
    assert_error(client.put("/books/_settings", json={}), 400, "action_request_validation_exception")


def test_refresh_count_and_cat(client: TestClient) -> None:
    create(client)
    for i in range(3):
        assert client.put(f"/books/_doc/{i}", json={"title": f"book {i}", "views": i}).status_code == 201
    assert client.post("/books/_refresh").json() == {"_shards": {"total": 2, "successful": 1, "failed": 0}}
    assert client.post("/_refresh").json()["_shards"]["successful"] == 1
    count = client.get("/books/_count").json()
    assert count == {"count": 3, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
    assert client.post("/books/_count", json={"query": {"term": {"views": 1}}}).json()["count"] == 1
    assert client.get("/_count").json()["count"] == 3
    assert_error(
        client.post("/books/_count", json={"size": 1}), 400, "parsing_exception", "request does not support [size]"
    )

    rows = client.get("/_cat/indices?format=json").json()
    assert rows == [
        {
            "health": "yellow",
            "status": "open",
            "index": "books",
            "uuid": rows[0]["uuid"],
            "pri": "1",
            "rep": "1",
            "docs.count": "3",
            "docs.deleted": "0",
            "store.size": rows[0]["store.size"],
            "pri.store.size": rows[0]["store.size"],
        }
    ]
    text = client.get("/_cat/indices?v").text
    header, line = text.splitlines()
    assert header.split() == [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ]
    assert line.split()[:3] == ["yellow", "open", "books"]
    assert client.get("/_cat/indices").text.split()[2] == "books"
    assert client.get("/_cat/indices?h=index,docs.count").text.split() == ["books", "3"]
