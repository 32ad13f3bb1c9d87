"""Document APIs over REST (in-process): _doc, _create, _update, _bulk, _mget, versioning, dynamic
mapping, auto-create, and "a bad input changes nothing"; plus durability across an in-process restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from tests.support import assert_error

NDJSON = {"content-type": "application/x-ndjson"}


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def bulk(client: TestClient, *lines: dict[str, Any], path: str = "/_bulk") -> dict[str, Any]:
    r = client.post(path, content=ndjson(*lines), headers=NDJSON)
    assert r.status_code == 200, r.text
    return r.json()


def make_index(client: TestClient, name: str = "docs") -> None:
    mappings = {"properties": {"title": {"type": "text"}, "views": {"type": "long"}, "tag": {"type": "keyword"}}}
    assert client.put(f"/{name}", json={"mappings": mappings}).status_code == 200


def count(client: TestClient, index: str = "docs") -> int:
    return client.get(f"/{index}/_count").json()["count"]


def test_index_get_delete_cycle(client: TestClient) -> None:
    make_index(client)
    r = client.put("/docs/_doc/1", json={"title": "first", "views": 1})
    assert r.status_code == 201
    assert r.json() == {
        "_index": "docs",
        "_id": "1",
        "_version": 1,
        "result": "created",
        "_shards": {"total": 2, "successful": 1, "failed": 0},
        "_seq_no": 0,
        "_primary_term": 1,
    }
    r = client.put("/docs/_doc/1", json={"title": "again", "views": 2})
    assert r.status_code == 200 and r.json()["result"] == "updated" and r.json()["_version"] == 2
    assert r.json()["_seq_no"] == 1
    got = client.get("/docs/_doc/1")
    assert got.json() == {
        "_index": "docs",
        "_id": "1",
        "_version": 2,
        "_seq_no": 1,
        "_primary_term": 1,
        "found": True,
        "_source": {"title": "again", "views": 2},
    }
    assert client.get("/docs/_doc/1?_source=false").json().get("_source") is None
    assert client.get("/docs/_doc/1?_source_includes=views").json()["_source"] == {"views": 2}
    missing = client.get("/docs/_doc/nope")
    assert missing.status_code == 404 and missing.json() == {"_index": "docs", "_id": "nope", "found": False}
    assert client.head("/docs/_doc/1").status_code == 200
    assert client.head("/docs/_doc/nope").status_code == 404
    assert client.head("/nope/_doc/1").status_code == 404
    assert client.get("/docs/_source/1").json() == {"title": "again", "views": 2}

    r = client.delete("/docs/_doc/1")
    assert r.status_code == 200 and r.json()["result"] == "deleted" and r.json()["_version"] == 3
    r = client.delete("/docs/_doc/1")
    assert r.status_code == 404 and r.json()["result"] == "not_found"
    assert_error(client.get("/nope/_doc/1"), 404, "index_not_found_exception", "no such index [nope]")
    assert_error(client.delete("/nope/_doc/1"), 404, "index_not_found_exception")


def test_auto_ids_create_and_op_type(client: TestClient) -> None:
    make_index(client)
    r = client.post("/docs/_doc", json={"title": "auto"})
    assert r.status_code == 201 and r.json()["result"] == "created"
    assert len(r.json()["_id"]) == 20
    assert client.put("/docs/_create/c1", json={"title": "x"}).status_code == 201
    r = client.put("/docs/_create/c1", json={"title": "y"})
    assert_error(r, 409, "version_conflict_engine_exception", "[c1]: version conflict, document already exists")
    r = client.put("/docs/_doc/c1?op_type=create", json={"title": "z"})
    assert_error(r, 409, "version_conflict_engine_exception")
    assert client.get("/docs/_doc/c1").json()["_source"] == {"title": "x"}
    assert_error(client.put("/docs/_doc/c2?op_type=bogus", json={}), 400, "illegal_argument_exception")


def test_optimistic_concurrency(client: TestClient) -> None:
    make_index(client)
    seq = client.put("/docs/_doc/1", json={"title": "a"}).json()["_seq_no"]
    r = client.put(f"/docs/_doc/1?if_seq_no={seq + 5}&if_primary_term=1", json={"title": "b"})
    assert_error(r, 409, "version_conflict_engine_exception", f"required seqNo [{seq + 5}], primary term [1]")
    r = client.put(f"/docs/_doc/1?if_seq_no={seq}&if_primary_term=1", json={"title": "b"})
    assert r.status_code == 200
    r = client.delete(f"/docs/_doc/1?if_seq_no={seq}&if_primary_term=1")
    assert_error(r, 409, "version_conflict_engine_exception")
    assert_error(client.put("/docs/_doc/1?if_seq_no=x", json={}), 400, "illegal_argument_exception")
    assert_error(client.put("/docs/_doc/1?version=3", json={}), 400, "illegal_argument_exception")


def test_update_merge_noop_upserts_and_missing(client: TestClient) -> None:
    make_index(client)
    client.put("/docs/_doc/1", json={"title": "t", "meta": {"a": 1, "b": 2}})
    r = client.post("/docs/_update/1", json={"doc": {"views": 7, "meta": {"b": 3}}})
    assert r.status_code == 200 and r.json()["result"] == "updated" and r.json()["_version"] == 2
    assert client.get("/docs/_doc/1").json()["_source"] == {"title": "t", "meta": {"a": 1, "b": 3}, "views": 7}
    r = client.post("/docs/_update/1", json={"doc": {"views": 7}})
    assert r.json()["result"] == "noop" and r.json()["_version"] == 2
    r = client.post("/docs/_update/1", json={"doc": {"views": 7}, "detect_noop": False})
    assert r.json()["result"] == "updated" and r.json()["_version"] == 3

    assert_error(
        client.post("/docs/_update/2", json={"doc": {"views": 1}}),
        404,
        "document_missing_exception",
        "[2]: document missing",
    )
    r = client.post("/docs/_update/2", json={"doc": {"views": 1}, "doc_as_upsert": True})
    assert r.status_code == 201 and r.json()["result"] == "created"
    r = client.post("/docs/_update/3", json={"doc": {"views": 1}, "upsert": {"views": 0, "title": "fresh"}})
    assert r.status_code == 201
    assert client.get("/docs/_doc/3").json()["_source"] == {"views": 0, "title": "fresh"}
    assert_error(client.post("/docs/_update/3", json={"nope": 1}), 400, "x_content_parse_exception")
    assert_error(client.post("/docs/_update/3", json={}), 400, "action_request_validation_exception")
    r = client.post("/docs/_update/3", json={"script": {"source": "ctx._source.views += 1"}})
    assert_error(r, 400, "illegal_argument_exception", "script updates are not supported")
    assert client.get("/docs/_doc/3").json()["_version"] == 1


def test_mapping_errors_store_nothing(client: TestClient) -> None:
    make_index(client)
    r = client.put("/docs/_doc/1", json={"views": "many"})
    assert_error(r, 400, "mapper_parsing_exception")
    r = client.put("/docs/_doc/1", json={"_id": "inside"})
    assert_error(r, 400, "mapper_parsing_exception", "metadata field")
    assert count(client) == 0
    assert "1" not in str(client.get("/docs/_mapping").json()["docs"]["mappings"]["properties"].get("views"))
    assert_error(client.put("/docs/_doc/1", content=b"[1,2]"), 400)
    assert_error(client.put("/docs/_doc/1", content=b"{bad json"), 400, "parse_exception")
    assert count(client) == 0


def test_auto_create_and_dynamic_mapping_are_persisted(client: TestClient, settings: Settings) -> None:
    r = client.put("/fresh/_doc/1", json={"title": "hello", "n": 3, "ok": True, "obj": {"x": 1.5}})
    assert r.status_code == 201, r.text
    props = client.get("/fresh/_mapping").json()["fresh"]["mappings"]["properties"]
    assert props["n"] == {"type": "long"} and props["ok"] == {"type": "boolean"}
    assert props["title"]["type"] == "text" and props["obj"]["properties"]["x"]["type"] == "float"
    r = client.put("/fresh/_doc/2", json={"n": "not a number"})
    assert_error(r, 400, "mapper_parsing_exception")
    assert client.put("/fresh/_doc/3", json={"extra": "new field"}).status_code == 201
    assert_error(client.put("/Bad/_doc/1", json={}), 400, "invalid_index_name_exception")
    assert client.head("/Bad").status_code == 404


def test_bulk_items_statuses_and_errors(client: TestClient) -> None:
    make_index(client)
    client.put("/docs/_doc/existing", json={"title": "x"})
    out = bulk(
        client,
        {"index": {"_index": "docs", "_id": "1"}},
        {"title": "one", "views": 1},
        {"create": {"_index": "docs", "_id": "existing"}},
        {"title": "dup"},
        {"index": {"_index": "docs", "_id": "2"}},
        {"views": "not a number"},
        {"update": {"_index": "docs", "_id": "1"}},
        {"doc": {"views": 10}},
        {"delete": {"_index": "docs", "_id": "missing"}},
        {"delete": {"_index": "docs", "_id": "existing"}},
        {"index": {"_index": "docs"}},
        {"title": "auto id"},
        {"update": {"_index": "docs", "_id": "nope"}},
        {"doc": {"views": 1}},
    )
    assert out["errors"] is True and isinstance(out["took"], int)
    items = out["items"]
    assert [next(iter(i)) for i in items] == [
        "index",
        "create",
        "index",
        "update",
        "delete",
        "delete",
        "index",
        "update",
    ]
    statuses = [next(iter(i.values()))["status"] for i in items]
    assert statuses == [201, 409, 400, 200, 404, 200, 201, 404]
    assert items[1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert items[2]["index"]["error"]["type"] == "mapper_parsing_exception"
    assert items[7]["update"]["error"]["type"] == "document_missing_exception"
    assert items[0]["index"]["_shards"] == {"total": 2, "successful": 1, "failed": 0}
    # sequence numbers follow the order of the successful actions
    seqs = [next(iter(i.values())).get("_seq_no") for i in items]
    assert seqs[0] < seqs[3] < seqs[4] < seqs[5] < seqs[6]
    assert client.get("/docs/_doc/1").json()["_source"] == {"title": "one", "views": 10}
    assert client.get("/docs/_doc/existing").json()["found"] is False
    assert count(client) == 2

    # an index path gives the default index; items without errors: errors false
    out = bulk(client, {"index": {"_id": "9"}}, {"title": "nine"}, path="/docs/_bulk?refresh=true")
    assert out["errors"] is False and out["items"][0]["index"]["forced_refresh"] is True


def test_bulk_malformed_requests_fail_whole_and_store_nothing(client: TestClient) -> None:
    make_index(client)
    good = ndjson({"index": {"_index": "docs", "_id": "1"}}, {"title": "x"})
    cases = [
        (good + b"{not json}\n", "Malformed action/metadata line [3]"),
        (good + b'{"upsert":{"_index":"docs"}}\n{}\n', "expected field [create], [delete], [index] or [update]"),
        (good + b'{"index":{"_index":"docs","bogus":1}}\n{}\n', "contains an unknown parameter [bogus]"),
        (good[:-1], "The bulk request must be terminated by a newline"),
        (good + b'{"delete":{"_index":"docs"}}\n', "id is missing"),
        (b'{"index":{}}\n{"a":1}\n', "index is missing"),
        (b"", "no requests added"),
        (good + b'{"update":{"_index":"docs","_id":"1"}}\n{"doc":{"a":1},"what":2}\n', "unknown field [what]"),
    ]
    for body, reason in cases:
        r = client.post("/_bulk", content=body, headers=NDJSON)
        assert r.status_code == 400, (body, r.text)
        assert reason in r.json()["error"]["reason"], (body, r.text)
    assert count(client) == 0
    # a bad source line fails only its own item
    out = client.post("/_bulk", content=good + b'{"index":{"_index":"docs","_id":"2"}}\n{oops\n', headers=NDJSON).json()
    assert [next(iter(i.values()))["status"] for i in out["items"]] == [201, 400]
    assert_error(client.post("/_bulk?refresh=maybe", content=good, headers=NDJSON), 400, "illegal_argument_exception")


def test_bulk_auto_creates_indices_and_missing_index_deletes_fail(client: TestClient) -> None:
    out = bulk(
        client,
        {"index": {"_index": "made-by-bulk", "_id": "1"}},
        {"a": 1},
        {"delete": {"_index": "never", "_id": "1"}},
        {"index": {"_index": "BAD", "_id": "1"}},
        {"a": 1},
    )
    statuses = [next(iter(i.values()))["status"] for i in out["items"]]
    assert statuses == [201, 404, 400]
    assert out["items"][1]["delete"]["error"]["type"] == "index_not_found_exception"
    assert out["items"][2]["index"]["error"]["type"] == "invalid_index_name_exception"
    assert client.get("/made-by-bulk/_mapping").json()["made-by-bulk"]["mappings"]["properties"]["a"]["type"] == "long"
    assert client.head("/never").status_code == 404


def test_mget(client: TestClient) -> None:
    make_index(client)
    client.put("/docs/_doc/1", json={"title": "one", "views": 1})
    out = client.post(
        "/_mget",
        json={"docs": [{"_index": "docs", "_id": "1"}, {"_index": "docs", "_id": "2"}, {"_index": "gone", "_id": "1"}]},
    ).json()
    first, second, third = out["docs"]
    assert first["found"] is True and first["_source"] == {"title": "one", "views": 1}
    assert second == {"_index": "docs", "_id": "2", "found": False}
    assert third["error"]["type"] == "index_not_found_exception"
    out = client.post("/docs/_mget", json={"ids": ["1", "2"]}).json()
    assert [d["found"] for d in out["docs"]] == [True, False]
    filtered = client.post("/docs/_mget", json={"docs": [{"_id": "1", "_source": ["views"]}]}).json()
    assert filtered["docs"][0]["_source"] == {"views": 1}
    assert_error(
        client.post("/_mget", json={"ids": ["1"]}),
        400,
        "action_request_validation_exception",
        "index is missing for doc 0",
    )
    assert_error(client.post("/docs/_mget", json={}), 400, "action_request_validation_exception")


def test_documents_survive_a_restart(tmp_path: Path, settings: Settings) -> None:
    with TestClient(build_app(settings)) as client:
        make_index(client)
        bulk(
            client,
            *[
                line
                for i in range(20)
                for line in ({"index": {"_index": "docs", "_id": str(i)}}, {"title": f"doc {i}", "views": i})
            ],
        )
        client.delete("/docs/_doc/3")
        client.post("/docs/_update/4", json={"doc": {"views": 400}})
        client.put("/auto/_doc/x", json={"new_field": "v"})
        before = client.post("/docs/_search", json={"query": {"match_all": {}}, "size": 50}).json()["hits"]
        before_doc = client.get("/docs/_doc/4").json()
        seq = client.put("/docs/_doc/last", json={"title": "last"}).json()["_seq_no"]
    with TestClient(build_app(settings)) as client:
        assert count(client) == 20
        assert client.get("/docs/_doc/4").json() == before_doc
        assert client.get("/docs/_doc/3").json()["found"] is False
        assert client.get("/auto/_mapping").json()["auto"]["mappings"]["properties"]["new_field"]["type"] == "text"
        after = client.post("/docs/_search", json={"query": {"match_all": {}}, "size": 50}).json()["hits"]
        assert {h["_id"] for h in after["hits"]} == {h["_id"] for h in before["hits"]} | {"last"}
        # sequence numbers continue where they stopped
        assert client.put("/docs/_doc/after", json={"title": "x"}).json()["_seq_no"] == seq + 1
