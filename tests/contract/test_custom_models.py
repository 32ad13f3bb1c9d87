"""Custom models: register by URL (gated, trusted regex, hash) and by local chunks (_register_meta)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import assert_error, fake_artifact_zip, wait_task

ML = "/_plugins/_ml"
CONFIG = {
    "model_type": "bert",
    "embedding_dimension": 384,
    "framework_type": "sentence_transformers",
    "pooling_mode": "mean",
    "normalize_result": True,
}


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def allow_url(client: TestClient) -> None:
    r = client.put(
        "/_cluster/settings", json={"persistent": {"plugins.ml_commons.allow_registering_model_via_url": True}}
    )
    assert r.status_code == 200


def test_register_by_url(client: TestClient, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    data = fake_artifact_zip("ONNX", stem="my-model")
    (root / "my.zip").write_bytes(data)
    body = {
        "name": "my-model",
        "version": "1.0.0",
        "model_format": "ONNX",
        "function_name": "TEXT_EMBEDDING",
        "model_config": CONFIG,
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
        "url": f"{base}/my.zip",
    }
    assert_error(client.post(f"{ML}/models/_register", json=body), 400, reason_part="allow_registering_model_via_url")
    allow_url(client)
    task = wait_task(client, client.post(f"{ML}/models/_register", json=body).json()["task_id"])
    assert task["state"] == "COMPLETED", task
    model = client.get(f"{ML}/models/{task['model_id']}").json()
    assert model["model_config"]["pooling_mode"] == "MEAN"
    assert model["model_config"]["framework_type"] == "SENTENCE_TRANSFORMERS"
    assert model["model_content_hash_value"] == body["model_content_hash_value"]
    deploy = client.post(f"{ML}/models/{task['model_id']}/_deploy").json()
    assert wait_task(client, deploy["task_id"])["state"] == "COMPLETED"
    out = client.post(f"{ML}/_predict/text_embedding/{task['model_id']}", json={"text_docs": ["hi"]}).json()
    assert out["inference_results"][0]["output"][0]["shape"] == [384]


def test_register_by_url_failures(client: TestClient, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    data = fake_artifact_zip("ONNX")
    (root / "m.zip").write_bytes(data)
    allow_url(client)
    good = {
        "name": "m",
        "version": "1",
        "model_format": "ONNX",
        "model_config": CONFIG,
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
        "url": f"{base}/m.zip",
    }

    def failed(body: dict) -> str:
        task = wait_task(client, client.post(f"{ML}/models/_register", json=body).json()["task_id"])
        assert task["state"] == "FAILED", task
        return task["error"]

    assert "Hash code need to be provided" in failed({**good, "model_content_hash_value": None})
    assert "model content changed" in failed({**good, "model_content_hash_value": "0" * 64})
    assert "404" in failed({**good, "url": f"{base}/missing.zip"})
    broken = fake_artifact_zip("TORCH_SCRIPT")  # a .pt inside an ONNX registration
    (root / "wrong.zip").write_bytes(broken)
    assert failed({**good, "url": f"{base}/wrong.zip", "model_content_hash_value": hashlib.sha256(broken).hexdigest()})
    assert client.post(f"{ML}/models/_search", json={}).json()["hits"]["total"]["value"] == 0
    assert_error(
        client.post(f"{ML}/models/_register", json={**good, "model_config": None}),
        400,
        reason_part="model config is null",
    )
    assert_error(
        client.post(f"{ML}/models/_register", json={**good, "model_config": {"model_type": "bert"}}),
        400,
        reason_part="embedding dimension is null",
    )
    client.put(
        "/_cluster/settings",
        json={"persistent": {"plugins.ml_commons.trusted_url_regex": "^https://models\\.example\\.com/.*"}},
    )
    assert_error(client.post(f"{ML}/models/_register", json=good), 400, reason_part="URL can't match trusted url regex")


def test_register_meta_and_chunks(client: TestClient) -> None:
    data = fake_artifact_zip("TORCH_SCRIPT")
    half = len(data) // 2
    meta = {
        "name": "local-model",
        "version": "1.0.0",
        "model_format": "TORCH_SCRIPT",
        "function_name": "TEXT_EMBEDDING",
        "model_config": CONFIG,
        "total_chunks": 2,
        "model_content_size_in_bytes": len(data),
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
    }
    assert_error(
        client.post(f"{ML}/models/_register_meta", json=meta), 400, reason_part="allow_registering_model_via_local_file"
    )
    client.put(
        "/_cluster/settings", json={"persistent": {"plugins.ml_commons.allow_registering_model_via_local_file": True}}
    )
    r = client.post(f"{ML}/models/meta", json=meta)
    assert r.status_code == 200 and r.json()["status"] == "CREATED", r.text
    model_id = r.json()["model_id"]
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "REGISTERING"
    assert_error(client.post(f"{ML}/models/{model_id}/chunk/2", content=data[:half]), 400, reason_part="out of range")
    assert_error(client.post(f"{ML}/models/{model_id}/chunk/0", content=b""), 400)
    assert client.post(f"{ML}/models/{model_id}/chunk/0", content=data[:half]).json() == {"status": "Uploaded"}
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "REGISTERING"
    assert client.post(f"{ML}/models/{model_id}/upload_chunk/1", content=data[half:]).json() == {"status": "Uploaded"}
    model = client.get(f"{ML}/models/{model_id}").json()
    assert model["model_state"] == "REGISTERED" and model["total_chunks"] == 2
    assert_error(client.post(f"{ML}/models/{model_id}/chunk/0", content=b"x"), 400)
    deploy = client.post(f"{ML}/models/{model_id}/_deploy").json()
    assert wait_task(client, deploy["task_id"])["state"] == "COMPLETED"


def test_chunks_with_wrong_content(client: TestClient) -> None:
    client.put(
        "/_cluster/settings", json={"persistent": {"plugins.ml_commons.allow_registering_model_via_local_file": True}}
    )
    data = fake_artifact_zip("TORCH_SCRIPT")
    meta = {
        "name": "x",
        "version": "1",
        "model_format": "TORCH_SCRIPT",
        "model_config": CONFIG,
        "total_chunks": 1,
        "model_content_size_in_bytes": len(data),
        "model_content_hash_value": "a" * 64,
    }
    model_id = client.post(f"{ML}/models/_register_meta", json=meta).json()["model_id"]
    assert_error(client.post(f"{ML}/models/{model_id}/chunk/0", content=data), 400, reason_part="model content changed")
    assert client.get(f"{ML}/models/{model_id}").json()["model_state"] == "REGISTERING"
    for bad in (
        {**meta, "total_chunks": 0},
        {**meta, "model_content_hash_value": None},  # any non-null hash is accepted, as in ML Commons
        {**meta, "model_config": None},
    ):
        assert_error(client.post(f"{ML}/models/_register_meta", json=bad), 400)
    assert json.loads(client.delete(f"{ML}/models/{model_id}").text)["result"] == "deleted"
