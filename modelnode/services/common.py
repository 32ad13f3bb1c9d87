"""Small shared pieces: ids, clocks, raw OpenSearch write responses, body field readers."""

from __future__ import annotations

import base64
import os
from typing import Any

from modelnode.errors import IllegalArgument
from modelnode.storage import Doc
from modelnode.tasks.runner import now_ms as now_ms  # one clock for tasks and records


def new_id() -> str:
    """20 url-safe characters, like OpenSearch's auto-generated document ids."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode()


def write_response(doc: Doc, result: str) -> dict[str, Any]:
    """The raw IndexResponse / UpdateResponse / DeleteResponse ML Commons passes through."""
    return {
        "_index": doc.index,
        "_id": doc.id,
        "_version": doc.version,
        "result": result,
        "forced_refresh": True,
        "_shards": {"total": 1, "successful": 1, "failed": 0},
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def opt_str(body: dict[str, Any], key: str) -> str | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise IllegalArgument(f"[{key}] must be a string, got {type(v).__name__}")
    return v


def opt_bool(body: dict[str, Any], key: str) -> bool | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if v in ("true", "false"):
        return v == "true"
    raise IllegalArgument(f"[{key}] must be a boolean, got [{v}]")


def opt_obj(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise IllegalArgument(f"[{key}] must be an object")
    return v


def opt_str_list(body: dict[str, Any], key: str) -> list[str] | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise IllegalArgument(f"[{key}] must be an array of strings")
    return v


def int_param(value: str | None, name: str) -> int | None:
    """An integer URL parameter, None when absent."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise IllegalArgument(f"Failed to parse int parameter [{name}] with value [{value}]") from None
