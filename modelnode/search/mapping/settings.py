"""Index settings: the known settings with their kinds and defaults, parsing (``PUT /{index}``),
updating (``PUT _settings``) and the nested ``GET _settings`` shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelnode.errors import IllegalArgument

from .types import SPACE_TYPES
from .values import java_string

# -- index settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    kind: str  # bool | int | str | time | any
    default: Any = None
    minimum: int | None = None
    dynamic: bool = True
    final: bool = False


SETTINGS: dict[str, _Setting] = {
    "index.number_of_shards": _Setting("int", 1, 1, dynamic=False, final=True),
    "index.number_of_replicas": _Setting("int", 1, 0),
    "index.number_of_routing_shards": _Setting("int", None, 1, dynamic=False, final=True),
    "index.auto_expand_replicas": _Setting("any"),
    "index.refresh_interval": _Setting("time", "1s"),
    "index.max_result_window": _Setting("int", 10000, 1),
    "index.max_inner_result_window": _Setting("int", 100, 0),
    "index.hidden": _Setting("bool", False),
    "index.codec": _Setting("str", "default", dynamic=False),
    "index.translog.durability": _Setting("str", "request"),
    "index.blocks.read_only": _Setting("bool", False),
    "index.blocks.read_only_allow_delete": _Setting("bool", False),
    "index.blocks.write": _Setting("bool", False),
    "index.blocks.read": _Setting("bool", False),
    "index.mapping.total_fields.limit": _Setting("int", 1000, 0),
    "index.mapping.depth.limit": _Setting("int", 20, 1),
    "index.mapping.nested_fields.limit": _Setting("int", 50, 0),
    "index.mapping.nested_objects.limit": _Setting("int", 10000, 0),
    "index.query.default_field": _Setting("any", ["*"]),
    "index.default_pipeline": _Setting("str", "_none"),
    "index.final_pipeline": _Setting("str", "_none"),
    "index.search.default_pipeline": _Setting("str", "_none"),
    "index.knn": _Setting("bool", False, dynamic=False),
    "index.knn.algo_param.ef_search": _Setting("int", 100, 2),
    "index.knn.algo_param.ef_construction": _Setting("int", 100, 2, dynamic=False),
    "index.knn.algo_param.m": _Setting("int", 16, 2, dynamic=False),
    "index.knn.space_type": _Setting("str", "l2", dynamic=False),
    "index.knn.advanced.approximate_threshold": _Setting("int", 0, -1),
    "index.knn.memory_optimized_search": _Setting("bool", False, dynamic=False),
    "index.knn.derived_source.enabled": _Setting("bool", False, dynamic=False),
    "index.sparse": _Setting("bool", False, dynamic=False),
}
_PRIVATE_SETTINGS = frozenset({"index.uuid", "index.version.created", "index.creation_date", "index.provided_name"})
_TIME_VALUE = re.compile(r"-1|0|\d+(?:\.\d+)?(?:nanos|micros|ms|s|m|h|d)")


def _flatten_settings(body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_settings(value, full + "."))
        else:
            out[full] = value
    return out


def _normalize_setting_key(key: str) -> str:
    return key if key.startswith("index.") else f"index.{key}"


def _convert_setting(key: str, spec: _Setting, value: Any) -> Any:
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise IllegalArgument(f"Failed to parse value [{java_string(value)}] as only [true] or [false] are allowed.")
    if spec.kind == "int":
        if isinstance(value, bool):
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        try:
            number = int(value) if not isinstance(value, float) or value == int(value) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        if spec.minimum is not None and number < spec.minimum:
            raise IllegalArgument(f"Failed to parse value [{number}] for setting [{key}] must be >= {spec.minimum}")
        return number
    if spec.kind == "time":
        text = str(value)
        if not _TIME_VALUE.fullmatch(text):
            raise IllegalArgument(
                f"failed to parse setting [{key}] with value [{text}] as a time value: unit is missing or unrecognized"
            )
        return text
    if spec.kind == "str":
        if isinstance(value, list | dict):
            raise IllegalArgument(f"Failed to parse value [{java_string(value)}] for setting [{key}]")
        text = java_string(value)
        if key == "index.knn.space_type" and text.lower() not in SPACE_TYPES:
            raise IllegalArgument(f"Unable to find space: {text} . Valid values are: [{', '.join(SPACE_TYPES)}]")
        return text
    return value


def parse_settings(body: dict[str, Any] | None) -> dict[str, Any]:
    """Index settings of ``PUT /{index}`` as a flat dict with typed values, e.g.
    ``{"index.knn": True, "index.knn.algo_param.ef_search": 100, "index.default_pipeline": "p"}``.

    Nested or flat keys, ``index.`` prefix optional. Only the settings given are returned (see
    ``SETTINGS`` for defaults). Unknown settings are refused like OpenSearch."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise IllegalArgument("settings must be an object")
    out: dict[str, Any] = {}
    for raw_key, value in _flatten_settings(body).items():
        key = _normalize_setting_key(raw_key)
        if key in _PRIVATE_SETTINGS:
            raise IllegalArgument(f"private index setting [{key}] can not be set explicitly")
        if key.startswith(("index.analysis.", "index.similarity.")):
            raise IllegalArgument(
                f"[{key}]: custom analysis and similarity settings are not supported by modelnode's search engine"
            )
        spec = SETTINGS.get(key)
        if spec is None:
            raise IllegalArgument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
        if value is None:
            continue
        out[key] = _convert_setting(key, spec, value)
    return out


def update_settings(current: dict[str, Any], body: dict[str, Any], index_name: str) -> dict[str, Any]:
    """``PUT /{index}/_settings``: the new flat settings. Static settings cannot change on an open
    index and final ones never; ``null`` resets a setting to its default."""
    if not isinstance(body, dict):
        raise IllegalArgument("settings must be an object")
    if set(body) == {"settings"} and isinstance(body["settings"], dict):
        body = body["settings"]
    flat = _flatten_settings(body)
    nulls = [_normalize_setting_key(k) for k, v in flat.items() if v is None]
    parsed = parse_settings({k: v for k, v in flat.items() if v is not None})
    for key in nulls:
        if key not in SETTINGS:
            raise IllegalArgument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
    changed = [k for k in [*parsed, *nulls] if current.get(k) != parsed.get(k)]
    for key in changed:
        spec = SETTINGS[key]
        if spec.final:
            raise IllegalArgument(f"final index setting [{key}], not updateable")
        if not spec.dynamic:
            raise IllegalArgument(f"Can't update non dynamic settings [[{key}]] for open indices [[{index_name}]]")
    out = dict(current)
    out.update(parsed)
    for key in nulls:
        out.pop(key, None)
    return out


def setting(settings: dict[str, Any], key: str) -> Any:
    """A setting's value, or its default."""
    if key in settings:
        return settings[key]
    spec = SETTINGS.get(key)
    return None if spec is None else spec.default


def settings_to_json(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat settings as ``GET _settings`` shows them: nested objects of strings, with OpenSearch's
    rule for a key that is both a value and a prefix (``"knn": "true", "knn.algo_param": {...}``)."""
    out: dict[str, Any] = {}
    for key in sorted(flat):
        _process_setting(out, "", key, _setting_string(flat[key]))
    return out


def _setting_string(value: Any) -> Any:
    if isinstance(value, list):
        return [_setting_string(v) for v in value]
    return java_string(value)


def _process_setting(target: dict[str, Any], prefix: str, setting_key: str, value: Any) -> None:
    dot = setting_key.find(".")
    if dot == -1:
        inner = target.get(prefix + setting_key)
        if isinstance(inner, dict):
            for k, v in inner.items():
                target[f"{prefix}{setting_key}.{k}"] = v
        target[prefix + setting_key] = value
        return
    key, rest = setting_key[:dot], setting_key[dot + 1 :]
    existing = target.get(prefix + key)
    if existing is None:
        new: dict[str, Any] = {}
        _process_setting(new, "", rest, value)
        target[prefix + key] = new
    elif isinstance(existing, dict):
        _process_setting(existing, "", rest, value)
    else:
        _process_setting(target, f"{prefix}{key}.", rest, value)
