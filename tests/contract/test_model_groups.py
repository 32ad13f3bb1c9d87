from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import assert_error

BASE = "/_plugins/_ml/model_groups"


def register(client: TestClient, name: str, **extra: object) -> str:
    r = client.post(f"{BASE}/_register", json={"name": name, **extra})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "CREATED"
    return r.json()["model_group_id"]


def test_register_get_update_search_delete(client: TestClient) -> None:
    gid = register(client, "test_model_group", description="A model group for tests")
    group = client.get(f"{BASE}/{gid}").json()
    assert group["name"] == "test_model_group"
    assert group["latest_version"] == 0
    assert group["access"] == "public"
    assert isinstance(group["created_time"], int)
    assert "owner" not in group

    r = client.put(f"{BASE}/{gid}", json={"name": "renamed", "description": "new"})
    assert r.json() == {"status": "Updated"}
    assert client.get(f"{BASE}/{gid}").json()["description"] == "new"

    register(client, "another group")
    found = client.post(f"{BASE}/_search", json={"query": {"match": {"name": "renamed"}}}).json()
    assert [h["_id"] for h in found["hits"]["hits"]] == [gid]
    assert found["hits"]["total"] == {"value": 1, "relation": "eq"}
    hit = found["hits"]["hits"][0]
    assert {"_index", "_id", "_version", "_seq_no", "_primary_term", "_score", "_source"} <= set(hit)
    assert hit["_index"] == ".plugins-ml-model-group"
    every = client.request("GET", f"{BASE}/_search", json={"query": {"match_all": {}}, "size": 1000}).json()
    assert every["hits"]["total"]["value"] == 2
    exact = client.post(f"{BASE}/_search", json={"query": {"term": {"name.keyword": "another group"}}}).json()
    assert exact["hits"]["total"]["value"] == 1

    deleted = client.delete(f"{BASE}/{gid}").json()
    assert deleted["result"] == "deleted" and deleted["_id"] == gid and deleted["_index"] == ".plugins-ml-model-group"
    assert_error(client.get(f"{BASE}/{gid}"), 404, "status_exception", gid)


def test_group_errors(client: TestClient) -> None:
    gid = register(client, "dup")
    assert_error(
        client.post(f"{BASE}/_register", json={"name": "dup"}),
        400,
        "illegal_argument_exception",
        f"already being used by a model group with ID: {gid}",
    )
    assert_error(client.post(f"{BASE}/_register", json={"description": "no name"}), 400)
    assert_error(client.post(f"{BASE}/_register", json={"name": 5}), 400)
    assert_error(
        client.post(f"{BASE}/_register", json={"name": "x", "access_mode": "public"}),
        400,
        "illegal_argument_exception",
        "Security plugin or model access control is disabled",
    )
    other = register(client, "other")
    assert_error(client.put(f"{BASE}/{other}", json={"name": "dup"}), 400, "illegal_argument_exception")
    assert client.get(f"{BASE}/{other}").json()["name"] == "other"
    assert_error(client.put(f"{BASE}/missing", json={"name": "z"}), 404)
    assert_error(client.delete(f"{BASE}/missing"), 404)
    assert_error(client.post(f"{BASE}/_search", json={"query": {"nope": {}}}), 400, "parsing_exception")
    assert_error(client.post(f"{BASE}/_search", json={"aggs": {}}), 400, "parsing_exception")
