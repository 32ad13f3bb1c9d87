"""Hybrid search: every normalization / combination edge case of spec §3.5, and execution."""

from __future__ import annotations

import math
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search import core
from modelnode.search.core import QueryContext, SearchIndex, StoredDoc
from modelnode.search.hybrid import (
    Bound,
    Combination,
    Hybridization,
    Normalization,
    arithmetic_mean,
    combine,
    geometric_mean,
    harmonic_mean,
    hybridize,
    l2,
    min_max,
    min_max_one,
    normalize,
    parse_normalization_processor,
    parse_score_ranker_processor,
    rrf_score,
    rrf_sum,
    run_hybrid,
    with_filter,
    z_score,
)

# --- min_max ---------------------------------------------------------------------------------------


def test_min_max_basic_and_floor() -> None:
    assert min_max([10.0, 5.0, 0.0]) == [1.0, 0.5, 0.001]  # exactly 0 -> 0.001: the doc stays present


def test_min_max_single_hit_and_all_equal() -> None:
    assert min_max([3.7]) == [1.0]
    assert min_max([2.0, 2.0, 2.0]) == [1.0, 1.0, 1.0]
    assert min_max([]) == []


def test_min_max_lower_bound_apply() -> None:
    # max > bound and score > bound: the bound is the min; otherwise the real min
    lower = Bound("apply", 2.0)
    assert min_max([10.0, 6.0, 1.0], lower=lower) == [1.0, 0.5, 0.001]
    assert min_max_one(6.0, 1.0, 10.0, lower) == 0.5
    assert min_max_one(1.0, 1.0, 10.0, lower) == 0.001  # below the bound: real min -> 0 -> floor
    assert min_max_one(1.5, 1.0, 3.0, Bound("apply", 5.0)) == 0.25  # max <= bound: real min


def test_min_max_lower_bound_clip() -> None:
    clip = Bound("clip", 2.0)
    assert min_max_one(1.0, 1.0, 10.0, clip) == 0.001  # under the bound -> MIN_SCORE
    assert min_max_one(6.0, 1.0, 10.0, clip) == 0.5  # (6 - 2) / (10 - 2)
    assert min_max_one(2.0, 1.0, 3.0, Bound("clip", 5.0)) == 0.5  # max < bound: real min


def test_min_max_lower_bound_ignore_and_default_score() -> None:
    assert min_max_one(6.0, 1.0, 11.0, Bound("ignore", 5.0)) == 0.5
    assert min_max_one(5.0, -5.0, 10.0, Bound()) == 0.5  # apply with min_score 0.0: (5 - 0) / 10


def test_min_max_upper_bounds() -> None:
    assert min_max_one(4.0, 0.0, 10.0, upper=Bound("apply", 8.0)) == 0.5  # score < bound, min < bound
    assert min_max_one(9.0, 0.0, 10.0, upper=Bound("apply", 8.0)) == 0.9  # score >= bound: real max
    assert min_max_one(9.0, 0.0, 10.0, upper=Bound("clip", 8.0)) == 1.0  # clipped
    assert min_max_one(4.0, 0.0, 10.0, upper=Bound("clip", 8.0)) == 0.5
    assert min_max_one(6.0, 5.0, 10.0, upper=Bound("clip", 4.0)) == 0.2  # min > bound: real max
    assert min_max_one(5.0, 0.0, 10.0, upper=Bound("ignore", 8.0)) == 0.5


def test_bounds_must_match_the_sub_queries() -> None:
    norm = Normalization("min_max", lower_bounds=(Bound(),))
    with pytest.raises(IllegalArgument, match="expected bounds array to contain 2 elements"):
        normalize(norm, [[(1, 1.0)], [(1, 2.0)]])


# --- l2, z_score, rrf --------------------------------------------------------------------------------


def test_l2() -> None:
    assert l2([3.0, 4.0]) == [0.6, 0.8]
    assert l2([0.0, 0.0]) == [0.0, 0.0]


def test_z_score() -> None:
    scores = [1.0, 2.0, 3.0, 6.0]
    mean = 3.0
    std = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 3)  # sample std
    out = z_score(scores)
    assert out[0] == 0.001 and out[1] == 0.001  # below the mean -> floor
    assert out[2] == 6.0  # equal to the mean -> the max score (neural-search's edge case)
    assert out[3] == pytest.approx((6 - mean) / std)
    assert z_score([4.0]) == [4.0]
    assert z_score([2.0, 2.0]) == [2.0, 2.0]


def test_rrf_scores() -> None:
    assert rrf_score(1) == pytest.approx(1 / 61)
    assert rrf_score(1, 1) == 0.5
    assert rrf_score(3, 60) == float(round(1 / 63, 10))
    norm = normalize(Normalization("rrf", rank_constant=10), [[(7, 5.0), (8, 1.0)], [(8, 9.0)]])
    assert norm == [{7: rrf_score(1, 10), 8: rrf_score(2, 10)}, {8: rrf_score(1, 10)}]


# --- combination ---------------------------------------------------------------------------------


def test_arithmetic_mean_counts_missing_sub_queries() -> None:
    assert arithmetic_mean([1.0, 0.0]) == 0.5  # missing = 0.0 is in the denominator
    assert arithmetic_mean([0.6, 0.0], [0.3, 0.7]) == pytest.approx(0.18)
    assert arithmetic_mean([0.5, 1.0], [0.3, 0.7]) == pytest.approx(0.85)
    assert arithmetic_mean([0.0, 0.0], [0.0, 0.0]) == 0.0


def test_geometric_mean_skips_missing() -> None:
    assert geometric_mean([0.25, 0.0]) == 0.25
    assert geometric_mean([0.25, 1.0]) == pytest.approx(0.5)
    assert geometric_mean([0.2, 0.8], [0.25, 0.75]) == pytest.approx(
        math.exp(0.25 * math.log(0.2) + 0.75 * math.log(0.8))
    )
    assert geometric_mean([0.0, 0.0]) == 0.0


def test_harmonic_mean_skips_missing() -> None:
    assert harmonic_mean([0.5, 0.0]) == 0.5
    assert harmonic_mean([0.5, 1.0]) == pytest.approx(2 / (1 / 0.5 + 1 / 1.0))
    assert harmonic_mean([0.5, 1.0], [0.4, 0.6]) == pytest.approx(1.0 / (0.4 / 0.5 + 0.6 / 1.0))
    assert harmonic_mean([0.0]) == 0.0


def test_rrf_combination_is_a_weighted_sum() -> None:
    assert rrf_sum([0.1, 0.2]) == pytest.approx(0.3)
    assert rrf_sum([0.1, 0.0], [0.5, 0.5]) == pytest.approx(0.05)


def test_combine_every_doc_of_any_sub_query() -> None:
    normalized = [{1: 1.0, 2: 0.001}, {2: 1.0, 3: 0.5}]
    out = combine(Combination("arithmetic_mean"), normalized)
    assert out == {1: 0.5, 2: pytest.approx(0.5005), 3: 0.25}
    with pytest.raises(IllegalArgument, match=r"number of weights \[3\] must match number of sub-queries \[2\]"):
        combine(Combination("arithmetic_mean", (0.2, 0.3, 0.5)), normalized)


def test_hybridize_orders_by_combined_score() -> None:
    ranked = [[(1, 10.0), (2, 5.0), (3, 0.0)], [(3, 0.9), (4, 0.3)]]
    out = hybridize(Hybridization(), ranked)
    assert out == {3: pytest.approx((0.001 + 1.0) / 2), 1: 0.5, 2: 0.25, 4: pytest.approx(0.0005)}
    assert list(out) == [3, 1, 2, 4]


# --- processor configuration ---------------------------------------------------------------------


def test_parse_normalization_processor_defaults_and_options() -> None:
    assert parse_normalization_processor({}) == Hybridization()
    h = parse_normalization_processor(
        {
            "normalization": {
                "technique": "min_max",
                "parameters": {"lower_bounds": [{"mode": "clip", "min_score": 0.1}, {}]},
            },
            "combination": {"technique": "harmonic_mean", "parameters": {"weights": [0.3, 0.7]}},
        }
    )
    assert h.normalization.lower_bounds == (Bound("clip", 0.1), Bound("apply", 0.0))
    assert h.combination == Combination("harmonic_mean", (0.3, 0.7))
    assert parse_normalization_processor({"normalization": {"technique": "l2"}}).normalization.technique == "l2"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"normalization": {"technique": "max"}}, "provided normalization technique is not supported"),
        ({"combination": {"technique": "sum"}}, "provided combination technique is not supported"),
        (
            {"combination": {"parameters": {"weights": [0.5, 0.2]}}},
            "sum of weights for combination must be equal to 1.0",
        ),
        ({"combination": {"parameters": {"weights": [1.5, -0.5]}}}, r"all weights must be in range \[0.0 ... 1.0\]"),
        ({"combination": {"parameters": {"weights": "x"}}}, "must be a collection of numbers"),
        ({"combination": {"parameters": {"other": 1}}}, "supported parameters are"),
        (
            {"normalization": {"technique": "z_score"}, "combination": {"technique": "geometric_mean"}},
            "Z Score supports only arithmetic_mean",
        ),
        (
            {"normalization": {"technique": "min_max", "parameters": {"lower_bounds": [{"mode": "bogus"}]}}},
            "invalid mode: bogus",
        ),
        (
            {"normalization": {"technique": "min_max", "parameters": {"lower_bounds": [{"min_score": 20000}]}}},
            "min_score must be a valid finite number between",
        ),
        (
            {"normalization": {"technique": "min_max", "parameters": {"lower_bounds": [{}] * 6}}},
            "lower_bounds size 6 should be less than or equal to 5",
        ),
    ],
)
def test_parse_normalization_processor_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(IllegalArgument, match=message):
        parse_normalization_processor(config)


def test_weights_tolerance() -> None:
    assert parse_normalization_processor({"combination": {"parameters": {"weights": [0.333, 0.333, 0.333]}}})
    with pytest.raises(IllegalArgument):
        parse_normalization_processor({"combination": {"parameters": {"weights": [0.3, 0.3, 0.3]}}})


def test_parse_score_ranker_processor() -> None:
    h = parse_score_ranker_processor({"combination": {"technique": "rrf", "rank_constant": 5}})
    assert h.normalization == Normalization("rrf", rank_constant=5)
    assert h.combination == Combination("rrf")
    assert parse_score_ranker_processor({}).normalization.rank_constant == 60
    for bad in (0, 10_001, "x", True):
        with pytest.raises(IllegalArgument):
            parse_score_ranker_processor({"combination": {"rank_constant": bad}})


# --- execution -----------------------------------------------------------------------------------


class FakeMapping:
    def indexed_fields(self) -> list[tuple[str, dict[str, Any]]]:
        return []


def _scored(body: dict[str, Any], ctx: QueryContext) -> core.Scores:
    """Test query: {"_test_scored": {"doc id": score, ...}}."""
    return {ctx.index.by_id[doc_id]: float(score) for doc_id, score in body.items() if doc_id in ctx.index.by_id}


def _ids(body: dict[str, Any], ctx: QueryContext) -> core.Scores:
    return {ctx.index.by_id[doc_id]: 1.0 for doc_id in body["values"] if doc_id in ctx.index.by_id}


core.QUERY_TYPES["_test_scored"] = _scored
core.QUERY_TYPES["_test_ids"] = _ids


def make_index(n: int = 6) -> SearchIndex:
    index = SearchIndex("t", FakeMapping(), {})
    for i in range(n):
        index.put(StoredDoc(f"d{i}", {}))
    return index


def ids(index: SearchIndex, scores: dict[int, float]) -> dict[str, float]:
    return {index.doc(n).id: s for n, s in scores.items()}


def test_run_hybrid_normalizes_combines_and_counts() -> None:
    index = make_index()
    body = {
        "queries": [
            {"_test_scored": {"d0": 10.0, "d1": 5.0, "d2": 0.0, "d3": 1.0}},
            {"_test_scored": {"d2": 0.9, "d4": 0.3}},
        ]
    }
    result = run_hybrid(body, QueryContext(index), Hybridization(), size=3)
    # each sub-query keeps its top from+size = 3 hits: d3 (1.0) beats d2 (0.0) in the first
    assert [[index.doc(n).id for n, _ in hits] for hits in result.sub_query_hits] == [["d0", "d1", "d3"], ["d2", "d4"]]
    assert ids(index, result.scores) == {
        "d0": 0.5,
        "d2": 0.5,
        "d1": pytest.approx((5 - 1) / 9 / 2),
        "d4": pytest.approx(0.0005),
        "d3": pytest.approx(0.0005),
    }
    assert result.total == 5  # distinct matches of any sub-query, not only the kept ones


def _bool_must_filter(body: dict[str, Any], ctx: QueryContext) -> core.Scores:
    """Stand-in for the core's bool (must + filter only) when it is not registered."""
    from modelnode.search.vector import evaluate

    scores = evaluate(body["must"][0], ctx)
    for clause in body.get("filter", []):
        allowed = evaluate(clause, ctx)
        scores = {n: s for n, s in scores.items() if n in allowed}
    return scores


def test_run_hybrid_filter_and_pagination(monkeypatch: pytest.MonkeyPatch) -> None:
    if "bool" not in core.QUERY_TYPES:
        monkeypatch.setitem(core.QUERY_TYPES, "bool", _bool_must_filter)
    index = make_index()
    body = {
        "queries": [{"_test_scored": {"d0": 3.0, "d1": 2.0, "d2": 1.0}}],
        "filter": {"_test_ids": {"values": ["d1", "d2"]}},
    }
    result = run_hybrid(body, QueryContext(index), Hybridization(), size=10)
    assert ids(index, result.scores) == {"d1": 1.0, "d2": 0.001}
    assert result.total == 2
    with pytest.raises(IllegalArgument, match="pagination_depth is missing"):
        run_hybrid(body, QueryContext(index), Hybridization(), from_=2, size=2)
    paged = run_hybrid({**body, "pagination_depth": 1}, QueryContext(index), Hybridization(), from_=1, size=1)
    assert ids(index, paged.scores) == {"d1": 1.0}


def test_hybrid_filter_goes_into_knn() -> None:
    knn = {"knn": {"v": {"vector": [1.0], "k": 3}}}
    f = {"term": {"a": "b"}}
    assert with_filter(knn, f) == {"knn": {"v": {"vector": [1.0], "k": 3, "filter": f}}}
    both = with_filter({"knn": {"v": {"vector": [1.0], "k": 3, "filter": {"x": {}}}}}, f)
    assert both["knn"]["v"]["filter"] == {"bool": {"filter": [{"x": {}}, f]}}
    assert with_filter({"match_all": {}}, f) == {"bool": {"must": [{"match_all": {}}], "filter": [f]}}


@pytest.mark.parametrize(
    "body",
    [
        {"queries": []},
        {"queries": [{"match_all": {}}] * 6},
        {"queries": [{"match_all": {}}], "bogus": 1},
        {"queries": [{"match_all": {}}], "pagination_depth": 0},
    ],
)
def test_hybrid_validation(body: dict[str, Any]) -> None:
    with pytest.raises(ModelNodeError) as err:
        run_hybrid(body, QueryContext(make_index()), Hybridization())
    assert err.value.status == 400


def test_hybrid_must_be_top_level() -> None:
    with pytest.raises(IllegalArgument, match="hybrid query must be a top level query"):
        core.QUERY_TYPES["hybrid"]({"queries": []}, QueryContext(make_index()))


def test_count_hybrid_is_the_union_of_matches() -> None:
    from modelnode.search.hybrid import count_hybrid

    index = make_index()
    body = {"queries": [{"_test_scored": {"d0": 1.0, "d1": 1.0}}, {"_test_scored": {"d1": 2.0, "d5": 1.0}}]}
    assert count_hybrid(body, QueryContext(index)) == 3
