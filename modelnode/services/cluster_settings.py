"""``_cluster/settings``: typed ``plugins.ml_commons.*`` settings, persistent (SQLite) and transient
(memory), flat or nested keys, null to reset. Effective value = transient > persistent > default."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelnode.errors import IllegalArgument
from modelnode.storage import SettingsStore

ML = "plugins.ml_commons."


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[str, Any], Any]


def _bool(key: str, v: Any) -> bool:
    # OpenSearch's Booleans.parseBoolean: only "true"/"false" (any JSON bool or string form).
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v in ("true", "false"):
        return v == "true"
    raise IllegalArgument(f"Failed to parse value [{v}] as only [true] or [false] are allowed.")


def _int(lo: int, hi: int) -> Callable[[str, Any], int]:
    def parse(key: str, v: Any) -> int:
        if isinstance(v, bool):
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}]")
        try:
            n = int(v) if not isinstance(v, float) or v.is_integer() else None
        except (TypeError, ValueError):
            n = None
        if n is None:
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}]")
        if n < lo:
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}] must be >= {lo}")
        if n > hi:
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}] must be <= {hi}")
        return n

    return parse


def _float(lo: float, hi: float) -> Callable[[str, Any], float]:
    def parse(key: str, v: Any) -> float:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}]") from None
        if not lo <= f <= hi:
            raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}] must be in [{lo}, {hi}]")
        return f

    return parse


def _str(key: str, v: Any) -> str:
    if isinstance(v, dict | list):
        raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}]")
    return str(v).lower() if isinstance(v, bool) else str(v)


def _regex(key: str, v: Any) -> str:
    s = _str(key, v)
    try:
        re.compile(s)
    except re.error as e:
        raise IllegalArgument(f"Failed to parse value [{s}] for setting [{key}]: invalid regex ({e})") from None
    return s


def _str_list(key: str, v: Any) -> list[str]:
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise IllegalArgument(f"Failed to parse value [{v}] for setting [{key}]")


DEFAULT_TRUSTED_URL_REGEX = r"^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]"

_DEFS = [
    ("only_run_on_ml_node", True, _bool),
    ("model_access_control_enabled", False, _bool),
    ("native_memory_threshold", 90, _int(0, 100)),
    ("jvm_heap_memory_threshold", 85, _int(0, 100)),
    ("disk_free_space_threshold", "5gb", _str),
    ("max_model_on_node", 10, _int(0, 10000)),
    ("max_register_model_tasks_per_node", 10, _int(0, 10)),
    ("max_deploy_model_tasks_per_node", 10, _int(0, 10)),
    ("max_ml_task_per_node", 10, _int(0, 10000)),
    ("max_batch_inference_tasks", 10, _int(0, 10000)),
    ("allow_registering_model_via_url", False, _bool),
    ("allow_registering_model_via_local_file", False, _bool),
    ("trusted_url_regex", DEFAULT_TRUSTED_URL_REGEX, _regex),
    ("model_auto_redeploy.enable", True, _bool),
    ("model_auto_redeploy.lifetime_retry_times", 3, _int(0, 100)),
    ("model_auto_redeploy_success_ratio", 0.8, _float(0.0, 1.0)),
    ("model_auto_deploy.enable", True, _bool),
    ("allow_custom_deployment_plan", False, _bool),
    ("local_model.enabled", True, _bool),
    ("remote_inference.enabled", True, _bool),
    ("connector_access_control_enabled", False, _bool),
    ("sync_up_job_interval_in_seconds", 10, _int(0, 86400)),
    ("ml_task_timeout_in_seconds", 600, _int(1, 86400)),
    ("task_dispatch_policy", "round_robin", _str),
    ("monitoring_request_count", 100, _int(0, 10_000_000)),
    ("task_dispatcher.eligible_node_role.local_model", ["data", "ml"], _str_list),
    ("task_dispatcher.eligible_node_role.remote_model", ["data", "ml"], _str_list),
    ("safe_delete_model", False, _bool),
    ("exclude_nodes._name", "", _str),
    ("enable_inhouse_python_model", False, _bool),
    ("agent_framework_enabled", True, _bool),
    ("memory_feature_enabled", True, _bool),
    ("rag_pipeline_feature_enabled", True, _bool),
    ("controller_enabled", True, _bool),
    ("offline_batch_ingestion_enabled", True, _bool),
    ("offline_batch_inference_enabled", True, _bool),
    ("connector.private_ip_enabled", False, _bool),
    ("trusted_connector_endpoints_regex", [], _str_list),
]

SETTINGS: dict[str, Setting] = {ML + k: Setting(ML + k, d, p) for k, d, p in _DEFS}
# Core settings that tutorials set next to ML Commons' own; accepted and stored.
for _k, _d, _p in [
    ("cluster.routing.allocation.disk.threshold_enabled", True, _bool),
    ("action.auto_create_index", "true", _str),
    ("search.max_buckets", 65535, _int(0, 2**31 - 1)),
    ("plugins.neural_search.stats_enabled", False, _bool),
]:
    SETTINGS[_k] = Setting(_k, _d, _p)

STATIC = {ML + "multi_tenancy_enabled"}


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"plugins": {"ml_commons": {"x": 1}}}`` and ``{"plugins.ml_commons.x": 1}`` alike -> flat."""
    out: dict[str, Any] = {}
    if not isinstance(obj, dict):
        raise IllegalArgument("settings must be an object")
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in sorted(flat.items()):
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _wire(v: Any) -> Any:
    # OpenSearch echoes settings as strings (lists stay lists).
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return [str(x) for x in v]
    return str(v)


class ClusterSettings:
    def __init__(self, store: SettingsStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._persistent = {k: v for k, v in store.load().items() if k in SETTINGS}
        self._transient: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        if key in self._transient:
            return self._transient[key]
        if key in self._persistent:
            return self._persistent[key]
        return SETTINGS[key].default

    def ml(self, name: str) -> Any:
        return self.get(ML + name)

    def update(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise IllegalArgument("no settings to update")
        unknown_sections = set(body) - {"persistent", "transient"}
        if unknown_sections:
            raise IllegalArgument(f"unknown cluster settings section [{sorted(unknown_sections)[0]}]")
        # Validate everything before changing anything: a rejected request changes nothing.
        parsed = {scope: self._validate(scope, flatten(body.get(scope) or {})) for scope in ("persistent", "transient")}
        with self._lock:
            persistent = dict(self._persistent)
            for k, v in parsed["persistent"].items():
                if v is None:
                    persistent.pop(k, None)
                else:
                    persistent[k] = v
            self._store.replace(persistent)
            self._persistent = persistent
            for k, v in parsed["transient"].items():
                if v is None:
                    self._transient.pop(k, None)
                else:
                    self._transient[k] = v
        return {
            "acknowledged": True,
            "persistent": nest({k: _wire(v) for k, v in parsed["persistent"].items() if v is not None}),
            "transient": nest({k: _wire(v) for k, v in parsed["transient"].items() if v is not None}),
        }

    def _validate(self, scope: str, flat: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in flat.items():
            # A trailing wildcard with null resets a whole namespace, as OpenSearch allows.
            if key.endswith("*") and value is None:
                prefix = key[:-1]
                out.update({k: None for k in SETTINGS if k.startswith(prefix)})
                continue
            if key in STATIC:
                raise IllegalArgument(f"{scope} setting [{key}], not dynamically updateable")
            setting = SETTINGS.get(key)
            if setting is None:
                hint = (
                    ". Did you mean one of the plugins.ml_commons.* settings?" if key.startswith("plugins.ml") else ""
                )
                raise IllegalArgument(f"{scope} setting [{key}], not recognized{hint}")
            out[key] = None if value is None else setting.parse(key, value)
        return out

    def render(self, *, flat: bool, include_defaults: bool) -> dict[str, Any]:
        shape = (lambda d: d) if flat else nest
        out = {
            "persistent": shape({k: _wire(v) for k, v in self._persistent.items()}),
            "transient": shape({k: _wire(v) for k, v in self._transient.items()}),
        }
        if include_defaults:
            out["defaults"] = shape(
                {
                    k: _wire(s.default)
                    for k, s in SETTINGS.items()
                    if k not in self._persistent and k not in self._transient
                }
            )
        return out
