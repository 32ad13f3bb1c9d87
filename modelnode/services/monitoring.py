"""Tasks (get / search / delete), profile and stats."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelnode.errors import ModelNodeError, NotFound
from modelnode.search import dsl
from modelnode.security import Principal
from modelnode.services.common import write_response
from modelnode.services.deployments import Deployments
from modelnode.storage import GROUP_INDEX, MODEL_INDEX, TASK_INDEX, DocStore
from modelnode.tasks import TaskLog, TaskRunner


class Tasks:
    def __init__(self, docs: DocStore, log: TaskLog, runner: TaskRunner) -> None:
        self.docs = docs
        self.log = log
        self.runner = runner

    def get(self, task_id: str, caller: Principal) -> dict[str, Any]:
        task = self.log.get(task_id)
        if task is None:
            raise NotFound(f"Failed to find task with the provided task id: {task_id}")
        return task.to_source()

    def search(self, body: dict[str, Any] | None, caller: Principal) -> dict[str, Any]:
        hits = [dsl.Hit(d.id, d.source, d.seq_no, d.version) for d in self.docs.all(TASK_INDEX)]
        return dsl.search(TASK_INDEX, hits, body)

    def delete(self, task_id: str, caller: Principal) -> dict[str, Any]:
        task = self.log.get(task_id)
        if task is None:
            raise NotFound(f"Failed to find task with the provided task id: {task_id}")
        if task.state == "RUNNING":  # as ML Commons: a CREATED task may go while its work finishes
            # ML Commons throws a plain Exception here, which OpenSearch renders as a 500.
            raise ModelNodeError("Task cannot be deleted in running state. Try after some time.")
        tombstone = self.docs.delete(TASK_INDEX, task_id)
        assert tombstone is not None
        return write_response(tombstone, "deleted")


def _latency_stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "count": len(values),
        "max": float(a.max()),
        "min": float(a.min()),
        "average": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
    }


class Monitoring:
    def __init__(self, docs: DocStore, deployments: Deployments, runner: TaskRunner, node_id: str) -> None:
        self.docs = docs
        self.deployments = deployments
        self.runner = runner
        self.node_id = node_id

    def _model_profile(self, model_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(MODEL_INDEX, model_id)
        active = self.deployments.active.get(model_id)
        if doc is None or (active is None and doc.source.get("model_state") not in ("DEPLOYING",)):
            return None
        out: dict[str, Any] = {"model_state": doc.source.get("model_state")}
        if active is not None:
            out["predictor"] = f"{type(active.model).__module__}.{type(active.model).__name__}@{id(active.model):x}"
        out["target_worker_nodes"] = [self.node_id]
        out["worker_nodes"] = [self.node_id] if active is not None else []
        if active is not None and active.latencies_ms:
            stats = _latency_stats(list(active.latencies_ms))
            out["model_inference_stats"] = stats
            out["predict_request_stats"] = stats
        return out

    def profile(
        self, kind: str | None, ids: list[str] | None, body: dict[str, Any] | None, view: str
    ) -> dict[str, Any]:
        body = body or {}
        node_ids = body.get("node_ids")
        if node_ids and self.node_id not in node_ids:
            return {}
        want_models = kind in (None, "models") or body.get("return_all_models")
        want_tasks = kind in (None, "tasks") or body.get("return_all_tasks")
        model_ids = ids if kind == "models" and ids else body.get("model_ids")
        task_ids = ids if kind == "tasks" and ids else body.get("task_ids")
        models: dict[str, Any] = {}
        if want_models:
            candidates = model_ids or list(self.deployments.active) + list(self.deployments.deploying)
            for mid in dict.fromkeys(candidates):
                prof = self._model_profile(mid)
                if prof is not None:
                    models[mid] = prof
        tasks: dict[str, Any] = {}
        if want_tasks:
            for doc in self.docs.all(TASK_INDEX):
                running = doc.source.get("state") in ("CREATED", "RUNNING")
                if (task_ids and doc.id in task_ids) or (not task_ids and running):
                    tasks[doc.id] = doc.source
        if not models and not tasks:
            return {}
        if view == "model":
            return {
                "models": {
                    mid: {
                        "target_worker_nodes": p["target_worker_nodes"],
                        "worker_nodes": p["worker_nodes"],
                        "nodes": {
                            self.node_id: {
                                k: v for k, v in p.items() if k not in ("target_worker_nodes", "worker_nodes")
                            }
                        },
                    }
                    for mid, p in models.items()
                }
            }
        node: dict[str, Any] = {}
        if models:
            node["models"] = models
        if tasks:
            node["tasks"] = tasks
        return {"nodes": {self.node_id: node}}

    def stats(self, node_id: str | None, stat: str | None) -> dict[str, Any]:
        model_count = self.docs.count(MODEL_INDEX)
        cluster = {
            "ml_model_index_status": "green" if model_count else "non-existent",
            "ml_connector_index_status": "non-existent",
            "ml_config_index_status": "non-existent",
            "ml_task_index_status": "green" if self.docs.count(TASK_INDEX) else "non-existent",
            "ml_controller_index_status": "non-existent",
            "ml_model_group_index_status": "green" if self.docs.count(GROUP_INDEX) else "non-existent",
            "ml_model_count": model_count,
            "ml_connector_count": 0,
        }
        d = self.deployments
        node = {
            "ml_executing_task_count": self.runner.running_count,
            "ml_request_count": d.request_count,
            "ml_failure_count": d.failure_count,
            "ml_deployed_model_count": len(d.active),
            "ml_circuit_breaker_trigger_count": 0,
            "ml_jvm_heap_usage": 0,
        }
        wanted = set(stat.split(",")) if stat else None
        out: dict[str, Any] = {}
        if node_id is None:
            out.update({k: v for k, v in cluster.items() if wanted is None or k in wanted})
        if node_id is None or node_id in (self.node_id, "_local", "_all"):
            out["nodes"] = {self.node_id: {k: v for k, v in node.items() if wanted is None or k in wanted}}
        else:
            out["nodes"] = {}
        return out
