"""Dynamic mapping: the mappings OpenSearch creates for a document's new fields (``dynamic``,
``date_detection``, ``numeric_detection``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelnode.errors import MapperParsingError, StrictDynamicMappingError

from .types import DEFAULT_DATE_FORMAT, _is_object, _join
from .values import _looks_like_date

if TYPE_CHECKING:  # annotations only: parse.py imports this module
    from .parse import Mapping


class _Dynamic:
    """OpenSearch's dynamic mapping: what new fields of a document become."""

    def __init__(self, mapping: Mapping) -> None:
        self.date_detection = mapping._root.get("date_detection", True)
        self.numeric_detection = mapping._root.get("numeric_detection", False)

    def walk(self, obj: dict[str, Any], props: dict[str, Any], path: str, dynamic: str, *, mutate: bool) -> bool:
        changed = False
        for key, value in obj.items():
            if not isinstance(key, str) or not key.strip():
                raise MapperParsingError("field name cannot be an empty string")
            parts = key.split(".")
            if any(not p for p in parts):
                raise MapperParsingError(
                    f"object field starting or ending with a [.] makes object resolution ambiguous: [{key}]"
                )
            cur_props, cur_path, cur_dynamic = props, path, dynamic
            skip = False
            for part in parts[:-1]:
                node = cur_props.get(part)
                full = _join(cur_path, part)
                if node is None:
                    if cur_dynamic == "strict":
                        raise StrictDynamicMappingError(
                            f"mapping set to strict, dynamic introduction of [{part}] within "
                            f"[{cur_path or '_doc'}] is not allowed"
                        )
                    if cur_dynamic == "false":
                        skip = True
                        break
                    if not mutate:
                        return True
                    node = cur_props[part] = {"properties": {}}
                    changed = True
                elif not _is_object(node):
                    raise MapperParsingError(
                        f"Could not dynamically add mapping for field [{_join(cur_path, key)}]. Existing mapping "
                        f"for [{full}] must be of type object but found [{node['type']}]."
                    )
                if node.get("enabled", True) is False:
                    skip = True
                    break
                cur_dynamic = node.get("dynamic", cur_dynamic)
                cur_props = node.setdefault("properties", {}) if mutate else node.get("properties", {})
                cur_path = full
            if skip:
                continue
            if self._value(value, parts[-1], cur_props, cur_path, cur_dynamic, mutate=mutate):
                if not mutate:
                    return True
                changed = True
        return changed

    def _value(self, value: Any, name: str, props: dict[str, Any], parent: str, dynamic: str, *, mutate: bool) -> bool:
        node = props.get(name)
        full = _join(parent, name)
        changed = False
        if node is None:
            sample = _first_value(value)
            if sample is None:
                return False
            if dynamic == "strict":
                raise StrictDynamicMappingError(
                    f"mapping set to strict, dynamic introduction of [{name}] within [{parent or '_doc'}] "
                    "is not allowed"
                )
            if dynamic == "false":
                return False
            if not mutate:
                return True
            node = props[name] = self._infer(sample)
            changed = True
        if _is_object(node):
            if node.get("enabled", True) is False:
                return changed
            sub_dynamic = node.get("dynamic", dynamic)
            for item in _iter_objects(value, full, name):
                sub_props = node.setdefault("properties", {}) if mutate else node.get("properties", {})
                if self.walk(item, sub_props, full, sub_dynamic, mutate=mutate):
                    if not mutate:
                        return True
                    changed = True
        return changed

    def _infer(self, sample: Any) -> dict[str, Any]:
        if isinstance(sample, dict):
            return {"properties": {}}
        if isinstance(sample, bool):
            return {"type": "boolean"}
        if isinstance(sample, int):
            return {"type": "long"}
        if isinstance(sample, float):
            return {"type": "float"}
        text = str(sample)
        if self.date_detection:
            fmt = _looks_like_date(text)
            if fmt == DEFAULT_DATE_FORMAT:
                return {"type": "date"}
            if fmt is not None:
                return {"type": "date", "format": fmt}
        if self.numeric_detection:
            if re.fullmatch(r"[+-]?\d+", text.strip()):
                return {"type": "long"}
            try:
                float(text)
                return {"type": "float"}
            except ValueError:
                pass
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def _first_value(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            found = _first_value(item)
            if found is not None:
                return found
        return None
    return value


def _iter_objects(value: Any, full: str, name: str) -> Iterator[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item is None:
            continue
        if isinstance(item, list):
            yield from _iter_objects(item, full, name)
        elif isinstance(item, dict):
            yield item
        else:
            raise MapperParsingError(
                f"object mapping for [{full}] tried to parse field [{name}] as object, but found a concrete value"
            )
