"""Sorting by fields: per-document sort values (modes, ``missing``) and the ordering of ``sort`` and
``search_after`` for a ``SearchRequest`` whose ``sort`` is not the score alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelnode.errors import IllegalArgument, QueryShardError
from modelnode.search.core import Scores, SearchIndex
from modelnode.search.mapping import FLOAT_TYPES, NUMERIC_TYPES, keyword_value, parse_boolean
from modelnode.search.query.base import _LEXICAL, _date_bounds, _query_number
from modelnode.search.query.request import SortField


class _SortKeys:
    """Per-document sort values and the ordering of ``sort`` (missing values, modes, directions)."""

    def __init__(self, index: SearchIndex, sort: list[SortField], scores: Scores) -> None:
        self.index = index
        self.sort = sort
        self.scores = scores
        self.getters = [self._getter(s) for s in sort]
        self._cache: dict[int, list[Any]] = {}

    def _getter(self, spec: SortField) -> Callable[[int], Any]:
        if spec.field == "_score":
            return lambda d: self.scores[d]
        if spec.field == "_doc":
            return lambda d: d
        if spec.field == "_id":
            return lambda d: self.index.doc(d).id
        mapping = self.index.mapping.field(spec.field)
        if mapping is None:
            if spec.unmapped_type is not None:
                return lambda d: None
            raise QueryShardError(f"No mapping found for [{spec.field}] in order to sort on")
        ftype = mapping["type"]
        if ftype == "text" and not mapping.get("fielddata"):
            raise IllegalArgument(
                "Text fields are not optimised for operations that require per-document field data like "
                "aggregations and sorting, so these operations are disabled by default. Please use a keyword "
                f"field instead. Alternatively, set fielddata=true on [{spec.field}] in order to load field data "
                "by uninverting the inverted index. Note that this can use significant memory."
            )
        if ftype not in _LEXICAL:
            raise IllegalArgument(f"Field [{spec.field}] of type [{ftype}] is not supported for sorting")
        fi = self.index.field(spec.field)
        mode = spec.mode or ("max" if spec.desc else "min")
        numeric = ftype in NUMERIC_TYPES or ftype in ("date", "boolean")
        if mode in ("avg", "sum", "median") and not numeric:
            raise IllegalArgument(f"[{mode}] sort mode is only supported on numeric fields, not on [{spec.field}]")
        float_type = ftype in FLOAT_TYPES

        def get(d: int) -> Any:
            values = fi.sort_values(d) if fi is not None else []
            if not values:
                return None
            if mode == "min":
                return values[0]
            if mode == "max":
                return values[-1]
            if mode == "sum":
                total = sum(values)
                return float(total) if float_type else total
            if mode == "avg":
                avg = sum(values) / len(values)
                return avg if float_type else round(avg)
            mid = len(values) // 2
            median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
            return median if float_type else round(median)

        if spec.missing not in ("_last", "_first", None):
            missing_value = spec.missing
            if ftype in NUMERIC_TYPES:
                missing_value = _query_number(ftype, spec.missing)
            elif ftype == "date":
                missing_value = _date_bounds(mapping, spec.missing)[0]
            return lambda d: v if (v := get(d)) is not None else missing_value
        return get

    def values(self, doc: int) -> list[Any]:
        cached = self._cache.get(doc)
        if cached is None:
            cached = self._cache[doc] = [g(doc) for g in self.getters]
        return cached

    def order(self, docs: list[int]) -> list[int]:
        """Stable passes from the last sort key to the first (docs start in index order)."""
        ordered = list(docs)
        for i in range(len(self.sort) - 1, -1, -1):
            spec = self.sort[i]
            present = [d for d in ordered if self.values(d)[i] is not None]
            missing = [d for d in ordered if self.values(d)[i] is None]
            present.sort(key=lambda d, i=i: self.values(d)[i], reverse=spec.desc)
            ordered = missing + present if spec.missing == "_first" else present + missing
        return ordered

    def _compare(self, a: list[Any], b: list[Any]) -> int:
        for spec, x, y in zip(self.sort, a, b, strict=True):
            if x is None and y is None:
                continue
            if x is None or y is None:
                first = spec.missing == "_first"
                return (-1 if first else 1) if x is None else (1 if first else -1)
            if x != y:
                try:
                    less = x < y
                except TypeError:
                    less = str(x) < str(y)
                result = -1 if less else 1
                return -result if spec.desc else result
        return 0

    def after(self, ordered: list[int], search_after: list[Any]) -> list[int]:
        key = [self._coerce(spec, v) for spec, v in zip(self.sort, search_after, strict=True)]
        return [d for d in ordered if self._compare(self.values(d), key) > 0]

    def _coerce(self, spec: SortField, value: Any) -> Any:
        if value is None or spec.field in ("_score", "_doc"):
            return value
        if spec.field == "_id":
            return keyword_value(value)
        mapping = self.index.mapping.field(spec.field) or {}
        ftype = mapping.get("type")
        if ftype in NUMERIC_TYPES:
            return _query_number(ftype, value)
        if ftype == "date":
            return value if isinstance(value, int) else _date_bounds(mapping, value)[0]
        if ftype == "boolean":
            return int(parse_boolean(value)) if not isinstance(value, int) else value
        return keyword_value(value)
