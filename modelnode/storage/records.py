"""Typed records of the ML system indices. Field order is the order ML Commons' ``toXContent``
writes, and ``None`` fields are omitted, so ``to_source()`` is the wire ``_source``."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any, Self

MODEL_INDEX = ".plugins-ml-model"
GROUP_INDEX = ".plugins-ml-model-group"
TASK_INDEX = ".plugins-ml-task"


class _Record:
    def to_source(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}  # type: ignore[arg-type]

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Self:
        names = _field_names(cls)
        return cls(**{k: v for k, v in source.items() if k in names})


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@dataclass
class MLModelGroup(_Record):
    name: str
    latest_version: int = 0
    description: str | None = None
    backend_roles: list[str] | None = None
    owner: dict[str, Any] | None = None
    access: str | None = "public"
    created_time: int | None = None
    last_updated_time: int | None = None


@dataclass
class MLModel(_Record):
    name: str
    model_group_id: str | None = None
    algorithm: str | None = None
    model_version: str | None = None
    description: str | None = None
    model_format: str | None = None
    model_state: str | None = None
    model_content_size_in_bytes: int | None = None
    model_content_hash_value: str | None = None
    model_config: dict[str, Any] | None = None
    deploy_setting: dict[str, Any] | None = None
    is_enabled: bool | None = None
    rate_limiter: dict[str, Any] | None = None
    created_time: int | None = None
    last_updated_time: int | None = None
    last_registered_time: int | None = None
    last_deployed_time: int | None = None
    last_undeployed_time: int | None = None
    auto_redeploy_retry_times: int | None = None
    total_chunks: int | None = None
    planning_worker_node_count: int | None = None
    current_worker_node_count: int | None = None
    planning_worker_nodes: list[str] | None = None
    deploy_to_all_nodes: bool | None = None
    is_hidden: bool | None = None
    interface: dict[str, Any] | None = None
    guardrails: dict[str, Any] | None = None

    def to_source(self) -> dict[str, Any]:
        src = super().to_source()
        # ML Commons omits an empty planning list and writes deploy_to_all_nodes only when true.
        if not src.get("planning_worker_nodes"):
            src.pop("planning_worker_nodes", None)
        if not src.get("deploy_to_all_nodes"):
            src.pop("deploy_to_all_nodes", None)
        return src


@dataclass
class MLTask(_Record):
    model_id: str | None = None
    task_type: str | None = None
    function_name: str | None = None
    state: str | None = None
    input_type: str | None = None
    progress: float | None = None
    output_index: str | None = None
    worker_node: list[str] = field(default_factory=list)
    create_time: int | None = None
    last_update_time: int | None = None
    error: str | None = None
    is_async: bool | None = True
