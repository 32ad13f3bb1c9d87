"""The ``hybrid`` query: per-sub-query top results, score normalization and combination (spec §3.5).

Execution (``run_hybrid``): each of the 1..5 sub-queries (with ``hybrid.filter`` pushed into it, as
``HybridQueryBuilder.filter`` does: into a ``knn``'s own filter, else ``bool{must, filter}``) is
evaluated on its own and keeps its top ``pagination_depth`` hits, or ``from + size`` without it
(``from > 0`` then needs ``pagination_depth``, as OpenSearch 2.19+). The normalization runs per
sub-query over those hits, then every document that any sub-query returned gets the combined score.
``total`` is the number of distinct documents matched by any sub-query (all matches, not only the
kept ones). ``hybrid`` is top-level only: inside another query it is an error.

The normalization and combination functions below are pure and mirror neural-search's
``processor/normalization/*`` and ``processor/combination/*`` (float64 instead of Java floats):

- ``min_max``: (s − min)/(max − min); exactly 0 becomes 0.001; a single hit / all equal -> 1.0;
  optional per-sub-query ``lower_bounds`` / ``upper_bounds`` (apply | clip | ignore);
- ``l2``: s / sqrt(Σ s²), 0.0 when the norm is 0;
- ``z_score``: (s − mean)/std (sample std); s == mean -> the max score; std == 0 -> the min score;
  results ≤ 0 -> 0.001; only with ``arithmetic_mean``;
- ``rrf``: 1/(rank_constant + rank), rank from 1, rounded to 10 decimals (BigDecimal HALF_UP);
- ``arithmetic_mean``: Σ w n / Σ w over sub-queries with n ≥ 0; a document missing from a sub-query
  has n = 0.0, so it counts in the denominator;
- ``geometric_mean`` / ``harmonic_mean``: over sub-queries with n > 0 only (missing ones skipped);
- ``rrf`` combination: Σ w × n (no division). Without ``weights`` every w is 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import core
from modelnode.search.core import QueryContext, Scores
from modelnode.search.vector import evaluate

MAX_SUB_QUERIES = 5
MIN_SCORE = 0.001  # min_max / z_score floor: the doc stays "present"
SINGLE_RESULT_SCORE = 1.0
MIN_BOUND_SCORE = -10_000.0
MAX_BOUND_SCORE = 10_000.0
DEFAULT_RANK_CONSTANT = 60
MAX_RANK_CONSTANT = 10_000
WEIGHTS_DELTA = 0.01
MAX_PAGINATION_DEPTH = 10_000
NORMALIZATION_TECHNIQUES = ("min_max", "l2", "z_score", "rrf")
COMBINATION_TECHNIQUES = ("arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf")
BOUND_MODES = ("apply", "clip", "ignore")


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    mode: str = "apply"
    score: float = 0.0


@dataclass(frozen=True)
class Normalization:
    technique: str = "min_max"
    lower_bounds: tuple[Bound, ...] | None = None
    upper_bounds: tuple[Bound, ...] | None = None
    rank_constant: int = DEFAULT_RANK_CONSTANT


@dataclass(frozen=True)
class Combination:
    technique: str = "arithmetic_mean"
    weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class Hybridization:
    """What a ``normalization-processor`` or ``score-ranker-processor`` does to hybrid results."""

    normalization: Normalization = Normalization()
    combination: Combination = Combination()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise IllegalArgument(f"invalid format for {what}: must be a valid float value")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise IllegalArgument(f"invalid format for {what}: must be a valid float value") from None
    if not math.isfinite(out):
        raise IllegalArgument(f"{what} must be a valid finite number")
    return out


def parse_bounds(value: Any, name: str) -> tuple[Bound, ...]:
    score_key, default = ("min_score", 0.0) if name == "lower_bounds" else ("max_score", 1.0)
    if not isinstance(value, list):
        raise IllegalArgument(f"{name} must be a List")
    if len(value) > MAX_SUB_QUERIES:
        raise IllegalArgument(f"{name} size {len(value)} should be less than or equal to {MAX_SUB_QUERIES}")
    bounds = []
    for item in value:
        if not isinstance(item, dict):
            raise IllegalArgument("each bound must be a map")
        unknown = set(item) - {"mode", score_key}
        if unknown:
            raise IllegalArgument(f"unrecognized parameters in normalization technique: {sorted(unknown)}")
        mode = str(item.get("mode") or "apply").lower()
        if mode not in BOUND_MODES:
            raise IllegalArgument(f"invalid mode: {item.get('mode')}, valid values are: {', '.join(BOUND_MODES)}")
        score = default if item.get(score_key) is None else _number(item[score_key], score_key)
        if not MIN_BOUND_SCORE <= score <= MAX_BOUND_SCORE:
            raise IllegalArgument(
                f"{score_key} must be a valid finite number between {MIN_BOUND_SCORE:f} and {MAX_BOUND_SCORE:f}"
            )
        bounds.append(Bound(mode, score))
    return tuple(bounds)


def parse_weights(params: Any, supported: frozenset[str] = frozenset({"weights"})) -> tuple[float, ...]:
    if params is None:
        return ()
    if not isinstance(params, dict):
        raise IllegalArgument("[parameters] must be an object")
    unknown = set(params) - supported
    if unknown:
        raise IllegalArgument(
            "provided parameter for combination technique is not supported. "
            f"supported parameters are [{','.join(sorted(supported))}]"
        )
    if "weights" not in params:
        return ()
    raw = params["weights"]
    if not isinstance(raw, list) or any(isinstance(w, bool) or not isinstance(w, int | float) for w in raw):
        raise IllegalArgument("parameter [weights] must be a collection of numbers")
    weights = tuple(float(w) for w in raw)
    shown = "[" + ", ".join(repr(w) for w in weights) + "]"
    if any(not 0.0 <= w <= 1.0 for w in weights):
        raise IllegalArgument(f"all weights must be in range [0.0 ... 1.0], submitted weights: {shown}")
    if weights and abs(1.0 - sum(weights)) > WEIGHTS_DELTA + 1e-9:
        raise IllegalArgument(f"sum of weights for combination must be equal to 1.0, submitted weights: {shown}")
    return weights


def parse_rank_constant(value: Any) -> int:
    if isinstance(value, bool):
        raise IllegalArgument("parameter [rank_constant] must be an integer")
    try:
        rank_constant = int(str(value))
    except ValueError:
        raise IllegalArgument("parameter [rank_constant] must be an integer") from None
    if not 1 <= rank_constant <= MAX_RANK_CONSTANT:
        raise IllegalArgument(
            f"rank constant must be in the interval between 1 and {MAX_RANK_CONSTANT}, "
            f"submitted rank constant: {rank_constant}"
        )
    return rank_constant


def _clause(config: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ParsingError(f"[{key}] must be an object")
    return value


def _technique(clause: Mapping[str, Any], default: str) -> str:
    value = clause.get("technique", default)
    if not isinstance(value, str):
        raise ParsingError("[technique] must be a string")
    return value


def parse_normalization_processor(config: Mapping[str, Any]) -> Hybridization:
    """``normalization-processor``'s ``normalization`` / ``combination`` clauses (unknown keys were
    already refused by the pipeline parser)."""
    normalization = Normalization()
    norm_clause = _clause(config, "normalization")
    norm_name = "min_max"
    if norm_clause is not None:
        unknown = set(norm_clause) - {"technique", "parameters"}
        if unknown:
            raise IllegalArgument(f"unrecognized parameters in normalization clause: {sorted(unknown)}")
        norm_name = _technique(norm_clause, "min_max")
        if norm_name not in NORMALIZATION_TECHNIQUES or norm_name == "rrf":
            raise IllegalArgument("provided normalization technique is not supported")
        params = norm_clause.get("parameters") or {}
        if not isinstance(params, dict):
            raise IllegalArgument("[parameters] must be an object")
        if norm_name == "min_max":
            unknown = set(params) - {"lower_bounds", "upper_bounds"}
            if unknown:
                raise IllegalArgument("unrecognized parameters in normalization technique")
            lower = parse_bounds(params["lower_bounds"], "lower_bounds") if "lower_bounds" in params else None
            upper = parse_bounds(params["upper_bounds"], "upper_bounds") if "upper_bounds" in params else None
            normalization = Normalization("min_max", lower, upper)
        else:
            if params:
                raise IllegalArgument("unrecognized parameters in normalization technique")
            normalization = Normalization(norm_name)
    combination = Combination()
    comb_clause = _clause(config, "combination")
    if comb_clause is not None:
        unknown = set(comb_clause) - {"technique", "parameters"}
        if unknown:
            raise IllegalArgument(f"unrecognized parameters in combination clause: {sorted(unknown)}")
        comb_name = _technique(comb_clause, "arithmetic_mean")
        if comb_name not in COMBINATION_TECHNIQUES or comb_name == "rrf":
            raise IllegalArgument("provided combination technique is not supported")
        if norm_name == "z_score" and comb_name != "arithmetic_mean":
            raise IllegalArgument("Z Score supports only arithmetic_mean combination technique")
        combination = Combination(comb_name, parse_weights(comb_clause.get("parameters")))
    return Hybridization(normalization, combination)


def parse_score_ranker_processor(config: Mapping[str, Any]) -> Hybridization:
    """``score-ranker-processor``: ``{"combination": {"technique": "rrf", "rank_constant": 60,
    "parameters": {"weights": [...]}}}``."""
    rank_constant = DEFAULT_RANK_CONSTANT
    weights: tuple[float, ...] = ()
    clause = _clause(config, "combination")
    if clause is not None:
        unknown = set(clause) - {"technique", "rank_constant", "parameters"}
        if unknown:
            raise IllegalArgument(f"unrecognized parameters in combination clause: {sorted(unknown)}")
        if _technique(clause, "rrf") != "rrf":
            raise IllegalArgument("provided combination technique is not supported")
        if "rank_constant" in clause:
            rank_constant = parse_rank_constant(clause["rank_constant"])
        weights = parse_weights(clause.get("parameters"))
    return Hybridization(Normalization("rrf", rank_constant=rank_constant), Combination("rrf", weights))


# --- normalization (pure) ------------------------------------------------------------------------


def _lower_effective(bound: Bound | None, score: float, lo: float, hi: float) -> float:
    if bound is None:
        return lo
    if bound.mode == "apply":
        return bound.score if hi > bound.score and score > bound.score else lo
    if bound.mode == "clip":
        return lo if hi < bound.score else bound.score
    return lo


def _upper_effective(bound: Bound | None, score: float, lo: float, hi: float) -> float:
    if bound is None:
        return hi
    if bound.mode == "apply":
        return bound.score if lo < bound.score and score < bound.score else hi
    if bound.mode == "clip":
        return hi if lo > bound.score else bound.score
    return hi


def min_max_one(score: float, lo: float, hi: float, lower: Bound | None = None, upper: Bound | None = None) -> float:
    """One score of a sub-query whose returned hits span [lo, hi]."""
    if hi == lo and hi == score:
        return SINGLE_RESULT_SCORE
    eff_lo = _lower_effective(lower, score, lo, hi)
    eff_hi = _upper_effective(upper, score, lo, hi)
    if lower is not None and lower.mode == "clip" and score < eff_lo:
        return MIN_SCORE
    if upper is not None and upper.mode == "clip" and score > eff_hi:
        return 1.0
    if eff_hi == eff_lo:
        return SINGLE_RESULT_SCORE
    normalized = (score - eff_lo) / (eff_hi - eff_lo)
    return MIN_SCORE if normalized == 0.0 else normalized


def min_max(scores: Sequence[float], lower: Bound | None = None, upper: Bound | None = None) -> list[float]:
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    return [min_max_one(s, lo, hi, lower, upper) for s in scores]


def l2(scores: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(s * s for s in scores))
    return [0.0 if norm == 0 else s / norm for s in scores]


def z_score(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    n = len(scores)
    mean = sum(scores) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1)) if n > 1 else 0.0  # sample std
    lo, hi = min(scores), max(scores)
    out = []
    for s in scores:
        if s == mean:
            out.append(hi)
        elif std == 0.0:
            out.append(lo)
        else:
            z = (s - mean) / std
            out.append(MIN_SCORE if z <= 0.0 else z)
    return out


def rrf_score(rank: int, rank_constant: int = DEFAULT_RANK_CONSTANT) -> float:
    """1 / (rank_constant + rank) for a 1-based rank, rounded to 10 decimals HALF_UP as neural-search."""
    value = (Decimal(1) / Decimal(rank_constant + rank)).quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
    return float(value)


def normalize(normalization: Normalization, ranked: Sequence[Sequence[tuple[int, float]]]) -> list[dict[int, float]]:
    """Per sub-query, its returned hits (best first) -> {doc: normalized score}."""
    for bounds in (normalization.lower_bounds, normalization.upper_bounds):
        if bounds is not None and ranked and len(bounds) != len(ranked):
            raise IllegalArgument(
                f"expected bounds array to contain {len(ranked)} elements matching the number of sub-queries, "
                "but found a mismatch"
            )
    out: list[dict[int, float]] = []
    for j, hits in enumerate(ranked):
        docs = [doc for doc, _ in hits]
        scores = [score for _, score in hits]
        technique = normalization.technique
        if technique == "min_max":
            lower = normalization.lower_bounds[j] if normalization.lower_bounds else None
            upper = normalization.upper_bounds[j] if normalization.upper_bounds else None
            values = min_max(scores, lower, upper)
        elif technique == "l2":
            values = l2(scores)
        elif technique == "z_score":
            values = z_score(scores)
        elif technique == "rrf":
            values = [rrf_score(rank, normalization.rank_constant) for rank in range(1, len(scores) + 1)]
        else:
            raise IllegalArgument("provided normalization technique is not supported")
        out.append(dict(zip(docs, values, strict=True)))
    return out


# --- combination (pure) --------------------------------------------------------------------------


def _weight(weights: Sequence[float], j: int) -> float:
    return weights[j] if j < len(weights) else 1.0


def check_weights(weights: Sequence[float], sub_queries: int) -> None:
    if weights and len(weights) != sub_queries:
        raise IllegalArgument(
            f"number of weights [{len(weights)}] must match number of sub-queries [{sub_queries}] in hybrid query"
        )


def arithmetic_mean(scores: Sequence[float], weights: Sequence[float] = ()) -> float:
    total = weight_sum = 0.0
    for j, score in enumerate(scores):
        if score >= 0.0:
            w = _weight(weights, j)
            total += w * score
            weight_sum += w
    return 0.0 if weight_sum == 0 else total / weight_sum


def geometric_mean(scores: Sequence[float], weights: Sequence[float] = ()) -> float:
    ln_sum = weight_sum = 0.0
    for j, score in enumerate(scores):
        if score <= 0:
            continue
        w = _weight(weights, j)
        weight_sum += w
        ln_sum += w * math.log(score)
    return 0.0 if weight_sum == 0 else math.exp(ln_sum / weight_sum)


def harmonic_mean(scores: Sequence[float], weights: Sequence[float] = ()) -> float:
    weight_sum = harmonic = 0.0
    for j, score in enumerate(scores):
        if score <= 0:
            continue
        w = _weight(weights, j)
        weight_sum += w
        harmonic += w / score
    return weight_sum / harmonic if harmonic > 0 else 0.0


def rrf_sum(scores: Sequence[float], weights: Sequence[float] = ()) -> float:
    return sum(_weight(weights, j) * score for j, score in enumerate(scores))


COMBINERS = {
    "arithmetic_mean": arithmetic_mean,
    "geometric_mean": geometric_mean,
    "harmonic_mean": harmonic_mean,
    "rrf": rrf_sum,
}


def combine(combination: Combination, normalized: Sequence[Mapping[int, float]]) -> dict[int, float]:
    """Every doc any sub-query returned -> its combined score (missing sub-queries count as 0.0)."""
    check_weights(combination.weights, len(normalized))
    fn = COMBINERS.get(combination.technique)
    if fn is None:
        raise IllegalArgument("provided combination technique is not supported")
    docs: dict[int, None] = {}
    for sub in normalized:
        docs.update(dict.fromkeys(sub))
    return {doc: fn([sub.get(doc, 0.0) for sub in normalized], combination.weights) for doc in docs}


def hybridize(hybridization: Hybridization, ranked: Sequence[Sequence[tuple[int, float]]]) -> dict[int, float]:
    """Normalize per sub-query, then combine: doc -> final score, best first (ties: lower doc first)."""
    check_weights(hybridization.combination.weights, len(ranked))
    combined = combine(hybridization.combination, normalize(hybridization.normalization, ranked))
    return dict(sorted(combined.items(), key=lambda item: (-item[1], item[0])))


# --- execution -----------------------------------------------------------------------------------


@dataclass
class HybridResult:
    scores: dict[int, float]  # combined, best first
    total: int  # distinct docs matched by any sub-query
    sub_query_hits: list[list[tuple[int, float]]]  # raw top hits per sub-query (for explain/debug)


HYBRID_KEYS = frozenset({"queries", "filter", "pagination_depth", "boost", "_name"})


def parse_hybrid(body: Any) -> tuple[list[Any], Any, int | None]:
    if not isinstance(body, dict):
        raise ParsingError("[hybrid] query malformed, expects an object")
    unknown = set(body) - HYBRID_KEYS
    if unknown:
        raise ParsingError(f"[hybrid] query does not support [{sorted(unknown)[0]}]")
    queries = body.get("queries")
    if not isinstance(queries, list) or not queries:
        raise ParsingError("[hybrid] requires 'queries' field with at least one clause")
    if len(queries) > MAX_SUB_QUERIES:
        raise ParsingError(f"Number of sub-queries exceeds maximum supported by [hybrid] query ({MAX_SUB_QUERIES})")
    depth = body.get("pagination_depth")
    if depth is not None and (
        isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_PAGINATION_DEPTH
    ):
        raise IllegalArgument(f"pagination_depth should be in the range [1, {MAX_PAGINATION_DEPTH}]")
    return queries, body.get("filter"), depth


def with_filter(query: Any, filter_query: Any) -> Any:
    """``HybridQueryBuilder.filter``: a knn takes the filter into its own (efficient) filter; any
    other query becomes ``bool{must: query, filter: filter}``."""
    if filter_query is None:
        return query
    if isinstance(query, dict) and len(query) == 1 and "knn" in query:
        body = query["knn"]
        if isinstance(body, dict) and len(body) == 1:
            ((field, opts),) = body.items()
            if isinstance(opts, dict):
                existing = opts.get("filter")
                merged = filter_query if existing is None else {"bool": {"filter": [existing, filter_query]}}
                return {"knn": {field: {**opts, "filter": merged}}}
    return {"bool": {"must": [query], "filter": [filter_query]}}


def top_hits(scores: Scores, depth: int) -> list[tuple[int, float]]:
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:depth]


def run_hybrid(
    body: Any,
    ctx: QueryContext,
    hybridization: Hybridization,
    *,
    from_: int = 0,
    size: int = 10,
) -> HybridResult:
    """Execute a top-level ``hybrid`` query body (already rewritten: no ``neural`` left)."""
    queries, filter_query, depth = parse_hybrid(body)
    if depth is None:
        if from_ > 0:
            raise IllegalArgument("pagination_depth is missing in the search request")
        depth = from_ + size
    depth = max(depth, 0)
    hits: list[list[tuple[int, float]]] = []
    matched: set[int] = set()
    for sub in queries:
        scores = evaluate(with_filter(sub, filter_query), ctx)
        matched.update(scores)
        hits.append(top_hits(scores, depth))
    combined = hybridize(hybridization, hits) if depth else {}
    return HybridResult(combined, len(matched), hits)


def count_hybrid(body: Any, ctx: QueryContext) -> int:
    """``_count`` of a top-level hybrid query: documents matched by any sub-query (filter applied)."""
    queries, filter_query, _ = parse_hybrid(body)
    matched: set[int] = set()
    for sub in queries:
        matched.update(evaluate(with_filter(sub, filter_query), ctx))
    return len(matched)


def _nested_hybrid(body: Any, ctx: QueryContext) -> Scores:
    raise IllegalArgument("hybrid query must be a top level query and cannot be wrapped into other queries")


core.QUERY_TYPES["hybrid"] = _nested_hybrid
