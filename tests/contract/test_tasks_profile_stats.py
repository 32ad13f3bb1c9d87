from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from tests.contract.test_model_lifecycle import deploy, register, register_model
from tests.support import assert_error, wait_task

ML = "/_plugins/_ml"


def test_task_search_and_delete(client: TestClient) -> None:
    task_id = register(client)
    wait_task(client, task_id)
    found = client.request(
        "GET", f"{ML}/tasks/_search", json={"query": {"term": {"task_type": "REGISTER_MODEL"}}}
    ).json()
    assert [h["_id"] for h in found["hits"]["hits"]] == [task_id]
    assert found["hits"]["hits"][0]["_index"] == ".plugins-ml-task"
    by_state = client.post(
        f"{ML}/tasks/_search",
        json={
            "query": {
                "bool": {"filter": [{"term": {"state": "COMPLETED"}}, {"terms": {"function_name": ["TEXT_EMBEDDING"]}}]}
            },
            "sort": [{"create_time": {"order": "desc"}}],
        },
    ).json()
    assert by_state["hits"]["total"]["value"] == 1 and by_state["hits"]["hits"][0]["sort"]
    r = client.delete(f"{ML}/tasks/{task_id}")
    assert r.status_code == 200 and r.json()["result"] == "deleted"
    assert_error(client.get(f"{ML}/tasks/{task_id}"), 404, "status_exception", "Failed to find task")
    assert_error(client.delete(f"{ML}/tasks/{task_id}"), 404)


def test_model_search_shapes(client: TestClient) -> None:
    model_id = register_model(client)
    r = client.post(
        f"{ML}/models/_search",
        json={
            "query": {"bool": {"must_not": {"exists": {"field": "chunk_number"}}}},
            "sort": [{"created_time": "desc"}],
            "size": 5,
            "_source": {"excludes": ["model_config"]},
        },
    ).json()
    hit = r["hits"]["hits"][0]
    assert hit["_id"] == model_id and "model_config" not in hit["_source"] and hit["_score"] is None
    assert (
        client.post(f"{ML}/models/_search", json={"query": {"term": {"algorithm": "TEXT_EMBEDDING"}}}).json()["hits"][
            "total"
        ]["value"]
        == 1
    )
    assert (
        client.post(f"{ML}/models/_search", json={"query": {"match": {"name": "MiniLM"}}}).json()["hits"]["total"][
            "value"
        ]
        == 1
    )
    assert (
        client.post(f"{ML}/models/_search", json={"query": {"ids": {"values": [model_id]}}, "from": 1}).json()["hits"][
            "hits"
        ]
        == []
    )
    assert_error(client.post(f"{ML}/models/_search", json={"size": "lots"}), 400)


def test_profile_and_stats(client: TestClient) -> None:
    assert client.get(f"{ML}/profile").json() == {}
    model_id = register_model(client)
    deploy(client, model_id)
    for _ in range(3):
        client.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["x"]})
    prof = client.get(f"{ML}/profile/models/{model_id}").json()
    ((node_id, node),) = prof["nodes"].items()
    entry = node["models"][model_id]
    assert entry["model_state"] == "DEPLOYED" and entry["worker_nodes"] == [node_id]
    assert entry["predict_request_stats"]["count"] == 3
    by_model = client.get(f"{ML}/profile/models?view=model").json()
    assert by_model["models"][model_id]["nodes"][node_id]["model_state"] == "DEPLOYED"
    assert (
        client.request("GET", f"{ML}/profile/models", json={"node_ids": ["other"], "return_all_models": True}).json()
        == {}
    )
    assert_error(client.get(f"{ML}/profile?view=cluster"), 400)

    stats = client.get(f"{ML}/stats").json()
    assert stats["ml_model_count"] == 1 and stats["ml_model_index_status"] == "green"
    assert stats["nodes"][node_id]["ml_deployed_model_count"] == 1
    assert stats["nodes"][node_id]["ml_request_count"] == 3
    one = client.get(f"{ML}/stats/ml_model_count").json()
    assert one == {"ml_model_count": 1, "nodes": {node_id: {}}}
    assert "ml_model_count" not in client.get(f"{ML}/{node_id}/stats").json()


def test_a_created_register_task_can_be_deleted_and_the_work_still_finishes(client: TestClient) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    gate = threading.Event()
    store_add = svc.models.store.add

    def slow_add(*args, **kwargs):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return store_add(*args, **kwargs)

    svc.models.store.add = slow_add
    task_id = register(client)
    assert client.delete(f"{ML}/tasks/{task_id}").json()["result"] == "deleted"  # stored state: CREATED
    gate.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        hits = client.post(f"{ML}/models/_search", json={"query": {"term": {"model_state": "REGISTERED"}}}).json()
        if hits["hits"]["total"]["value"] == 1:
            break
        time.sleep(0.02)
    assert hits["hits"]["total"]["value"] == 1
    assert_error(client.get(f"{ML}/tasks/{task_id}"), 404)
