"""Compound queries: ``bool``, ``constant_score``, ``dis_max``, ``boosting``, ``nested``; their clauses go
back through ``evaluate``. Importing this module registers them in ``core.QUERY_TYPES``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError, QueryShardError
from modelnode.search.core import QUERY_TYPES, QueryContext, Scores
from modelnode.search.mapping import java_string
from modelnode.search.query.base import (
    _boost,
    _check_keys,
    _constant,
    _scale,
    calculate_msm,
    evaluate,
    filter_context,
    matching,
)
from modelnode.search.query.leaves import _dis_max
from modelnode.search.text import f32

# -- compound queries ------------------------------------------------------------------------------


def _clauses(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise ParsingError(f"[bool] query does not support [{key}] value [{java_string(value)}]")


def _q_bool(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[bool] query malformed, no start_object after query name")
    _check_keys(
        "bool",
        body,
        ("must", "should", "filter", "must_not", "minimum_should_match", "boost", "adjust_pure_negative", "_name"),
    )
    boost = _boost(body, "bool")
    must = [evaluate(q, ctx) for q in _clauses(body, "must")]
    fctx = filter_context(ctx)
    filters = [evaluate(q, fctx).keys() for q in _clauses(body, "filter")]
    must_not = [evaluate(q, fctx).keys() for q in _clauses(body, "must_not")]
    should = [evaluate(q, ctx) for q in _clauses(body, "should")]
    if not (must or filters or must_not or should):
        return _constant(ctx.index.live(), boost)  # an empty bool is match_all
    msm_spec = body.get("minimum_should_match")
    if msm_spec is not None:
        msm = calculate_msm(len(should), msm_spec)
    elif should and (ctx.filter or not (must or filters)):
        msm = 1  # should clauses are required without must/filter, and in filter context
    else:
        msm = 0
    required = [*[m.keys() for m in must], *filters]
    if required:
        required.sort(key=len)
        candidates: set[int] = set(required[0])
        for keys in required[1:]:
            candidates &= keys
    elif should and msm > 0:
        candidates = set().union(*(s.keys() for s in should))
    else:
        candidates = set(ctx.index.live())
    for excluded in must_not:
        candidates -= excluded
    scored = bool(must or should)
    out: Scores = {}
    for doc in candidates:
        total = 0.0
        for scores in must:
            total += scores[doc]
        matched = 0
        for scores in should:
            s = scores.get(doc)
            if s is not None:
                matched += 1
                total += s
        if matched < msm:
            continue
        out[doc] = f32(total) if scored else 0.0
    return _scale(out, boost) if scored else out


def _q_constant_score(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[constant_score] query malformed, no start_object after query name")
    _check_keys("constant_score", body, ("filter", "boost", "_name"))
    if "filter" not in body:
        raise ParsingError("[constant_score] requires a 'filter' element")
    return _constant(matching(body["filter"], ctx), _boost(body, "constant_score"))


def _q_dis_max(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[dis_max] query malformed, no start_object after query name")
    _check_keys("dis_max", body, ("queries", "tie_breaker", "boost", "_name"))
    queries = body.get("queries")
    if not isinstance(queries, list) or not queries:
        raise ParsingError("[dis_max] requires 'queries' field with at least one clause")
    per_query = [evaluate(q, ctx) for q in queries]
    return _scale(_dis_max(per_query, float(body.get("tie_breaker", 0.0))), _boost(body, "dis_max"))


def _q_boosting(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[boosting] query malformed, no start_object after query name")
    _check_keys("boosting", body, ("positive", "negative", "negative_boost", "boost", "_name"))
    for key in ("positive", "negative"):
        if key not in body:
            raise ParsingError(f"[boosting] query requires '{key}' query")
    if "negative_boost" not in body:
        raise ParsingError("[boosting] query requires 'negative_boost' to be set to be a positive value'")
    negative_boost = float(body["negative_boost"])
    if negative_boost < 0:
        raise IllegalArgument("[boosting] query requires [negative_boost] to be a positive value")
    positive = evaluate(body["positive"], ctx)
    negative = matching(body["negative"], ctx)
    factor = np.float32(negative_boost)
    out = {d: float(np.float32(s) * factor) if d in negative else s for d, s in positive.items()}
    return _scale(out, _boost(body, "boosting"))


_SCORE_MODES = ("avg", "max", "min", "sum", "none")


def _q_nested(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[nested] query malformed, no start_object after query name")
    _check_keys("nested", body, ("path", "query", "score_mode", "ignore_unmapped", "inner_hits", "boost", "_name"))
    if "inner_hits" in body:
        raise IllegalArgument("[nested] [inner_hits] is not supported by modelnode's search engine")
    path = body.get("path")
    if not isinstance(path, str):
        raise ParsingError("[nested] requires 'path' field")
    if "query" not in body:
        raise ParsingError("[nested] requires 'query' field")
    score_mode = str(body.get("score_mode", "avg")).lower()
    if score_mode not in _SCORE_MODES:
        raise IllegalArgument(f"[nested] illegal score_mode [{body.get('score_mode')}]")
    kind = ctx.index.mapping.object_type(path)
    if kind != "nested":
        if body.get("ignore_unmapped", False) is True and kind is None:
            return {}
        if kind is None:
            raise QueryShardError(f"[nested] failed to find nested object under path [{path}]")
        raise QueryShardError(f"[nested] nested object under path [{path}] is not of nested type")
    inner_ctx = replace(ctx, extra={**ctx.extra, "nested": {"path": path, "score_mode": score_mode}})
    scores = evaluate(body["query"], inner_ctx)
    if score_mode == "none":
        return dict.fromkeys(scores, 0.0)
    return _scale(scores, _boost(body, "nested"))


# Registered on import, after the leaf queries (``leaves`` is imported first): see ``leaves``.
for _name, _fn in {
    "bool": _q_bool,
    "constant_score": _q_constant_score,
    "dis_max": _q_dis_max,
    "boosting": _q_boosting,
    "nested": _q_nested,
}.items():
    QUERY_TYPES[_name] = _fn
