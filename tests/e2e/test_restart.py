"""Crash and restart a real ``modelnode serve`` process on the same data directory and port."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ArtifactHost, ServerFactory, ServerProcess
from tests.support import MINILM, wait_model_state, wait_task

pytestmark = pytest.mark.slow

ML = "/_plugins/_ml"
REGISTERING = {"query": {"term": {"model_state": "REGISTERING"}}}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def register(http: httpx.Client, **extra: Any) -> str:
    body = {"name": MINILM, "version": "1.0.2", "model_format": "TORCH_SCRIPT", **extra}
    return ok(http.post(f"{ML}/models/_register", json=body))["task_id"]


def register_and_wait(http: httpx.Client, **extra: Any) -> tuple[str, str]:
    task_id = register(http, **extra)
    task = wait_task(http, task_id)
    assert task["state"] == "COMPLETED", task
    return task_id, task["model_id"]


def deploy_and_wait(http: httpx.Client, model_id: str) -> str:
    task_id = ok(http.post(f"{ML}/models/{model_id}/_deploy"))["task_id"]
    task = wait_task(http, task_id)
    assert task["state"] == "COMPLETED", task
    return task_id


def search(http: httpx.Client, what: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    return ok(http.post(f"{ML}/{what}/_search", json=body))["hits"]["hits"]


def test_state_survives_sigkill_and_deployed_model_comes_back(server: ServerProcess) -> None:
    http = server.http
    group_id = ok(http.post(f"{ML}/model_groups/_register", json={"name": "e2e-restart", "description": "kept"}))[
        "model_group_id"
    ]
    register_task, model_id = register_and_wait(http, model_group_id=group_id)
    deploy_task = deploy_and_wait(http, model_id)
    predict_body = {"text_docs": ["today is sunny", "the same text after a crash"]}
    before = http.post(f"{ML}/models/{model_id}/_predict", json=predict_body)
    assert before.status_code == 200, before.text
    before_filtered = ok(
        http.post(
            f"{ML}/_predict/text_embedding/{model_id}",
            json={"text_docs": ["today is sunny"], "target_response": ["sentence_embedding"]},
        )
    )
    ok(
        http.put(
            "/_cluster/settings",
            json={
                "persistent": {"plugins.ml_commons.only_run_on_ml_node": False},
                "transient": {"plugins.ml_commons.max_model_on_node": 7},
            },
        )
    )
    flat = ok(http.get("/_cluster/settings", params={"flat_settings": "true"}))
    assert flat["transient"] == {"plugins.ml_commons.max_model_on_node": "7"}
    group_before = ok(http.get(f"{ML}/model_groups/{group_id}"))
    model_before = ok(http.get(f"{ML}/models/{model_id}"))
    assert model_before["model_state"] == "DEPLOYED"
    tasks_before = {t: ok(http.get(f"{ML}/tasks/{t}")) for t in (register_task, deploy_task)}
    port = server.port

    server.kill()
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/", trust_env=False, timeout=2)
    server.start()
    assert server.port == port
    http = server.http

    # Everything that was acknowledged before the crash is still there ...
    assert ok(http.get(f"{ML}/model_groups/{group_id}")) == group_before
    for task_id, task in tasks_before.items():
        assert ok(http.get(f"{ML}/tasks/{task_id}")) == task
    flat = ok(http.get("/_cluster/settings", params={"flat_settings": "true"}))
    assert flat["persistent"] == {"plugins.ml_commons.only_run_on_ml_node": "false"}
    # ... except transient settings, which do not survive a restart (as in OpenSearch).
    assert flat["transient"] == {}

    # The model redeploys by itself (model_auto_redeploy.enable defaults to true).
    model = wait_model_state(http, model_id, ("DEPLOYED",), timeout=30)
    for key in ("name", "model_group_id", "algorithm", "model_version", "model_format", "created_time"):
        assert model[key] == model_before[key], key
    for key in ("model_content_hash_value", "model_content_size_in_bytes", "model_config", "last_registered_time"):
        assert model[key] == model_before[key], key
    assert model["current_worker_node_count"] == 1
    assert model["last_deployed_time"] >= model_before["last_deployed_time"]

    redeploys = search(
        http,
        "tasks",
        {"query": {"bool": {"filter": [{"term": {"model_id": model_id}}, {"term": {"task_type": "DEPLOY_MODEL"}}]}}},
    )
    assert {h["_id"] for h in redeploys} > {deploy_task}, "auto-redeploy should be a DEPLOY_MODEL task of its own"
    new_task = next(h for h in redeploys if h["_id"] != deploy_task)
    assert wait_task(http, new_task["_id"])["state"] == "COMPLETED"

    # Same artifact, same backend: byte-for-byte the same predictions as before the crash.
    after = http.post(f"{ML}/models/{model_id}/_predict", json=predict_body)
    assert after.status_code == 200, after.text
    assert after.content == before.content
    assert (
        ok(
            http.post(
                f"{ML}/_predict/text_embedding/{model_id}",
                json={"text_docs": ["today is sunny"], "target_response": ["sentence_embedding"]},
            )
        )
        == before_filtered
    )
    assert search(http, "models", REGISTERING) == []


def _partials(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and p.name.endswith(".partial")]


def test_register_interrupted_by_sigkill_fails_cleanly(server_factory: ServerFactory, fake_repo: Path) -> None:
    with ArtifactHost(fake_repo) as host:
        server = server_factory(host.url).start()
        http = server.http
        host.stall.set()
        task_id = register(http)
        assert host.zip_requested.wait(timeout=15), f"the zip was never requested: {host.requests}"
        # In flight: the task is not finished and a half-registered model exists.
        assert ok(http.get(f"{ML}/tasks/{task_id}"))["state"] in ("CREATED", "RUNNING")
        half = search(http, "models", REGISTERING)
        assert len(half) == 1 and half[0]["_source"]["name"] == MINILM

        server.kill()
        host.stall.clear()
        host.release()
        server.start()
        http = server.http

        task = ok(http.get(f"{ML}/tasks/{task_id}"))
        assert task["state"] == "FAILED", task
        assert "restart" in task["error"], task
        assert "model_id" not in task, task
        assert search(http, "models", REGISTERING) == []
        assert search(http, "models", {"query": {"match_all": {}}}) == []
        # No model_group_id was given, so a group named after the model was auto-created for the
        # registration; like any failed registration, the interrupted one must take it back.
        assert search(http, "model_groups", {"query": {"match_all": {}}}) == []
        assert _partials(server.data_dir) == [], "a partial download survived the restart"

        # The repository works again: a fresh registration succeeds and serves predictions.
        _, model_id = register_and_wait(http)
        assert ok(http.get(f"{ML}/models/{model_id}"))["model_version"] == "1"
        deploy_and_wait(http, model_id)
        result = ok(http.post(f"{ML}/models/{model_id}/_predict", json={"text_docs": ["after the crash"]}))
        assert len(result["inference_results"]) == 1
        assert [m["_id"] for m in search(http, "models", {"query": {"match_all": {}}})] == [model_id]


SIGTERM_LIMIT_S = 5.0


def sigterm_cleanly(server: ServerProcess) -> None:
    """SIGTERM: exit status 0 (uvicorn on its own re-raises the signal after shutdown: -15, or 143
    in a shell, which a supervisor reads as a crash), within a few seconds, after the lifespan
    shutdown ran. A process still alive after the limit is SIGKILLed and the test fails."""
    try:
        code, seconds = server.terminate(timeout=SIGTERM_LIMIT_S + 1)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {SIGTERM_LIMIT_S + 1:.0f}s after SIGTERM\n{server.log_tail(20)}")
    log = server.log_tail(20)
    assert code == 0, f"exit code {code}\n{log}"
    assert seconds < SIGTERM_LIMIT_S, f"SIGTERM took {seconds:.1f}s\n{log}"
    assert "Application shutdown complete" in log and "Finished server process" in log, log


def test_sigterm_shuts_down_cleanly(server: ServerProcess) -> None:
    http = server.http
    _, model_id = register_and_wait(http)
    deploy_and_wait(http, model_id)

    sigterm_cleanly(server)

    # A clean stop keeps the deployment intent: the model comes back by itself.
    server.start()
    wait_model_state(server.http, model_id, ("DEPLOYED",), timeout=30)


def test_sigterm_during_a_stalled_download_exits_promptly(server_factory: ServerFactory, fake_repo: Path) -> None:
    """A blocked download thread cannot be cancelled; shutdown must not wait for it (with
    ``asyncio.to_thread``, ``asyncio.run`` joins the default executor on exit, and the download's
    socket timeout is a minute)."""
    with ArtifactHost(fake_repo) as host:
        server = server_factory(host.url).start()
        host.stall.set()
        task_id = register(server.http)
        assert host.zip_requested.wait(timeout=15), f"the zip was never requested: {host.requests}"

        sigterm_cleanly(server)

        host.stall.clear()
        host.release()
        server.start()
        task = ok(server.http.get(f"{ML}/tasks/{task_id}"))
        assert task["state"] == "FAILED", task
        assert "shut down" in task["error"] or "restart" in task["error"], task
        assert search(server.http, "models", {"query": {"match_all": {}}}) == []
        assert _partials(server.data_dir) == []
