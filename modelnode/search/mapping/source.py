"""``_source`` includes/excludes filtering (the mapping's ``_source`` option and request-time
``_source`` filters)."""

from __future__ import annotations

import re
from typing import Any

from .types import _join

# -- _source filtering -------------------------------------------------------------------------------


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` (any run of characters) as a regex; everything else literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    """OpenSearch's ``_source`` filtering: dotted paths and ``*`` wildcards, arrays of objects
    filtered element-wise; an object emptied by the includes disappears."""
    inc = [wildcard_regex(p) for p in includes]
    exc = [wildcard_regex(p) for p in excludes]
    inc_raw = list(includes)
    return _filter_map(source, "", inc, inc_raw, exc)


def _filter_map(
    obj: dict[str, Any], prefix: str, inc: list[re.Pattern[str]], inc_raw: list[str], exc: list[re.Pattern[str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = _join(prefix, key)
        if any(r.fullmatch(path) for r in exc):
            continue
        included = not inc or any(r.fullmatch(path) for r in inc)
        if included and not exc:
            out[key] = value
            continue
        could_descend = not inc or any(_may_match_below(raw, path) for raw in inc_raw)
        if isinstance(value, dict):
            if included:
                out[key] = _filter_map(value, path, [], [], exc)
            elif could_descend:
                sub = _filter_map(value, path, inc, inc_raw, exc)
                if sub:
                    out[key] = sub
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            if included or could_descend:
                items = []
                for v in value:
                    if isinstance(v, dict):
                        sub = _filter_map(v, path, [] if included else inc, [] if included else inc_raw, exc)
                        if sub or included:
                            items.append(sub)
                    elif included:
                        items.append(v)
                if items or included:
                    out[key] = items
        elif included:
            out[key] = value
    return out


def _may_match_below(pattern: str, path: str) -> bool:
    """Could ``pattern`` match some path under ``path``? (``a.b`` / ``a.*`` / ``*.c`` below ``a``)."""
    if "*" in pattern:
        head = pattern.split("*", 1)[0]
        return head.startswith(path + ".") or (path + ".").startswith(head)
    return pattern.startswith(path + ".")
