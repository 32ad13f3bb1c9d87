"""Register -> task -> deploy -> predict -> undeploy -> delete, through HTTP with the fake backend."""

from __future__ import annotations

import threading
import time

import numpy as np
from fastapi.testclient import TestClient

from tests.support import MINILM, assert_error, wait_model_state, wait_task

ML = "/_plugins/_ml"


def register(client: TestClient, version: str = "1.0.2", fmt: str = "TORCH_SCRIPT", **extra: object) -> str:
    r = client.post(f"{ML}/models/_register", json={"name": MINILM, "version": version, "model_format": fmt, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "CREATED" and set(body) == {"task_id", "status"}
    return body["task_id"]


def register_model(client: TestClient, **kw: object) -> str:
    task = wait_task(client, register(client, **kw))  # type: ignore[arg-type]
    assert task["state"] == "COMPLETED", task
    return task["model_id"]


def deploy(client: TestClient, model_id: str) -> dict:
    r = client.post(f"{ML}/models/{model_id}/_deploy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task_type"] == "DEPLOY_MODEL" and body["status"] == "CREATED"
    task = wait_task(client, body["task_id"])
    assert task["state"] == "COMPLETED", task
    return task


def test_register_task_goes_created_to_completed(client: TestClient) -> None:
    task_id = register(client)
    seen = []
    while True:
        task = client.get(f"{ML}/tasks/{task_id}").json()
        seen.append(task["state"])
        if task["state"] != "CREATED":
            break
        time.sleep(0.005)
    assert set(seen) <= {"CREATED", "COMPLETED"}, seen  # never RUNNING: py-ml reads model_id right away
    assert task["state"] == "COMPLETED" and task["model_id"]
    assert task["task_type"] == "REGISTER_MODEL" and task["function_name"] == "TEXT_EMBEDDING"
    assert task["is_async"] is True and len(task["worker_node"]) == 1
    assert isinstance(task["create_time"], int) and "task_id" not in task

    model = client.get(f"{ML}/models/{task['model_id']}").json()
    assert model["name"] == MINILM
    assert model["algorithm"] == "TEXT_EMBEDDING"
    assert model["model_version"] == "1"  # the group's version, not the catalog's 1.0.2
    assert model["model_format"] == "TORCH_SCRIPT"
    assert model["model_state"] == "REGISTERED"
    assert len(model["model_content_hash_value"]) == 64
    assert model["model_content_size_in_bytes"] > 0 and model["total_chunks"] == 1
    assert model["model_config"]["embedding_dimension"] == 384
    assert model["model_config"]["framework_type"] == "SENTENCE_TRANSFORMERS"
    assert model["model_config"]["pooling_mode"] == "MEAN"
    assert model["model_config"]["additional_config"] == {"space_type": "l2"}
    assert isinstance(model["model_config"]["all_config"], str)
    assert "model_id" not in model and "description" not in model  # config.json's description is not copied
    assert model["is_hidden"] is False
    # ML Commons auto-creates a group named after the model.
    group = client.get(f"{ML}/model_groups/{model['model_group_id']}").json()
    assert group["name"] == MINILM and group["latest_version"] == 1
    # A second registration lands in the same group as version 2.
    second = client.get(f"{ML}/models/{register_model(client, fmt='ONNX')}").json()
    assert second["model_group_id"] == model["model_group_id"] and second["model_version"] == "2"


def test_register_into_explicit_group(client: TestClient) -> None:
    gid = client.post(f"{ML}/model_groups/_register", json={"name": "g"}).json()["model_group_id"]
    model_id = register_model(client, model_group_id=gid, description="mine")
    model = client.get(f"{ML}/models/{model_id}").json()
    assert model["model_group_id"] == gid and model["description"] == "mine"
    assert_error(client.delete(f"{ML}/model_groups/{gid}"), 409, "status_exception", "associated model versions")


def test_full_lifecycle_with_predict(client: TestClient) -> None:
    model_id = register_model(client)
    assert_error(
        client.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": ["x"]}),
        400,
        "status_exception",
        "Model not ready yet. Please deploy the model first.",
    )
    task = deploy(client, model_id)
    assert task["model_id"] == model_id
    model = client.get(f"{ML}/models/{model_id}").json()
    assert model["model_state"] == "DEPLOYED"
    assert model["current_worker_node_count"] == 1 and model["planning_worker_node_count"] == 1
    assert model["deploy_to_all_nodes"] is True and model["auto_redeploy_retry_times"] == 0
    assert isinstance(model["last_deployed_time"], int)

    r = client.post(
        f"{ML}/_predict/text_embedding/{model_id}",
        json={"text_docs": ["today is sunny", "a longer second sentence here"]},
    )
    assert r.status_code == 200, r.text
    results = r.json()["inference_results"]
    assert len(results) == 2
    names = [t["name"] for t in results[0]["output"]]
    assert names == ["input_ids", "attention_mask", "token_embeddings", "sentence_embedding"]
    ids, mask, tokens, emb = results[0]["output"]
    assert ids["data_type"] == "INT64" and ids["shape"] == [5]  # [CLS] today is sunny [SEP]
    assert mask["shape"] == ids["shape"]
    assert tokens["data_type"] == "FLOAT32" and tokens["shape"] == [ids["shape"][0], 384]
    assert emb["shape"] == [384] and len(emb["data"]) == 384
    assert abs(np.linalg.norm(emb["data"]) - 1.0) < 1e-5  # normalize_result

    only = client.post(
        f"{ML}/models/{model_id}/_predict",
        json={"text_docs": ["today is sunny"], "target_response": ["sentence_embedding"]},
    ).json()
    out = only["inference_results"][0]["output"]
    assert [t["name"] for t in out] == ["sentence_embedding"]
    assert out[0]["data"] == emb["data"]  # batch of 2 or alone: the same vector

    raw = client.post(
        f"{ML}/models/{model_id}/_predict/",
        json={
            "text_docs": ["today is sunny"],
            "return_number": False,
            "return_bytes": True,
            "target_response": ["sentence_embedding"],
        },
    ).json()["inference_results"][0]["output"][0]
    assert "data" not in raw and raw["byte_buffer"]["order"] == "LITTLE_ENDIAN"
    import base64

    decoded = np.frombuffer(base64.b64decode(raw["byte_buffer"]["array"]), dtype="<f4")
    assert np.allclose(decoded, emb["data"], atol=1e-6)

    assert_error(client.delete(f"{ML}/models/{model_id}"), 400, "status_exception", "Try undeploy model first")

    undeployed = client.post(f"{ML}/models/{model_id}/_undeploy").json()
    ((node_id, node),) = undeployed.items()
    assert node == {"stats": {model_id: "undeployed"}}
    model = client.get(f"{ML}/models/{model_id}").json()
    assert model["model_state"] == "UNDEPLOYED" and model["current_worker_node_count"] == 0
    assert "planning_worker_nodes" not in model
    assert_error(client.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["x"]}), 400)
    again = client.post(f"{ML}/models/_undeploy", json={"model_ids": [model_id]}).json()
    assert again == {node_id: {"stats": {model_id: "not_found"}}}

    deleted = client.delete(f"{ML}/models/{model_id}").json()
    assert deleted["result"] == "deleted" and deleted["_index"] == ".plugins-ml-model"
    assert_error(
        client.get(f"{ML}/models/{model_id}"),
        404,
        "status_exception",
        f"Failed to find model with the provided model id: {model_id}",
    )


def test_onnx_returns_one_pooled_tensor(client: TestClient) -> None:
    model_id = register_model(client, fmt="ONNX")
    deploy(client, model_id)
    out = client.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": ["today is sunny"]}).json()[
        "inference_results"
    ][0]["output"]
    assert len(out) == 1
    assert out[0]["name"] == "sentence_embedding" and out[0]["data_type"] == "FLOAT32" and out[0]["shape"] == [384]


def test_register_with_deploy_flag(client: TestClient) -> None:
    task = wait_task(client, register(client, version="1.0.1", **{}))
    model_id = task["model_id"]
    r = client.post(
        f"{ML}/models/_register?deploy=true", json={"name": MINILM, "version": "1.0.1", "model_format": "ONNX"}
    )
    task = wait_task(client, r.json()["task_id"])
    model = wait_model_state(client, task["model_id"], ("DEPLOYED",))
    assert model["model_state"] == "DEPLOYED"
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "REGISTERED"


def test_register_errors(client: TestClient) -> None:
    reg = f"{ML}/models/_register"
    assert_error(
        client.post(reg, json={"version": "1.0.2", "model_format": "ONNX"}),
        400,
        "illegal_argument_exception",
        "model name is null",
    )
    assert_error(client.post(reg, json={"name": MINILM, "version": "1.0.2"}), 400, reason_part="model format is null")
    assert_error(
        client.post(reg, json={"name": MINILM, "version": "1.0.2", "model_format": "PICKLE"}),
        400,
        reason_part="Wrong model format",
    )
    assert_error(
        client.post(reg, json={"name": MINILM, "version": "1.0.2", "model_format": "ONNX", "function_name": "NOPE"}),
        400,
        reason_part="Wrong function name",
    )
    assert_error(client.post(reg, json={"name": MINILM, "model_format": "ONNX"}), 400, reason_part="version")
    assert_error(
        client.post(reg, json={"name": MINILM, "version": "1.0.2", "model_format": "ONNX", "model_group_id": "nope"}),
        404,
    )
    assert_error(
        client.post(
            reg, json={"name": MINILM, "version": "1.0.2", "model_format": "ONNX", "url": "http://127.0.0.1:1/x.zip"}
        ),
        400,
        reason_part="allow_registering_model_via_url",
    )
    assert_error(client.post(reg, content=b"{"), 400, "parse_exception")
    # None of that left anything behind.
    assert client.post(f"{ML}/models/_search", json={}).json()["hits"]["total"]["value"] == 0
    assert client.post(f"{ML}/model_groups/_search", json={}).json()["hits"]["total"]["value"] == 0


def test_not_pretrained_fails_task_and_leaves_nothing(client: TestClient) -> None:
    for name, version, fmt in [
        ("huggingface/sentence-transformers/no-such-model", "1.0.0", "ONNX"),
        (MINILM, "9.9.9", "ONNX"),
        ("huggingface/sentence-transformers/distiluse-base-multilingual-cased-v1", "1.0.2", "ONNX"),
    ]:
        r = client.post(f"{ML}/models/_register", json={"name": name, "version": version, "model_format": fmt})
        task = wait_task(client, r.json()["task_id"])
        assert task["state"] == "FAILED"
        assert task["error"] == "This model is not in the pre-trained model list, please check your parameters."
        assert "model_id" not in task
    assert client.post(f"{ML}/models/_search", json={}).json()["hits"]["total"]["value"] == 0
    # Auto-created groups are removed again when registration fails.
    assert client.post(f"{ML}/model_groups/_search", json={}).json()["hits"]["total"]["value"] == 0


def test_missing_artifact_in_repository_fails_task(client: TestClient) -> None:
    # In the catalog but not in this repository (only MiniLM is published in the fake one).
    r = client.post(
        f"{ML}/models/_register",
        json={
            "name": "huggingface/sentence-transformers/all-mpnet-base-v2",
            "version": "1.0.2",
            "model_format": "ONNX",
        },
    )
    task = wait_task(client, r.json()["task_id"])
    assert task["state"] == "FAILED" and "config.json" in task["error"]
    assert client.post(f"{ML}/models/_search", json={}).json()["hits"]["total"]["value"] == 0


def test_deploy_errors(client: TestClient) -> None:
    assert_error(client.post(f"{ML}/models/nope/_deploy"), 404)
    model_id = register_model(client)
    assert_error(
        client.post(f"{ML}/models/{model_id}/_deploy", json={"node_ids": ["x"]}),
        400,
        reason_part="Don't allow custom deployment plan",
    )
    assert_error(client.post(f"{ML}/models/nope/_undeploy"), 404)
    assert_error(client.post(f"{ML}/models/_undeploy", json={"model_ids": []}), 400)


def test_concurrent_deploys_of_one_model(client: TestClient) -> None:
    model_id = register_model(client)
    svc = client.app.state.services  # type: ignore[attr-defined]
    gate = threading.Event()
    real_loader = svc.deployments.loader

    def slow_loader(spec):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return real_loader(spec)

    svc.deployments.loader = slow_loader
    first = client.post(f"{ML}/models/{model_id}/_deploy").json()
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "DEPLOYING"
    assert_error(client.post(f"{ML}/models/{model_id}/_deploy"), 409, "status_exception", first["task_id"])
    assert_error(client.delete(f"{ML}/models/{model_id}"), 400)
    gate.set()
    assert wait_task(client, first["task_id"])["state"] == "COMPLETED"
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "DEPLOYED"


def test_deploy_failure_marks_model_and_task(client: TestClient) -> None:
    model_id = register_model(client)
    svc = client.app.state.services  # type: ignore[attr-defined]

    def broken(spec):  # type: ignore[no-untyped-def]
        from modelnode.errors import ModelLoadError

        raise ModelLoadError("engine refused the model")

    svc.deployments.loader = broken
    task_id = client.post(f"{ML}/models/{model_id}/_deploy").json()["task_id"]
    task = wait_task(client, task_id)
    assert task["state"] == "FAILED" and task["error"] == "engine refused the model"
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "DEPLOY_FAILED"


def test_update_model_and_disable(client: TestClient) -> None:
    model_id = register_model(client)
    r = client.put(f"{ML}/models/{model_id}", json={"description": "updated", "is_enabled": False})
    assert r.status_code == 200 and r.json()["result"] == "updated"
    deploy(client, model_id)
    assert_error(
        client.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["x"]}),
        403,
        reason_part="Model is disabled.",
    )
    client.put(f"{ML}/models/{model_id}", json={"is_enabled": True, "rate_limiter": {"limit": "1", "unit": "MINUTES"}})
    assert client.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["x"]}).status_code == 200
    assert_error(
        client.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["x"]}),
        429,
        reason_part="Request is throttled at model level.",
    )
    assert_error(client.put(f"{ML}/models/{model_id}", json={"connector_id": "c"}), 400)
    assert_error(client.put(f"{ML}/models/{model_id}", json={"is_enabled": "maybe"}), 400)
    assert client.get(f"{ML}/models/{model_id}").json()["description"] == "updated"


def test_predict_bad_input(client: TestClient) -> None:
    model_id = register_model(client)
    deploy(client, model_id)
    p = f"{ML}/_predict/text_embedding/{model_id}"
    assert_error(client.post(p, json={"text_docs": []}), 400, "illegal_argument_exception", "Empty text docs")
    assert_error(client.post(p, json={}), 400, reason_part="Empty text docs")
    assert_error(client.post(p, json={"text_docs": "one"}), 400)
    assert_error(client.post(p, json={"text_docs": [1, 2]}), 400)
    assert_error(client.post(p, json={"text_docs": ["x"], "return_number": "often"}), 400)
    assert_error(client.post(p, json={"text_docs": ["x"], "parameters": {"content_type": "query"}}), 400)
    assert_error(client.post(p), 400, "parse_exception")
    assert_error(
        client.post(f"{ML}/_predict/not_a_function/{model_id}", json={"text_docs": ["x"]}),
        400,
        reason_part="Wrong function name",
    )
    assert_error(
        client.post(f"{ML}/_predict/text_similarity/{model_id}", json={"query_text": "q", "text_docs": ["x"]}), 400
    )
    assert_error(client.post(f"{ML}/_predict/text_embedding/nope", json={"text_docs": ["x"]}), 404)


def test_local_model_disabled(client: TestClient) -> None:
    model_id = register_model(client)
    client.put("/_cluster/settings", json={"transient": {"plugins.ml_commons.local_model.enabled": False}})
    assert_error(client.post(f"{ML}/models/{model_id}/_deploy"), 400, reason_part="Local Model is disabled")
    assert_error(
        client.post(f"{ML}/models/_register", json={"name": MINILM, "version": "1.0.2", "model_format": "ONNX"}), 400
    )


def test_cluster_health_turns_red_when_an_inference_worker_dies(client: TestClient) -> None:
    model_id = register_model(client)
    deploy(client, model_id)
    assert client.get("/_cluster/health").json()["status"] == "green"
    svc = client.app.state.services  # type: ignore[attr-defined]
    svc.deployments.active[model_id].model.close()  # what a crashed worker leaves behind
    assert client.get("/_cluster/health").json()["status"] == "red"
    client.post(f"{ML}/models/{model_id}/_undeploy")
    assert client.get("/_cluster/health").json()["status"] == "green"
