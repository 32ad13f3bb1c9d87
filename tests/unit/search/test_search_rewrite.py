"""rewrite.resolve: neural -> knn and neural_sparse text -> tokens through a fake Encoder."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search.rewrite import MISSING_MODEL_ID, EmbeddingCache, resolve


class FakeEncoder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []

    async def text_embedding(self, model_id: str, texts: list[str]) -> list[list[float]]:
        self.calls.append(("dense", model_id, list(texts)))
        return [[float(len(t)), float(len(model_id))] for t in texts]

    async def sparse_encoding(self, model_id: str, texts: list[str]) -> list[dict[str, float]]:
        self.calls.append(("sparse", model_id, list(texts)))
        return [{w: 1.5 for w in t.lower().split()} for t in texts]

    async def similarity(self, model_id: str, query_text: str, texts: list[str]) -> list[float]:
        raise AssertionError("not used")

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        raise AssertionError("not used")

    def function_name(self, model_id: str) -> str:
        return "TEXT_EMBEDDING"


def run(query: Any, encoder: FakeEncoder | None = None, **kwargs: Any) -> Any:
    return asyncio.run(resolve(query, encoder or FakeEncoder(), **kwargs))


def neural(text: str, **opts: Any) -> dict[str, Any]:
    return {"neural": {"emb": {"query_text": text, **opts}}}


def test_neural_becomes_knn_keeping_its_options() -> None:
    out = run(
        neural(
            "wild west",
            model_id="m1",
            k=5,
            boost=2.0,
            _name="n",
            method_parameters={"ef_search": 50},
            filter={"term": {"genre": "western"}},
        )
    )
    assert out == {
        "knn": {
            "emb": {
                "vector": [9.0, 2.0],
                "k": 5,
                "boost": 2.0,
                "_name": "n",
                "method_parameters": {"ef_search": 50},
                "filter": {"term": {"genre": "western"}},
            }
        }
    }


def test_default_k_and_radial_options() -> None:
    assert run(neural("a", model_id="m"))["knn"]["emb"]["k"] == 10
    radial = run(neural("a", model_id="m", min_score=0.5))["knn"]["emb"]
    assert radial["min_score"] == 0.5 and "k" not in radial
    assert run(neural("a", model_id="m", max_distance=2))["knn"]["emb"]["max_distance"] == 2
    with pytest.raises(IllegalArgument, match="Only one of k, max_distance, or min_score"):
        run(neural("a", model_id="m", k=3, min_score=0.2))


def test_the_query_tree_is_walked_and_the_input_left_alone() -> None:
    query = {
        "bool": {
            "must": [neural("one", model_id="m")],
            "should": neural("two", model_id="m"),
            "filter": [{"nested": {"path": "c", "query": neural("three", model_id="m")}}],
            "must_not": [{"constant_score": {"filter": neural("four", model_id="m")}}],
        }
    }
    before = repr(query)
    encoder = FakeEncoder()
    out = run(query, encoder)
    assert repr(query) == before
    assert out["bool"]["must"][0]["knn"]["emb"]["vector"] == [3.0, 1.0]
    assert out["bool"]["should"]["knn"]["emb"]["vector"] == [3.0, 1.0]
    assert out["bool"]["filter"][0]["nested"]["query"]["knn"]["emb"]["vector"] == [5.0, 1.0]
    assert out["bool"]["must_not"][0]["constant_score"]["filter"]["knn"]["emb"]["vector"] == [4.0, 1.0]
    # one encoder call for the model, each distinct text once
    assert encoder.calls == [("dense", "m", ["one", "two", "three", "four"])]


def test_hybrid_and_knn_filters_are_walked() -> None:
    query = {
        "hybrid": {
            "queries": [{"match": {"t": "x"}}, neural("a", model_id="m")],
            "filter": {"bool": {"must": [neural("b", model_id="m")]}},
        }
    }
    out = run(query)
    assert out["hybrid"]["queries"][0] == {"match": {"t": "x"}}
    assert out["hybrid"]["queries"][1]["knn"]["emb"]["vector"] == [1.0, 1.0]
    assert out["hybrid"]["filter"]["bool"]["must"][0]["knn"]["emb"]["vector"] == [1.0, 1.0]
    knn = run({"knn": {"v": {"vector": [1], "k": 1, "filter": neural("abc", model_id="m")}}})
    assert knn["knn"]["v"]["filter"]["knn"]["emb"]["vector"] == [3.0, 1.0]


def test_model_id_resolution_order() -> None:
    defaults = {"default_model_id": "global", "neural_field_default_id": {"emb": "per-field"}}
    encoder = FakeEncoder()
    run(
        {
            "bool": {
                "should": [neural("x", model_id="explicit"), neural("y"), {"neural": {"other": {"query_text": "z"}}}]
            }
        },
        encoder,
        default_model_ids=defaults,
    )
    assert sorted(encoder.calls) == [
        ("dense", "explicit", ["x"]),
        ("dense", "global", ["z"]),
        ("dense", "per-field", ["y"]),
    ]
    with pytest.raises(IllegalArgument) as err:
        run(neural("x"))
    assert err.value.reason == MISSING_MODEL_ID
    with pytest.raises(IllegalArgument):
        run(neural("x"), default_model_ids={"neural_field_default_id": {"elsewhere": "m"}})


def test_cache_hits_skip_the_encoder() -> None:
    cache = EmbeddingCache(max_entries=2)
    encoder = FakeEncoder()
    run(neural("a", model_id="m"), encoder, cache=cache)
    run(neural("a", model_id="m"), encoder, cache=cache)
    assert encoder.calls == [("dense", "m", ["a"])]
    assert (cache.hits, cache.misses) == (1, 1)
    run({"bool": {"should": [neural("a", model_id="m"), neural("b", model_id="m")]}}, encoder, cache=cache)
    assert encoder.calls[-1] == ("dense", "m", ["b"])  # only the miss is encoded
    run(neural("c", model_id="m"), encoder, cache=cache)  # evicts the least recently used ("a")
    assert len(cache) == 2
    run(neural("a", model_id="m"), encoder, cache=cache)
    assert encoder.calls[-1] == ("dense", "m", ["a"])
    run(neural("a", model_id="other"), encoder, cache=cache)  # keyed by model too
    assert encoder.calls[-1] == ("dense", "other", ["a"])
    cache.drop_model("other")
    assert all(key[1] != "other" for key in cache._data)


def test_neural_sparse_with_a_model() -> None:
    encoder = FakeEncoder()
    out = run(
        {"neural_sparse": {"emb": {"query_text": "Hi World", "model_id": "sp", "max_token_score": 3.0, "boost": 2}}},
        encoder,
    )
    assert out == {"neural_sparse": {"emb": {"query_tokens": {"hi": 1.5, "world": 1.5}, "boost": 2}}}
    assert encoder.calls == [("sparse", "sp", ["Hi World"])]


def test_neural_sparse_with_analyzers() -> None:
    seen: list[str] = []

    def bert(text: str) -> dict[str, float]:
        seen.append(text)
        return {"bert": 1.0}

    analyzers = {"bert-uncased": bert, "mbert-uncased": lambda text: {"mbert": 2.0}}
    default = run({"neural_sparse": {"emb": {"query_text": "q"}}}, analyzers=analyzers)
    assert default["neural_sparse"]["emb"]["query_tokens"] == {"bert": 1.0}
    named = run({"neural_sparse": {"emb": {"query_text": "q", "analyzer": "mbert-uncased"}}}, analyzers=analyzers)
    assert named["neural_sparse"]["emb"]["query_tokens"] == {"mbert": 2.0}
    with pytest.raises(IllegalArgument, match="cannot be provided at the same time"):
        run({"neural_sparse": {"emb": {"query_text": "q", "analyzer": "bert-uncased", "model_id": "m"}}})
    with pytest.raises(IllegalArgument, match="analyzer \\[nope\\] is not available"):
        run({"neural_sparse": {"emb": {"query_text": "q", "analyzer": "nope"}}}, analyzers=analyzers)
    # an enricher default applies when neither model_id nor analyzer is given
    encoder = FakeEncoder()
    run({"neural_sparse": {"emb": {"query_text": "q"}}}, encoder, default_model_ids={"default_model_id": "d"})
    assert encoder.calls == [("sparse", "d", ["q"])]


def test_neural_sparse_query_tokens_pass_through() -> None:
    encoder = FakeEncoder()
    out = run({"neural_sparse": {"emb": {"query_tokens": {"a": 1}}}}, encoder)
    assert out == {"neural_sparse": {"emb": {"query_tokens": {"a": 1.0}}}}
    assert encoder.calls == []
    with pytest.raises(IllegalArgument):
        run({"neural_sparse": {"emb": {"query_tokens": {"a": 1}, "query_text": "a"}}})


def test_other_queries_are_untouched_and_errors_are_4xx() -> None:
    query = {"match": {"title": {"query": "neural", "boost": 2}}}
    assert run(query) == query
    for bad in (
        {"neural": {"emb": {"model_id": "m"}}},
        {"neural": {"emb": {"query_text": "x", "model_id": "m", "bogus": 1}}},
        {"neural": {"emb": {"query_image": "aGk=", "model_id": "m"}}},
        {"neural": {"a": {"query_text": "x"}, "b": {"query_text": "y"}}},
    ):
        with pytest.raises(ModelNodeError) as err:
            run(bad)
        assert err.value.status == 400


def test_async_analyzers_are_awaited() -> None:
    async def bert(text: str) -> dict[str, float]:
        return {text: 2.0}

    out = run({"neural_sparse": {"emb": {"query_text": "q"}}}, analyzers={"bert-uncased": bert})
    assert out["neural_sparse"]["emb"]["query_tokens"] == {"q": 2.0}
