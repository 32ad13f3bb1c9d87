"""Restart semantics with two app instances on one data directory (the e2e suite kills a real
process; this one checks the bookkeeping quickly)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from tests.contract.test_model_lifecycle import deploy, register_model
from tests.support import wait_model_state

ML = "/_plugins/_ml"


def test_everything_survives_and_deployed_models_come_back(settings: Settings) -> None:
    with TestClient(build_app(settings)) as c:
        c.put(
            "/_cluster/settings",
            json={
                "persistent": {"plugins.ml_commons.only_run_on_ml_node": False},
                "transient": {"plugins.ml_commons.max_model_on_node": 4},
            },
        )
        gid = c.post(f"{ML}/model_groups/_register", json={"name": "kept"}).json()["model_group_id"]
        deployed = register_model(c)
        registered = register_model(c, fmt="ONNX")
        deploy(c, deployed)
        before = c.post(f"{ML}/models/{deployed}/_predict", json={"text_docs": ["same text"]}).json()

    with TestClient(build_app(settings)) as c:
        flat = c.get("/_cluster/settings?flat_settings=true").json()
        assert flat["persistent"] == {"plugins.ml_commons.only_run_on_ml_node": "false"}
        assert flat["transient"] == {}  # transient settings do not survive a restart, as in OpenSearch
        assert c.get(f"{ML}/model_groups/{gid}").json()["name"] == "kept"
        assert c.get(f"{ML}/models/{registered}").json()["model_state"] == "REGISTERED"
        wait_model_state(c, deployed, ("DEPLOYED",))
        after = c.post(f"{ML}/models/{deployed}/_predict", json={"text_docs": ["same text"]}).json()
        assert after == before
        redeploys = c.post(
            f"{ML}/tasks/_search",
            json={
                "query": {
                    "bool": {"filter": [{"term": {"model_id": deployed}}, {"term": {"task_type": "DEPLOY_MODEL"}}]}
                }
            },
        ).json()
        assert redeploys["hits"]["total"]["value"] == 2  # the original deploy and the auto-redeploy


def test_redeploy_disabled_leaves_models_undeployed(settings: Settings) -> None:
    with TestClient(build_app(settings)) as c:
        c.put("/_cluster/settings", json={"persistent": {"plugins.ml_commons.model_auto_redeploy.enable": False}})
        model_id = register_model(c)
        deploy(c, model_id)
    with TestClient(build_app(settings)) as c:
        assert c.get(f"{ML}/models/{model_id}").json()["model_state"] == "UNDEPLOYED"


def test_unfinished_tasks_fail_after_restart(settings: Settings) -> None:
    with TestClient(build_app(settings)) as c:
        svc = c.app.state.services  # type: ignore[attr-defined]
        from modelnode.storage import MLTask

        svc.tasks.log.save("stuck", MLTask(task_type="DEPLOY_MODEL", state="RUNNING", worker_node=["n"]))
    with TestClient(build_app(settings)) as c:
        task = c.get(f"{ML}/tasks/stuck").json()
        assert task["state"] == "FAILED" and "restarted" in task["error"]
