"""Running a search: ``execute`` / ``execute_scores`` (query phase, ``min_score``, ``post_filter``,
``terminate_after``, the page of hits), ``count`` for ``_count``, and the fetch and render phase
(``render``, ``render_scores``, ``search``: ``_source`` filtering, ``fields``, highlights, sort values)."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import highlight as _highlight
from modelnode.search.core import QueryContext, Scores, SearchIndex, StoredDoc, values_at
from modelnode.search.mapping import ValueProblem, filter_source, millis_to_iso, setting
from modelnode.search.query.base import _date_format, evaluate, matching
from modelnode.search.query.request import SearchRequest, SortField, parse_request
from modelnode.search.query.sort import _SortKeys

# -- execution -------------------------------------------------------------------------------------


@dataclass
class Hit:
    """One hit of the page: internal doc number, the stored document, score and sort values.
    ``highlight`` may be filled by later steps (the semantic highlighter); render keeps it."""

    doc: int
    stored: StoredDoc
    score: float | None
    sort: list[Any] | None = None
    highlight: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the rendered hit


@dataclass
class SearchResult:
    index: SearchIndex
    request: SearchRequest
    hits: list[Hit]  # the page (from .. from + size), in order
    total: int  # every matching document (after min_score and post_filter)
    max_score: float | None
    scores: Scores  # every matching document -> score (for phase-results and response processors)
    took_ms: float = 0.0
    timed_out: bool = False
    terminated_early: bool | None = None
    ctx: QueryContext | None = None


PhaseResults = Callable[[Scores, QueryContext], Scores]


def execute(
    index: SearchIndex,
    body: dict[str, Any] | None,
    *,
    phase_results: PhaseResults | None = None,
    extra: dict[str, Any] | None = None,
) -> SearchResult:
    """Run a ``_search`` body against one index.

    ``phase_results(scores, ctx) -> scores`` runs between the query and the fetch phase (the hybrid
    normalization processor: the hybrid query leaves its sub-query results in ``ctx.extra``).
    ``extra`` seeds ``ctx.extra`` (e.g. rewritten query vectors)."""
    started = time.perf_counter()
    req = parse_request(body)
    ctx = _context(index, req, extra)
    scores = evaluate(req.query, ctx)
    if phase_results is not None:
        scores = phase_results(scores, ctx)
    return _finish(index, req, ctx, scores, None, started)


def execute_scores(
    index: SearchIndex,
    body: dict[str, Any] | None,
    scores: Scores,
    total: int | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> SearchResult:
    """Like ``execute`` for scores computed elsewhere (a hybrid query combined by its pipeline):
    ``body``'s ``query`` is not evaluated (it is still used for highlighting); ``min_score``,
    ``post_filter``, sort, paging and the rest apply. ``total`` (the number of matching documents when
    ``scores`` holds only the top ones) is reported when nothing filtered the scores."""
    started = time.perf_counter()
    req = parse_request(body)
    ctx = _context(index, req, extra)
    return _finish(index, req, ctx, dict(scores), total, started)


def _context(index: SearchIndex, req: SearchRequest, extra: dict[str, Any] | None) -> QueryContext:
    window = int(setting(index.settings, "index.max_result_window"))
    if req.from_ + req.size > window:
        raise IllegalArgument(
            f"Result window is too large, from + size must be less than or equal to: [{window}] but was "
            f"[{req.from_ + req.size}]. See the scroll api for a more efficient way to request large data sets. "
            "This limit can be set by changing the [index.max_result_window] index level setting."
        )
    return QueryContext(index, size=req.from_ + req.size, extra=dict(extra or {}))


def _finish(
    index: SearchIndex, req: SearchRequest, ctx: QueryContext, scores: Scores, total: int | None, started: float
) -> SearchResult:
    filtered = False
    if req.min_score is not None:
        threshold = req.min_score
        scores = {d: s for d, s in scores.items() if s >= threshold}
        filtered = True
    if req.post_filter is not None:
        allowed = matching(req.post_filter, ctx)
        scores = {d: s for d, s in scores.items() if d in allowed}
        filtered = True
    terminated_early = None
    if req.terminate_after > 0:
        terminated_early = len(scores) > req.terminate_after
        if terminated_early:
            kept = sorted(scores)[: req.terminate_after]
            scores = {d: scores[d] for d in kept}
            filtered = True
    count = len(scores) if total is None or filtered else max(int(total), len(scores))
    hits = _top_hits(index, req, scores)
    max_score = None
    if req.scores_tracked and scores and req.size > 0:
        max_score = max(scores.values())
    return SearchResult(
        index=index,
        request=req,
        hits=hits,
        total=count,
        max_score=max_score,
        scores=scores,
        took_ms=(time.perf_counter() - started) * 1000,
        terminated_early=terminated_early,
        ctx=ctx,
    )


def _top_hits(index: SearchIndex, req: SearchRequest, scores: Scores) -> list[Hit]:
    end = req.from_ + req.size
    if not req.sort:
        items = scores.items()
        if req.search_after is not None:
            after = float(req.search_after[0]) if req.search_after else math.inf
            items = [(d, s) for d, s in items if s < after]  # type: ignore[assignment]
        if end == 0:
            return []
        top = heapq.nsmallest(end, items, key=lambda kv: (-kv[1], kv[0]))
        return [Hit(d, index.doc(d), s) for d, s in top[req.from_ :]]
    keys = _SortKeys(index, req.sort, scores)
    ordered = keys.order(sorted(scores))
    if req.search_after is not None:
        ordered = keys.after(ordered, req.search_after)
    page = ordered[req.from_ : end]
    return [Hit(d, index.doc(d), scores[d] if req.scores_tracked else None, keys.values(d)) for d in page]


def count(index: SearchIndex, body: dict[str, Any] | None = None) -> int:
    """``_count``: the number of documents the body's ``query`` matches (default match_all)."""
    body = body or {}
    if not isinstance(body, dict):
        raise ParsingError("request body must be a JSON object")
    for key in body:
        if key != "query":
            raise ParsingError(f"request does not support [{key}]")
    # no page here: queries that cut to ``size`` (knn, hybrid) may keep up to the result window
    ctx = QueryContext(index, size=int(setting(index.settings, "index.max_result_window")))
    return len(evaluate(body.get("query", {"match_all": {}}), ctx))


# -- rendering -------------------------------------------------------------------------------------


def json_score(score: float | None) -> float | None:
    """A float32 score as OpenSearch prints it (the shortest decimal that reads back as the same
    float: 0.2876821, not 0.28768208622932434)."""
    if score is None or math.isnan(score):
        return None
    return float(str(np.float32(score)))


def render(
    index_name: str,
    result: SearchResult,
    body: dict[str, Any] | None = None,
    *,
    total_hits_as_int: bool = False,
) -> dict[str, Any]:
    """The ``_search`` response (spec §3.7). ``body`` defaults to the request ``execute`` parsed."""
    req = result.request if body is None or body is result.request.body else parse_request(body)
    index = result.index
    highlighter = None
    if req.highlight is not None:
        highlighter = _highlight.Highlighter(index, req.highlight, req.query)
    hits_out = []
    for hit in result.hits:
        stored = hit.stored
        out: dict[str, Any] = {"_index": index_name, "_id": stored.id}
        if req.version:
            out["_version"] = stored.version
        if req.seq_no_primary_term:
            out["_seq_no"] = stored.seq_no
            out["_primary_term"] = stored.primary_term
        out["_score"] = json_score(hit.score)
        source = _hit_source(index, stored, req)
        if source is not None:
            out["_source"] = source
        fields = _hit_fields(index, stored, req)
        if fields:
            out["fields"] = fields
        highlights = dict(highlighter.highlight(stored)) if highlighter is not None else {}
        highlights.update(hit.highlight)
        if highlights:
            out["highlight"] = highlights
        if req.sorted_by_field and hit.sort is not None:
            out["sort"] = [_sort_json(spec, v) for spec, v in zip(req.sort, hit.sort, strict=True)]
        out.update(hit.extra)
        hits_out.append(out)
    hits: dict[str, Any] = {}
    tth = req.track_total_hits
    if tth is not False:
        limit = math.inf if tth is True else int(tth)
        value = result.total if result.total <= limit else int(limit)
        relation = "eq" if result.total <= limit else "gte"
        hits["total"] = value if total_hits_as_int else {"value": value, "relation": relation}
    hits["max_score"] = json_score(result.max_score)
    hits["hits"] = hits_out
    response: dict[str, Any] = {"took": int(result.took_ms), "timed_out": result.timed_out}
    if result.terminated_early is not None:
        response["terminated_early"] = result.terminated_early
    response["_shards"] = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    response["hits"] = hits
    return response


def _sort_json(spec: SortField, value: Any) -> Any:
    if spec.field == "_score":
        return json_score(value)
    return value


def _hit_source(index: SearchIndex, stored: StoredDoc, req: SearchRequest) -> dict[str, Any] | None:
    if req.source is False:
        return None
    if req.stored_fields is not None and "_source" not in req.body:
        return None
    source = index.mapping.stored_source(stored.source)
    if source is None:
        return None
    if isinstance(req.source, dict):
        return filter_source(source, req.source["includes"], req.source["excludes"])
    return source


def _hit_fields(index: SearchIndex, stored: StoredDoc, req: SearchRequest) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for kind, specs in (("fields", req.fields), ("docvalue_fields", req.docvalue_fields)):
        for spec in specs:
            name = spec.get("field") if isinstance(spec, dict) else spec
            if not isinstance(name, str):
                raise ParsingError(f"[{kind}] entries must be field names or objects with [field]")
            for path in index.mapping.leaf_paths(name) if "*" in name else [name]:
                mapping = index.mapping.field(path)
                if mapping is None:
                    continue
                values = values_at(stored.source, index.mapping.source_path(path))
                if not values:
                    continue
                if kind == "docvalue_fields" and mapping["type"] == "date":
                    fmt = _date_format(mapping)
                    try:
                        values = [millis_to_iso(fmt.millis(v)) for v in values]
                    except ValueProblem:
                        continue
                out[path] = values
    return out


def search(
    index: SearchIndex,
    body: dict[str, Any] | None,
    *,
    phase_results: PhaseResults | None = None,
    extra: dict[str, Any] | None = None,
    total_hits_as_int: bool = False,
) -> dict[str, Any]:
    """``render(execute(...))``: a ``_search`` body in, the response out."""
    result = execute(index, body, phase_results=phase_results, extra=extra)
    return render(index.name, result, total_hits_as_int=total_hits_as_int)


def render_scores(
    index: SearchIndex, body: dict[str, Any] | None, scores: Scores, total: int | None = None
) -> dict[str, Any]:
    """The response for scores computed elsewhere (``execute_scores`` + ``render``)."""
    return render(index.name, execute_scores(index, body, scores, total))
