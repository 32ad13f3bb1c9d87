"""The document going through a pipeline (``IngestDocument``: dotted-path get/set/remove over
``_source`` and ``_ingest``) and the mustache subset processors render field names and values with."""

from __future__ import annotations

import copy
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any

from modelnode.errors import ModelNodeError
from modelnode.search.ingest.errors import IngestProcessorError, java_type

# One sentinel shared by the whole package: ``Config`` reads, ``IngestDocument.get`` and the string
# processors compare against this same object, so it must live in one place.
_MISSING = object()


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class IngestDocument:
    """One document going through a pipeline. ``existing`` is the stored ``_source`` of the same id
    (for ``skip_existing``), None when there is none or in ``_simulate``."""

    index: str
    id: str | None
    source: dict[str, Any]
    existing: dict[str, Any] | None = None
    ingest: dict[str, Any] = field(default_factory=dict)  # _ingest metadata (timestamp, on_failure_*)
    error: ModelNodeError | None = None
    dropped: bool = False
    trace: list[dict[str, Any]] | None = None  # verbose _simulate: one entry per processor run
    failed_in: tuple[str, str | None] | None = None  # (processor type, tag) that set ``error``

    @property
    def alive(self) -> bool:
        return self.error is None and not self.dropped

    def snapshot(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_index": self.index}
        if self.id is not None:
            doc["_id"] = self.id
        doc["_source"] = copy.deepcopy(self.source)
        doc["_ingest"] = dict(self.ingest)
        return doc

    # -- IngestDocument's field access (dotted paths, list indices, _source./_ingest. prefixes) --
    def _root(self, path: str) -> tuple[dict[str, Any], str]:
        if path.startswith("_ingest."):
            return self.ingest, path[len("_ingest.") :]
        if path.startswith("_source."):
            return self.source, path[len("_source.") :]
        return self.source, path

    def get(self, path: str, default: Any = _MISSING) -> Any:
        if path == "_index":
            return self.index
        if path == "_id":
            return self.id if self.id is not None else default
        root, rel = self._root(path)
        node: Any = root
        for part in rel.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                if default is _MISSING:
                    raise IngestProcessorError(f"field [{part}] not present as part of path [{path}]")
                return default
        return node

    def has(self, path: str) -> bool:
        return self.get(path, _MISSING_SENTINEL) is not _MISSING_SENTINEL

    def set(self, path: str, value: Any, *, append: bool = False) -> None:
        if path == "_id":
            self.id = None if value is None else str(value)
            return
        if path == "_index":
            raise IngestProcessorError("changing [_index] in an ingest pipeline is not supported by modelnode")
        root, rel = self._root(path)
        parts = rel.split(".")
        node: Any = root
        for part in parts[:-1]:
            if isinstance(node, dict):
                nxt = node.get(part)
                if nxt is None:
                    nxt = node[part] = {}
                node = nxt
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise IngestProcessorError(
                    f"cannot set [{part}] with parent object of type [{java_type(node)}] as part of path [{path}]"
                )
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise IngestProcessorError(
                    f"[{last}] is not an integer, cannot be used as an index as part of path [{path}]"
                )
            node[int(last)] = value
            return
        if not isinstance(node, dict):
            raise IngestProcessorError(
                f"cannot set [{last}] with parent object of type [{java_type(node)}] as part of path [{path}]"
            )
        if append and last in node:
            current = node[last]
            if not isinstance(current, list):
                current = node[last] = [current]
            values = value if isinstance(value, list) else [value]
            current.extend(values)
        else:
            node[last] = value

    def remove(self, path: str) -> None:
        root, rel = self._root(path)
        parts = rel.split(".")
        node: Any = root
        for part in parts[:-1]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise IngestProcessorError(f"field [{part}] not present as part of path [{path}]")
        last = parts[-1]
        if isinstance(node, dict) and last in node:
            del node[last]
        elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
            del node[int(last)]
        else:
            raise IngestProcessorError(f"field [{last}] not present as part of path [{path}]")


_MISSING_SENTINEL = object()

_TEMPLATE = re.compile(r"\{\{\{?\s*([^}\s]+)\s*\}?\}\}")


def render_template(template: str, doc: IngestDocument) -> str:
    """The mustache subset ingest uses: ``{{field}}``, ``{{{field}}}``, ``{{_ingest.timestamp}}``."""

    def sub(m: re.Match[str]) -> str:
        v = doc.get(m.group(1), None)
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else str(v)

    return _TEMPLATE.sub(sub, template)


def _template_value(value: Any, doc: IngestDocument) -> Any:
    if isinstance(value, str):
        return render_template(value, doc)
    if isinstance(value, list):
        return [_template_value(v, doc) for v in value]
    if isinstance(value, dict):
        return {render_template(k, doc): _template_value(v, doc) for k, v in value.items()}
    return value
