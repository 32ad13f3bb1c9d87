"""A subset of OpenSearch's query DSL evaluated over JSON ``_source`` documents.

Enough for the ML system indices (models, groups, tasks): ``match_all``, ``match_none``, ``term``,
``terms``, ``ids``, ``match``, ``match_phrase``, ``multi_match``, ``prefix``, ``exists``, ``range``,
``bool``; ``size``/``from``, ``sort``, ``_source`` filtering, ``track_total_hits``. Scores are
simple (term overlap for full-text, 1.0 otherwise): these indices are filtered, not ranked.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MISSING = object()

# (score or None if no match)
Matcher = Callable[[dict[str, Any], str], float | None]

SEARCH_KEYS = frozenset(
    {
        "query",
        "size",
        "from",
        "sort",
        "_source",
        "track_total_hits",
        "seq_no_primary_term",
        "version",
        "timeout",
        "track_scores",
        "explain",
        "stored_fields",
        "min_score",
        "terminate_after",
    }
)


def analyze(text: str) -> list[str]:
    """Standard-analyzer-like: lower-cased word tokens."""
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass(frozen=True)
class Hit:
    id: str
    source: dict[str, Any]
    seq_no: int
    version: int
    primary_term: int = 1


def _values(source: dict[str, Any], path: str) -> list[Any]:
    """All values at a dotted path (arrays flattened), [] if absent or null."""
    cur: list[Any] = [source]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in cur:
            if isinstance(node, dict) and part in node:
                v = node[part]
                nxt.extend(v if isinstance(v, list) else [v])
            elif isinstance(node, list):
                for item in node:
                    if isinstance(item, dict) and part in item:
                        v = item[part]
                        nxt.extend(v if isinstance(v, list) else [v])
        cur = nxt
    return [v for v in cur if v is not None]


class Compiler:
    """Compiles a query object into a matcher. ``text_fields`` are analyzed (``name`` ...);
    ``field.keyword`` addresses their exact value; every other field is a keyword/number."""

    def __init__(self, text_fields: Iterable[str] = ()) -> None:
        self.text_fields = frozenset(text_fields)

    def _field(self, name: str) -> tuple[str, bool]:
        if name.endswith(".keyword"):
            return name[: -len(".keyword")], False
        return name, name in self.text_fields

    def compile(self, query: Any) -> Matcher:
        if not isinstance(query, dict) or len(query) != 1:
            raise ParsingError("[_na] query malformed, must start with start_object and have one key")
        ((kind, body),) = query.items()
        method = getattr(self, f"_q_{kind}", None)
        if method is None:
            raise ParsingError(f"unknown query [{kind}]")
        return method(body)

    # -- leaf queries ---------------------------------------------------------------------------
    def _single_field(self, kind: str, body: Any, value_key: str) -> tuple[str, Any, dict[str, Any]]:
        if not isinstance(body, dict) or len(body) != 1:
            raise ParsingError(f"[{kind}] query doesn't support multiple fields, found {sorted(body or {})}")
        ((fld, spec),) = body.items()
        if isinstance(spec, dict):
            if value_key not in spec:
                raise ParsingError(f"[{kind}] query requires a [{value_key}] for field [{fld}]")
            return fld, spec[value_key], spec
        return fld, spec, {}

    def _q_match_all(self, body: Any) -> Matcher:
        boost = float((body or {}).get("boost", 1.0))
        return lambda src, _id: boost

    def _q_match_none(self, body: Any) -> Matcher:
        return lambda src, _id: None

    def _q_term(self, body: Any) -> Matcher:
        fld, value, spec = self._single_field("term", body, "value")
        return self._terms_matcher(fld, [value], float(spec.get("boost", 1.0)))

    def _q_terms(self, body: Any) -> Matcher:
        items = {k: v for k, v in (body or {}).items() if k != "boost"}
        if len(items) != 1 or not isinstance(next(iter(items.values())), list):
            raise ParsingError("[terms] query requires one field with an array of values")
        ((fld, values),) = items.items()
        return self._terms_matcher(fld, values, float((body or {}).get("boost", 1.0)))

    def _terms_matcher(self, fld: str, wanted: list[Any], boost: float) -> Matcher:
        if fld == "_id":  # a metadata field: term(s) on _id is an ids query
            ids = {str(w) for w in wanted}
            return lambda src, doc_id: boost if doc_id in ids else None
        path, analyzed = self._field(fld)

        def norm(v: Any) -> Any:
            return str(v).lower() if isinstance(v, bool) else v

        wanted_set = {norm(w) for w in wanted}
        wanted_str = {str(w) for w in wanted}

        def match(src: dict[str, Any], _id: str) -> float | None:
            for v in _values(src, path):
                if analyzed and isinstance(v, str):
                    if wanted_str & set(analyze(v)):
                        return boost
                elif norm(v) in wanted_set or str(norm(v)) in wanted_str:
                    return boost
            return None

        return match

    def _q_ids(self, body: Any) -> Matcher:
        ids = set((body or {}).get("values", []))
        return lambda src, doc_id: 1.0 if doc_id in ids else None

    def _q_match(self, body: Any) -> Matcher:
        fld, text, spec = self._single_field("match", body, "query")
        return self._full_text([fld], text, spec.get("operator", "or"), phrase=False)

    def _q_match_phrase(self, body: Any) -> Matcher:
        fld, text, _ = self._single_field("match_phrase", body, "query")
        return self._full_text([fld], text, "and", phrase=True)

    def _q_multi_match(self, body: Any) -> Matcher:
        if not isinstance(body, dict) or "query" not in body:
            raise ParsingError("[multi_match] requires [query]")
        fields = [f.split("^")[0] for f in body.get("fields", [])]
        return self._full_text(fields, body["query"], body.get("operator", "or"), phrase=False)

    def _full_text(self, fields: Sequence[str], text: Any, operator: str, *, phrase: bool) -> Matcher:
        q_tokens = analyze(str(text))

        def match(src: dict[str, Any], _id: str) -> float | None:
            best: float | None = None
            for fld in fields:
                path, analyzed = self._field(fld)
                for v in _values(src, path):
                    if not (analyzed and isinstance(v, str)):
                        # keyword / numeric field: the whole value must equal the query
                        if str(v) == str(text) or (isinstance(v, bool) and str(v).lower() == str(text)):
                            best = max(best or 0.0, 1.0)
                        continue
                    tokens = analyze(v)
                    if phrase:
                        n = len(q_tokens)
                        hit = n > 0 and any(tokens[i : i + n] == q_tokens for i in range(len(tokens)))
                        score = 1.0 if hit else 0.0
                    else:
                        token_set = set(tokens)
                        found = sum(1 for t in q_tokens if t in token_set)
                        if operator.lower() == "and" and found < len(q_tokens):
                            found = 0
                        score = found / len(q_tokens) if q_tokens else 0.0
                    if score > 0:
                        best = max(best or 0.0, score)
            return best

        return match

    def _q_prefix(self, body: Any) -> Matcher:
        fld, value, _ = self._single_field("prefix", body, "value")
        path, analyzed = self._field(fld)

        def match(src: dict[str, Any], _id: str) -> float | None:
            for v in _values(src, path):
                parts = analyze(v) if analyzed and isinstance(v, str) else [str(v)]
                if any(p.startswith(str(value)) for p in parts):
                    return 1.0
            return None

        return match

    def _q_exists(self, body: Any) -> Matcher:
        if not isinstance(body, dict) or "field" not in body:
            raise ParsingError("[exists] must be provided with a [field]")
        path, _ = self._field(body["field"])
        return lambda src, _id: 1.0 if _values(src, path) else None

    def _q_range(self, body: Any) -> Matcher:
        if not isinstance(body, dict) or len(body) != 1:
            raise ParsingError("[range] query requires exactly one field")
        ((fld, spec),) = body.items()
        path, _ = self._field(fld)
        ops = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        unknown = set(spec) - set(ops) - {"boost", "format", "time_zone", "relation"}
        if unknown:
            raise ParsingError(f"[range] query does not support [{sorted(unknown)[0]}]")
        bounds = [(ops[k], v) for k, v in spec.items() if k in ops]

        def match(src: dict[str, Any], _id: str) -> float | None:
            for v in _values(src, path):
                try:
                    if all(op(v, type(v)(bound)) for op, bound in bounds):
                        return 1.0
                except (TypeError, ValueError):
                    continue
            return None

        return match

    # -- compound -------------------------------------------------------------------------------
    def _q_bool(self, body: Any) -> Matcher:
        if not isinstance(body, dict):
            raise ParsingError("[bool] query malformed")
        allowed = {"must", "should", "filter", "must_not", "minimum_should_match", "boost"}
        unknown = set(body) - allowed
        if unknown:
            raise ParsingError(f"[bool] query does not support [{sorted(unknown)[0]}]")

        def clauses(key: str) -> list[Matcher]:
            v = body.get(key, [])
            return [self.compile(q) for q in (v if isinstance(v, list) else [v])]

        must, should, flt, must_not = (clauses(k) for k in ("must", "should", "filter", "must_not"))
        msm = body.get("minimum_should_match")
        min_should = int(msm) if msm is not None else (0 if (must or flt) else 1 if should else 0)

        def match(src: dict[str, Any], doc_id: str) -> float | None:
            score = 0.0
            for m in must:
                s = m(src, doc_id)
                if s is None:
                    return None
                score += s
            for m in flt:
                if m(src, doc_id) is None:
                    return None
            for m in must_not:
                if m(src, doc_id) is not None:
                    return None
            matched = 0
            for m in should:
                s = m(src, doc_id)
                if s is not None:
                    matched += 1
                    score += s
            if matched < min_should:
                return None
            # filter-only bools score 0, as filter context does in OpenSearch
            return score if (must or should) else 0.0

        return match


def _source_filter(spec: Any) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    if spec is None or spec is True:
        return lambda s: s
    if spec is False:
        return lambda s: None
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, list):
        includes, excludes = spec, []
    elif isinstance(spec, dict):
        includes = spec.get("includes", spec.get("include", []))
        excludes = spec.get("excludes", spec.get("exclude", []))
        includes = [includes] if isinstance(includes, str) else includes
        excludes = [excludes] if isinstance(excludes, str) else excludes
    else:
        raise ParsingError("[_source] must be a boolean, a string, an array or an object")

    def keep(key: str) -> bool:
        if includes and not any(fnmatch.fnmatchcase(key, p) or p.startswith(key + ".") for p in includes):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in excludes)

    return lambda s: {k: v for k, v in s.items() if keep(k)}


def _sort_spec(sort: Any) -> list[tuple[str, bool]]:
    """[(field, descending)]"""
    if sort is None:
        return []
    items = sort if isinstance(sort, list) else [sort]
    out: list[tuple[str, bool]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, item == "_score"))
        elif isinstance(item, dict) and len(item) == 1:
            ((fld, order),) = item.items()
            if isinstance(order, dict):
                order = order.get("order", "desc" if fld == "_score" else "asc")
            if str(order).lower() not in ("asc", "desc"):
                raise ParsingError(f"[sort] unknown order [{order}], must be asc or desc")
            out.append((fld, str(order).lower() == "desc"))
        else:
            raise ParsingError("[sort] malformed")
    return out


def search(
    index: str,
    hits: Sequence[Hit],
    body: dict[str, Any] | None,
    *,
    text_fields: Iterable[str] = (),
    extra_filter: Matcher | None = None,
) -> dict[str, Any]:
    """Run a search source over ``hits`` and answer in OpenSearch's SearchResponse shape."""
    body = body or {}
    if not isinstance(body, dict):
        raise ParsingError("request body must be a JSON object")
    for key in body:
        if key not in SEARCH_KEYS:
            raise ParsingError(f"Unknown key for a START_OBJECT in [{key}].")
    matcher = Compiler(text_fields).compile(body.get("query", {"match_all": {}}))
    size, from_ = _int(body, "size", 10), _int(body, "from", 0)
    if size < 0 or from_ < 0:
        raise IllegalArgument("[from] and [size] must be non-negative")

    scored: list[tuple[float, Hit]] = []
    for h in hits:
        s = matcher(h.source, h.id)
        if s is not None and (extra_filter is None or extra_filter(h.source, h.id) is not None):
            scored.append((s, h))

    sort = _sort_spec(body.get("sort"))
    by_score = not sort or sort == [("_score", True)]
    if by_score:
        scored.sort(key=lambda x: -x[0])  # stable: ties keep index order
    else:
        for fld, desc in reversed(sort):
            if fld == "_score":
                scored.sort(key=lambda x: x[0], reverse=desc)
                continue
            path = fld[: -len(".keyword")] if fld.endswith(".keyword") else fld
            firsts = [(x, next(iter(_values(x[1].source, path)), _MISSING)) for x in scored]
            present = [(x, v) for x, v in firsts if v is not _MISSING]
            absent = [x for x, v in firsts if v is _MISSING]
            present.sort(key=lambda xv: _sortable(xv[1]), reverse=desc)
            scored = [x for x, _ in present] + absent  # missing values sort last either way, as OpenSearch

    shape = _source_filter(body.get("_source"))
    page = scored[from_ : from_ + size]
    out_hits = []
    for score, h in page:
        hit: dict[str, Any] = {
            "_index": index,
            "_id": h.id,
            "_version": h.version,
            "_seq_no": h.seq_no,
            "_primary_term": h.primary_term,
            "_score": score if by_score else None,
        }
        src = shape(h.source)
        if src is not None:
            hit["_source"] = src
        if not by_score:
            hit["sort"] = [
                score if f == "_score" else next(iter(_values(h.source, f.removesuffix(".keyword"))), None)
                for f, _ in sort
            ]
        out_hits.append(hit)

    hits_obj: dict[str, Any] = {}
    tth = body.get("track_total_hits", True)
    if tth is not False:
        limit = 10_000 if tth is True else int(tth)
        total = len(scored)
        hits_obj["total"] = {"value": min(total, limit), "relation": "eq" if total <= limit else "gte"}
    hits_obj["max_score"] = max((s for s, _ in scored), default=None) if by_score else None
    hits_obj["hits"] = out_hits
    return {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": hits_obj,
    }


def _int(body: dict[str, Any], key: str, default: int) -> int:
    v = body.get(key, default)
    try:
        return int(v)
    except (TypeError, ValueError):
        raise IllegalArgument(f"[{key}] must be an integer, got [{v}]") from None


def _sortable(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int | float):
        return (0, v)
    return (1, str(v))
