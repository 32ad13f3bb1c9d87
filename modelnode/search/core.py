"""One index in memory: its documents, internal doc numbers, and a structure per mapped field.

Documents get dense internal numbers (``int``) on ``put``; a replaced or deleted document's number
is retired (its slot becomes ``None``), so numbers are never reused within a process. Every field
structure implements ``FieldIndex`` and is created from the field's mapping through the
``FIELD_INDEXES`` registry (``text`` -> BM25 postings, ``knn_vector`` -> faiss, ...). Queries turn
into ``Scores`` (internal number -> score) through the ``QUERY_TYPES`` registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# internal doc number -> score; a doc absent from the dict does not match
Scores = dict[int, float]


@dataclass
class StoredDoc:
    id: str
    source: dict[str, Any]
    seq_no: int = 0
    version: int = 1
    primary_term: int = 1


class FieldIndex(Protocol):
    """A derived structure for one mapped field path."""

    def add(self, doc: int, values: list[Any]) -> None:
        """Index the field's values of one document (``values`` flattened from ``_source``;
        an object array under a nested path gives one value per object)."""
        ...

    def remove(self, doc: int) -> None: ...

    # Optional (``search.snapshot``): an index with both methods can be persisted and restored
    # instead of re-analysing every document at start-up; one without them forces a rebuild.
    #   def state(self) -> dict[str, np.ndarray | JSON-able]: ...
    #   def load_state(self, state: dict[str, Any]) -> None:  # on a fresh, empty instance
    #       made by its FIELD_INDEXES factory from the same mapping and settings


# mapping type name -> factory(field mapping dict, index settings dict) -> FieldIndex
FIELD_INDEXES: dict[str, Callable[[dict[str, Any], dict[str, Any]], FieldIndex]] = {}


@dataclass
class QueryContext:
    index: SearchIndex
    # Set by a top-level caller when a query needs more than its own body (e.g. hybrid's size).
    size: int = 10
    extra: dict[str, Any] = field(default_factory=dict)
    # True while evaluating a filter clause (bool.filter/must_not, constant_score.filter, ...):
    # scores are ignored there, and a bool's should clauses become required as in OpenSearch.
    filter: bool = False


# query name -> fn(query body, ctx) -> Scores
QUERY_TYPES: dict[str, Callable[[Any, QueryContext], Scores]] = {}


def values_at(source: Any, path: str) -> list[Any]:
    """Every value at a dotted path, arrays flattened, nulls dropped (OpenSearch's view of a field).

    Keys that contain dots are paths too, as OpenSearch reads them: ``{"user.name": "x"}`` and
    ``{"user": {"name": "x"}}`` both give ``["x"]`` for ``user.name``."""
    nodes: list[Any] = []
    _collect(source, path.split("."), 0, nodes)
    out: list[Any] = []
    for v in nodes:
        if isinstance(v, list):
            out.extend(x for x in v if x is not None)
        elif v is not None:
            out.append(v)
    return out


def _collect(node: Any, parts: list[str], i: int, out: list[Any]) -> None:
    if i == len(parts):
        out.append(node)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _collect(item, parts, i, out)
    elif isinstance(node, dict):
        key = parts[i]
        if key in node:
            _collect(node[key], parts, i + 1, out)
        for j in range(i + 2, len(parts) + 1):  # a dotted key ("user.name") covering several parts
            key = f"{key}.{parts[j - 1]}"
            if key in node:
                _collect(node[key], parts, j, out)


class SearchIndex:
    def __init__(self, name: str, mapping: Any, settings: dict[str, Any]) -> None:
        self.name = name
        self.mapping = mapping  # search.mapping.Mapping
        self.settings = settings  # flat index settings ("index.knn", ...)
        self.docs: list[StoredDoc | None] = []
        self.by_id: dict[str, int] = {}
        self.fields: dict[str, FieldIndex] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def live(self) -> Iterator[int]:
        return iter(self.by_id.values())

    def get(self, doc_id: str) -> StoredDoc | None:
        n = self.by_id.get(doc_id)
        return None if n is None else self.docs[n]

    def doc(self, n: int) -> StoredDoc:
        doc = self.docs[n]
        assert doc is not None, n
        return doc

    def field(self, path: str) -> FieldIndex | None:
        return self.fields.get(path)

    def put(self, doc: StoredDoc) -> int:
        """Index (or replace) a document; returns its new internal number."""
        self.delete(doc.id)
        n = len(self.docs)
        self.docs.append(doc)
        self.by_id[doc.id] = n
        by_source_path: dict[str, list[Any]] = {}  # multi-fields share their parent's values
        for path, field_mapping in self.mapping.indexed_fields():
            index = self.fields.get(path)
            factory = None
            if index is None:
                factory = FIELD_INDEXES.get(field_mapping["type"])
                if factory is None:
                    continue  # a type with no search structure (e.g. object): _source only
            # a multi-field (title.keyword) reads its parent's value: "_source_path"
            source_path = field_mapping.get("_source_path", path)
            values = by_source_path.get(source_path)
            if values is None:
                values = by_source_path[source_path] = values_at(doc.source, source_path)
            if not values:
                continue
            if index is None:
                assert factory is not None
                index = self.fields[path] = factory(field_mapping, self.settings)
            index.add(n, values)
        return n

    def delete(self, doc_id: str) -> bool:
        n = self.by_id.pop(doc_id, None)
        if n is None:
            return False
        for index in self.fields.values():
            index.remove(n)
        self.docs[n] = None
        return True
