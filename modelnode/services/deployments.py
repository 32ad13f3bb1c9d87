"""Deploy / undeploy / predict: the models loaded in this process, and auto-redeploy on start.

Deployment intent is the model document's state: a model that was DEPLOYED when the process stopped
is redeployed at start-up when ``plugins.ml_commons.model_auto_redeploy.enable`` is true.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelnode import runtime
from modelnode.config import Settings
from modelnode.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IllegalArgument,
    LimitExceeded,
    ModelLoadError,
    TooManyRequests,
)
from modelnode.security import Principal
from modelnode.services.cluster_settings import ClusterSettings
from modelnode.services.common import new_id, now_ms
from modelnode.services.models import Models
from modelnode.services.predict_io import parse_input, render_outputs
from modelnode.storage import MODEL_INDEX, MLModel, MLTask
from modelnode.tasks import TaskLog, TaskRunner, run_in_thread

log = logging.getLogger("modelnode.deploy")

DEPLOYABLE = ("REGISTERED", "DEPLOYED", "UNDEPLOYED", "DEPLOY_FAILED", "PARTIALLY_DEPLOYED")
_UNITS = {
    "NANOSECONDS": 1e-9,
    "MICROSECONDS": 1e-6,
    "MILLISECONDS": 1e-3,
    "SECONDS": 1,
    "MINUTES": 60,
    "HOURS": 3600,
    "DAYS": 86400,
}

Loader = Callable[[runtime.ModelSpec], runtime.DeployedModel]


class RateLimiter:
    """ML Commons' model-level ``rate_limiter`` ({"limit": "2", "unit": "SECONDS"}): a token bucket."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.capacity = float(spec.get("limit", 0))
        self.per_second = self.capacity / _UNITS.get(str(spec.get("unit", "SECONDS")).upper(), 1)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class Active:
    model: runtime.DeployedModel
    function_name: str
    latencies_ms: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=100))
    limiter: RateLimiter | None = None
    limiter_spec: dict[str, Any] | None = None


class Deployments:
    def __init__(
        self,
        settings: Settings,
        models: Models,
        cluster: ClusterSettings,
        tasks: TaskLog,
        runner: TaskRunner,
        node_id: str,
        loader: Loader = runtime.load,
    ) -> None:
        self.settings = settings
        self.models = models
        self.cluster = cluster
        self.tasks = tasks
        self.runner = runner
        self.node_id = node_id
        self.loader = loader
        self.active: dict[str, Active] = {}
        self.deploying: dict[str, str] = {}  # model_id -> task_id
        self.request_count = 0
        self.failure_count = 0
        # Called with a model id when it is undeployed (e.g. to forget cached query embeddings).
        self.on_undeploy: list[Callable[[str], None]] = []

    # -- deploy ---------------------------------------------------------------------------------
    def deploy(self, model_id: str, body: dict[str, Any] | None, caller: Principal) -> dict[str, Any]:
        self.models.check_local_enabled()
        model = self.models.require(model_id)
        node_ids = (body or {}).get("node_ids")
        if node_ids:
            if not self.cluster.ml("allow_custom_deployment_plan"):
                raise IllegalArgument("Don't allow custom deployment plan")
            if not isinstance(node_ids, list) or set(node_ids) - {self.node_id}:
                raise IllegalArgument(f"no eligible node found: this node is {self.node_id}")
        if model_id in self.deploying:
            raise Conflict(
                f"Model {model_id} is already being deployed by task {self.deploying[model_id]}. "
                "Poll that task, or GET the model until model_state is DEPLOYED."
            )
        if model.model_state not in DEPLOYABLE:
            raise BadRequest(
                f"Model {model_id} is {model.model_state} and cannot be deployed yet; wait until "
                "it is REGISTERED (GET the register task until its state is COMPLETED)."
            )
        limit = self.cluster.ml("max_model_on_node")
        if model_id not in self.active and len(self.active) >= limit:
            raise LimitExceeded(
                f"Exceed max model per node limit: {limit} models are deployed. Undeploy one, or "
                "raise plugins.ml_commons.max_model_on_node."
            )
        task_id = self.start_deploy(model_id)
        return {"task_id": task_id, "task_type": "DEPLOY_MODEL", "status": "CREATED"}

    def start_deploy(self, model_id: str) -> str:
        model = self.models.require(model_id)
        task_id = new_id()
        with self.models.docs.db.transaction():
            self.tasks.save(
                task_id,
                MLTask(
                    model_id=model_id,
                    task_type="DEPLOY_MODEL",
                    function_name=model.algorithm,
                    state="CREATED",
                    worker_node=[self.node_id],
                    create_time=now_ms(),
                    is_async=True,
                ),
            )
            model.model_state = "DEPLOYING"
            model.planning_worker_node_count = 1
            model.planning_worker_nodes = [self.node_id]
            model.deploy_to_all_nodes = True
            self.models.save(model_id, model)
        self.deploying[model_id] = task_id

        def failed(exc: BaseException) -> None:
            self.deploying.pop(model_id, None)
            with self.models.docs.db.transaction():
                m = self.models.find(model_id)
                if m is not None:
                    m.model_state = "DEPLOY_FAILED"
                    m.current_worker_node_count = 0
                    self.models.save(model_id, m)

        self.runner.start(task_id, lambda: self._deploy_job(task_id, model_id), show_running=True, on_failure=failed)
        return task_id

    async def _deploy_job(self, task_id: str, model_id: str) -> None:
        model = self.models.require(model_id)
        if model_id not in self.active:
            artifact = self.models.artifact_dir(model)
            if artifact is None:
                raise ModelLoadError(
                    f"The artifact of model {model_id} is missing from the local store; register the model again."
                )
            spec = runtime.ModelSpec(
                artifact_dir=artifact,
                model_format=model.model_format or "TORCH_SCRIPT",
                function_name=model.algorithm or "TEXT_EMBEDDING",
                model_config=model.model_config or {},
                backend=self.settings.inference_backend,
                device=self.settings.device,
            )
            loaded = await run_in_thread(self.loader, spec)
            self.active[model_id] = Active(loaded, spec.function_name)
        self.active[model_id].latencies_ms = collections.deque(
            self.active[model_id].latencies_ms, maxlen=max(1, int(self.cluster.ml("monitoring_request_count")))
        )
        with self.models.docs.db.transaction():
            model = self.models.require(model_id)
            model.model_state = "DEPLOYED"
            model.last_deployed_time = now_ms()
            model.current_worker_node_count = 1
            model.planning_worker_node_count = 1
            model.planning_worker_nodes = [self.node_id]
            model.deploy_to_all_nodes = True
            model.auto_redeploy_retry_times = 0
            self.models.save(model_id, model)
            self.tasks.record(task_id, state="COMPLETED")
        self.deploying.pop(model_id, None)
        log.info("deployed model %s", model_id)

    # -- undeploy -------------------------------------------------------------------------------
    def undeploy(self, model_ids: list[str], node_ids: list[str] | None, caller: Principal) -> dict[str, Any]:
        if node_ids and self.node_id not in node_ids:
            return {}
        stats: dict[str, str] = {}
        for model_id in model_ids:
            model = self.models.require(model_id) if len(model_ids) == 1 else self.models.find(model_id)
            active = self.active.pop(model_id, None)
            if active is not None:
                active.model.close()
            for listener in self.on_undeploy:
                listener(model_id)
            if model is None:
                continue
            if active is None and model.model_state not in ("DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING"):
                stats[model_id] = "not_found"
                continue
            with self.models.docs.db.transaction():
                model.model_state = "UNDEPLOYED"
                model.planning_worker_nodes = []
                model.planning_worker_node_count = 0
                model.current_worker_node_count = 0
                model.deploy_to_all_nodes = False
                model.last_undeployed_time = now_ms()
                self.models.save(model_id, model)
            stats[model_id] = "undeployed"
        return {self.node_id: {"stats": stats}} if stats else {}

    # -- predict --------------------------------------------------------------------------------
    async def predict(
        self, algorithm: str | None, model_id: str, body: dict[str, Any], caller: Principal
    ) -> dict[str, Any]:
        self.models.check_local_enabled()
        return await self.predict_model(algorithm, model_id, self.models.require(model_id), body)

    async def predict_model(
        self, algorithm: str | None, model_id: str, model: MLModel, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``predict`` for a model record the caller has already read (the search Encoder does)."""
        if model.is_enabled is False:
            raise Forbidden("Model is disabled.")
        function_name = model.algorithm or "TEXT_EMBEDDING"
        inp, filters = parse_input(algorithm, function_name, body)
        active = self.active.get(model_id)
        if active is None or model.model_state not in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
            raise BadRequest("Model not ready yet. Please deploy the model first.")
        if model.rate_limiter:
            if active.limiter is None or active.limiter_spec != model.rate_limiter:
                active.limiter, active.limiter_spec = RateLimiter(model.rate_limiter), dict(model.rate_limiter)
            if not active.limiter.allow():
                raise TooManyRequests("Request is throttled at model level.")
        self.request_count += 1
        start = time.perf_counter()
        try:
            outputs = await active.model.predict(inp)
        except Exception:
            self.failure_count += 1
            raise
        active.latencies_ms.append((time.perf_counter() - start) * 1000)
        return render_outputs(outputs, filters)

    def health(self) -> str:
        """``red`` when a deployed model's inference worker died (its predicts can only fail), so
        monitoring that watches ``_cluster/health`` notices; ``green`` otherwise."""
        return "red" if any(not getattr(a.model, "healthy", True) for a in self.active.values()) else "green"

    # -- lifecycle ------------------------------------------------------------------------------
    def redeploy_on_start(self) -> list[str]:
        """Models that were deployed (or deploying) when the last process stopped."""
        redeployed = []
        enabled = self.cluster.ml("model_auto_redeploy.enable")
        for doc in self.models.docs.all(MODEL_INDEX):
            if doc.source.get("model_state") not in ("DEPLOYED", "DEPLOYING", "PARTIALLY_DEPLOYED"):
                continue
            if enabled and self.settings.redeploy_on_start:
                self.start_deploy(doc.id)
                redeployed.append(doc.id)
            else:
                model = self.models.require(doc.id)
                model.model_state = "UNDEPLOYED"
                model.current_worker_node_count = 0
                model.planning_worker_node_count = 0
                model.planning_worker_nodes = []
                model.deploy_to_all_nodes = False
                self.models.save(doc.id, model)
        return redeployed

    def close(self) -> None:
        for active in self.active.values():
            active.model.close()
        self.active.clear()
