"""Search pipelines: parsing and validation, each processor, and the run_search orchestration
(with a fake Encoder and stand-ins for the core's execute/render)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import core
from modelnode.search.core import QueryContext, SearchIndex, StoredDoc
from modelnode.search.hybrid import Combination, Normalization
from modelnode.search.pipelines import SearchPipeline, document_text, parse_pipeline, run_search
from modelnode.search.rewrite import EmbeddingCache
from modelnode.search.vector import evaluate

# --- parsing -------------------------------------------------------------------------------------


def test_parse_a_full_pipeline() -> None:
    body = {
        "description": "all of it",
        "request_processors": [
            {"neural_query_enricher": {"default_model_id": "m", "neural_field_default_id": {"f": "fm"}, "tag": "t"}}
        ],
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}},
                }
            }
        ],
        "response_processors": [
            {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["title", "text"]}}}
        ],
    }
    pipeline = parse_pipeline(body, "p")
    assert pipeline.id == "p" and pipeline.description == "all of it" and pipeline.body == body
    assert pipeline.request_processors[0].tag == "t"
    assert pipeline.hybridization is not None
    assert pipeline.hybridization.combination == Combination("arithmetic_mean", (0.3, 0.7))
    assert pipeline.response_processors[0].document_fields == ["title", "text"]


def test_parse_score_ranker_and_two_phase() -> None:
    pipeline = parse_pipeline(
        {
            "request_processors": [
                {"neural_sparse_two_phase_processor": {"two_phase_parameter": {"prune_ratio": 0.3}}}
            ],
            "phase_results_processors": [{"score-ranker-processor": {"combination": {"technique": "rrf"}}}],
        }
    )
    assert pipeline.hybridization is not None
    assert pipeline.hybridization.normalization == Normalization("rrf", rank_constant=60)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"request_processors": [{"bogus": {}}]}, "Invalid processor type bogus"),
        ({"response_processors": [{"normalization-processor": {}}]}, "Invalid processor type normalization-processor"),
        ({"x": 1}, r"pipeline \[p\] doesn't support one or more provided configuration parameters \['x'\]"),
        ({"request_processors": {}}, "must be an array"),
        ({"request_processors": [{"a": {}, "b": {}}]}, "exactly one processor type"),
        ({"request_processors": [{"neural_query_enricher": {}}]}, "model id or neural info map"),
        (
            {"request_processors": [{"neural_query_enricher": {"default_model_id": "m", "y": 1}}]},
            r"doesn't support one or more provided configuration parameters: \['y'\]",
        ),
        ({"response_processors": [{"rerank": {"context": {"document_fields": ["a"]}}}]}, "No rerank type found"),
        (
            {
                "response_processors": [
                    {"rerank": {"ml_opensearch": {"model_id": "m"}, "by_field": {"target_field": "a"}}}
                ]
            },
            "Multiple rerank types found",
        ),
        ({"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "m"}}}]}, r"\[context\] required"),
        (
            {"response_processors": [{"rerank": {"ml_opensearch": {}, "context": {"document_fields": ["a"]}}}]},
            "model_id",
        ),
        (
            {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": "m"}, "context": {"x": 1}}}]},
            "unrecognized context field: x",
        ),
        (
            {
                "response_processors": [
                    {"rerank": {"ml_opensearch": {"model_id": "m"}, "context": {"document_fields": []}}}
                ]
            },
            "document_fields",
        ),
        (
            {"phase_results_processors": [{"normalization-processor": {"combination": {"technique": "nope"}}}]},
            "provided combination technique is not supported",
        ),
        (
            {
                "phase_results_processors": [
                    {"normalization-processor": {}},
                    {"score-ranker-processor": {}},
                ]
            },
            "at most one",
        ),
        (
            {
                "request_processors": [
                    {"neural_sparse_two_phase_processor": {"two_phase_parameter": {"expansion_rate": 0.5}}}
                ]
            },
            "expansion rate",
        ),
    ],
)
def test_invalid_pipelines_are_400s(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelNodeError, match=message) as err:
        parse_pipeline(body, "p")
    assert err.value.status == 400


def test_document_text_concatenates_without_separator() -> None:
    hit = {"_source": {"title": "Albuquerque", "meta": {"tags": ["a", "b"]}, "n": 3}, "fields": {"x": ["f1", "f2"]}}
    assert document_text(hit, ["title", "meta.tags", "missing", "n", "x"]) == "Albuquerquea b3f1 f2"


# --- orchestration -------------------------------------------------------------------------------


class FakeMapping:
    def __init__(self, fields: dict[str, dict[str, Any]]) -> None:
        self.fields = fields

    def indexed_fields(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.fields.items())


def _has_word(body: dict[str, Any], ctx: QueryContext) -> core.Scores:
    """Test query {"_test_word": {"field": f, "word": w}}: score = occurrences of w in f."""
    out = {}
    for n in ctx.index.live():
        text = str(ctx.index.doc(n).source.get(body["field"], "")).lower()
        count = text.split().count(body["word"])
        if count:
            out[n] = float(count)
    return out


core.QUERY_TYPES["_test_word"] = _has_word


def render(index: SearchIndex, body: dict[str, Any], scores: dict[int, float], total: int) -> dict[str, Any]:
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    start = int(body.get("from", 0))
    page = ranked[start : start + int(body.get("size", 10))]
    hits = []
    for n, score in page:
        doc = index.doc(n)
        source = dict(doc.source)
        for key in (body.get("_source") or {}).get("excludes", []):
            source.pop(key, None)
        hits.append({"_index": index.name, "_id": doc.id, "_score": score, "_source": source})
    return {
        "took": 0,
        "timed_out": False,
        "hits": {"total": {"value": total, "relation": "eq"}, "max_score": page[0][1] if page else None, "hits": hits},
    }


def execute(index: SearchIndex, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"query", "size", "from", "_source", "highlight"}
    assert not unknown, unknown  # ext / search_pipeline / semantic highlight never reach the core
    scores = evaluate(body.get("query", {"_test_word": {"field": "none", "word": "x"}}), QueryContext(index))
    return render(index, body, scores, len(scores))


class FakeEncoder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def text_embedding(self, model_id: str, texts: list[str]) -> list[list[float]]:
        self.calls.append(("text_embedding", model_id, tuple(texts)))
        return [[1.0, 0.0] if "west" in t else [0.0, 1.0] for t in texts]

    async def sparse_encoding(self, model_id: str, texts: list[str]) -> list[dict[str, float]]:
        self.calls.append(("sparse_encoding", model_id, tuple(texts)))
        return [{w: 1.0 for w in t.lower().split()} for t in texts]

    async def similarity(self, model_id: str, query_text: str, texts: list[str]) -> list[float]:
        self.calls.append(("similarity", model_id, query_text, tuple(texts)))
        return [-float(len(t)) for t in texts]  # shorter document text = better (can be negative: raw logits)

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        self.calls.append(("highlight", model_id, question, context))
        return [{"start": 0, "end": context.index(" "), "text": "", "position": 0}]

    def function_name(self, model_id: str) -> str:
        return "TEXT_EMBEDDING"


DOCS = {
    "1": {"title": "Western", "text": "a horse in the wild west", "emb": [1.0, 0.0], "stars": 2, "sp": {"horse": 2.0}},
    "2": {"title": "City", "text": "horse horse carriage rides downtown", "emb": [0.0, 1.0], "stars": 5},
    "3": {"title": "Farm", "text": "cows and one horse", "emb": [0.7, 0.7], "stars": 4, "sp": {"cows": 1.0}},
    "4": {"title": "Sea", "text": "boats", "emb": [0.6, 0.8], "stars": 1},
}


def make_index() -> SearchIndex:
    mapping = {
        "emb": {"type": "knn_vector", "dimension": 2, "space_type": "innerproduct"},
        "sp": {"type": "rank_features"},
        "title": {"type": "text"},
        "text": {"type": "text"},
        "stars": {"type": "integer"},
    }
    index = SearchIndex("idx", FakeMapping(mapping), {"index.knn": True})
    for doc_id, source in DOCS.items():
        index.put(StoredDoc(doc_id, source))
    return index


def search(body: dict[str, Any], pipeline: SearchPipeline | None = None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("encoder", FakeEncoder())
    return asyncio.run(run_search(make_index(), body, pipeline=pipeline, execute=execute, render=render, **kwargs))


def ids(response: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_neural_query_runs_through_the_encoder_and_the_cache() -> None:
    encoder, cache = FakeEncoder(), EmbeddingCache(8)
    body = {"query": {"neural": {"emb": {"query_text": "wild west", "model_id": "m", "k": 2}}}}
    first = search(body, encoder=encoder, cache=cache)
    assert ids(first) == ["1", "3"]
    assert first["hits"]["hits"][0]["_score"] == 2.0  # innerproduct: 1 + dot
    search(body, encoder=encoder, cache=cache)
    assert encoder.calls == [("text_embedding", "m", ("wild west",))]


def test_enricher_supplies_the_model_id() -> None:
    pipeline = parse_pipeline({"request_processors": [{"neural_query_enricher": {"default_model_id": "dm"}}]})
    encoder = FakeEncoder()
    search({"query": {"neural": {"emb": {"query_text": "west"}}}}, pipeline, encoder=encoder)
    assert encoder.calls[0][1] == "dm"
    with pytest.raises(IllegalArgument, match="model id must be provided"):
        search({"query": {"neural": {"emb": {"query_text": "west"}}}})


def test_neural_sparse_with_a_model() -> None:
    response = search({"query": {"neural_sparse": {"sp": {"query_text": "horse cows", "model_id": "s"}}}})
    assert ids(response) == ["1", "3"]
    assert [hit["_score"] for hit in response["hits"]["hits"]] == [2.0, 1.0]


HYBRID = {
    "query": {
        "hybrid": {
            "queries": [
                {"_test_word": {"field": "text", "word": "horse"}},
                {"neural": {"emb": {"query_text": "wild west", "model_id": "m", "k": 3}}},
            ]
        }
    },
    "size": 3,
}


def test_hybrid_with_a_normalization_pipeline() -> None:
    pipeline = parse_pipeline(
        {
            "phase_results_processors": [
                {
                    "normalization-processor": {
                        "normalization": {"technique": "min_max"},
                        "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.5, 0.5]}},
                    }
                }
            ]
        }
    )
    response = search(HYBRID, pipeline)
    # horse counts: 2 -> 2.0, 1 -> 1.0, 3 -> 1.0 (top 3); knn (1 + dot): 1 -> 2.0, 3 -> 1.7, 4 -> 1.6
    # min_max: text {2: 1.0, 1: 0.001, 3: 0.001}; knn {1: 1.0, 3: 0.25, 4: 0.001}
    assert ids(response) == ["1", "2", "3"]
    scores = [hit["_score"] for hit in response["hits"]["hits"]]
    assert scores == pytest.approx([(0.001 + 1.0) / 2, 0.5, (0.001 + 0.25) / 2])
    assert response["hits"]["total"]["value"] == 4  # distinct docs matched by any sub-query
    assert response["hits"]["max_score"] == pytest.approx(0.5005)


def test_hybrid_with_rrf() -> None:
    pipeline = parse_pipeline({"phase_results_processors": [{"score-ranker-processor": {}}]})
    response = search(HYBRID, pipeline)
    assert ids(response)[0] == "1"  # rank 2 + rank 1
    assert response["hits"]["hits"][0]["_score"] == pytest.approx(round(1 / 62, 10) + round(1 / 61, 10))


def test_hybrid_without_a_normalization_processor_is_refused() -> None:
    with pytest.raises(IllegalArgument, match="normalization-processor"):
        search(HYBRID)


def test_rerank_ml_opensearch_rescoring_the_page() -> None:
    pipeline = parse_pipeline(
        {
            "response_processors": [
                {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["title", "text"]}}}
            ]
        }
    )
    encoder = FakeEncoder()
    body = {
        "query": {"_test_word": {"field": "text", "word": "horse"}},
        "size": 2,
        "ext": {"rerank": {"query_context": {"query_text": "horses?"}}},
    }
    response = search(body, pipeline, encoder=encoder)
    # the page is [2, 1] (horse counts); document texts are title + text with no separator
    assert encoder.calls == [
        ("similarity", "ce", "horses?", ("Cityhorse horse carriage rides downtown", "Westerna horse in the wild west"))
    ]
    assert ids(response) == ["1", "2"]
    assert [hit["_score"] for hit in response["hits"]["hits"]] == [-31.0, -39.0]
    assert response["hits"]["max_score"] == -31.0
    assert response["hits"]["total"]["value"] == 3  # unchanged


def test_rerank_query_text_path_reads_the_original_query() -> None:
    pipeline = parse_pipeline(
        {
            "response_processors": [
                {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["title"]}}}
            ]
        }
    )
    encoder = FakeEncoder()
    body = {
        "query": {"neural": {"emb": {"query_text": "wild west", "model_id": "m", "k": 2}}},
        "ext": {"rerank": {"query_context": {"query_text_path": "query.neural.emb.query_text"}}},
    }
    search(body, pipeline, encoder=encoder)
    assert encoder.calls[-1][2] == "wild west"
    for ctx, message in (
        ({"query_text": "a", "query_text_path": "b"}, "Cannot specify both"),
        ({}, "Must specify either"),
        ({"query_text_path": "query.neural"}, "must point to a string field"),
    ):
        bad = {**body, "ext": {"rerank": {"query_context": ctx}}}
        with pytest.raises(IllegalArgument, match=message):
            search(bad, pipeline)
    with pytest.raises(IllegalArgument, match="must specify query_context"):
        search({"query": body["query"]}, pipeline)


def test_rerank_skips_empty_results() -> None:
    pipeline = parse_pipeline(
        {
            "response_processors": [
                {"rerank": {"ml_opensearch": {"model_id": "ce"}, "context": {"document_fields": ["title"]}}}
            ]
        }
    )
    encoder = FakeEncoder()
    response = search({"query": {"_test_word": {"field": "text", "word": "zebra"}}}, pipeline, encoder=encoder)
    assert response["hits"]["hits"] == [] and encoder.calls == []


def test_rerank_by_field() -> None:
    pipeline = parse_pipeline(
        {
            "response_processors": [
                {
                    "rerank": {
                        "by_field": {"target_field": "stars", "remove_target_field": True, "keep_previous_score": True}
                    }
                }
            ]
        }
    )
    response = search({"query": {"_test_word": {"field": "text", "word": "horse"}}}, pipeline)
    assert ids(response) == ["2", "3", "1"]
    first = response["hits"]["hits"][0]
    assert first["_score"] == 5.0 and "stars" not in first["_source"] and first["_source"]["previous_score"] == 2.0
    bad = parse_pipeline({"response_processors": [{"rerank": {"by_field": {"target_field": "title"}}}]})
    with pytest.raises(IllegalArgument, match="is not Numerical"):
        search({"query": {"_test_word": {"field": "text", "word": "horse"}}}, bad)


def test_ignore_failure() -> None:
    pipeline = parse_pipeline(
        {"response_processors": [{"rerank": {"by_field": {"target_field": "nope"}, "ignore_failure": True}}]}
    )
    response = search({"query": {"_test_word": {"field": "text", "word": "horse"}}}, pipeline)
    assert ids(response) == ["2", "1", "3"]


def test_semantic_highlight_uses_the_original_query_and_full_source() -> None:
    encoder = FakeEncoder()
    body = {
        "query": {"neural": {"emb": {"query_text": "wild west", "model_id": "m", "k": 1}}},
        "_source": {"excludes": ["text"]},
        "highlight": {"fields": {"text": {"type": "semantic"}}, "options": {"model_id": "hl"}},
    }
    response = search(body, encoder=encoder)
    hit = response["hits"]["hits"][0]
    assert "text" not in hit["_source"]
    assert hit["highlight"] == {"text": ["<em>a</em> horse in the wild west"]}
    assert ("highlight", "hl", "wild west", "a horse in the wild west") in encoder.calls


def test_filter_query_request_processor_and_inline_pipeline() -> None:
    body = {
        "query": {"_test_word": {"field": "text", "word": "horse"}},
        "search_pipeline": {
            "request_processors": [{"filter_query": {"query": {"_test_word": {"field": "title", "word": "farm"}}}}]
        },
    }
    if "bool" not in core.QUERY_TYPES:
        pytest.skip("needs the core's bool query")
    assert ids(search(body)) == ["3"]


def test_pipeline_errors_surface_as_400() -> None:
    with pytest.raises(ParseError):
        search({"query": {"match_all": {}}, "search_pipeline": {"bogus": 1}})


def test_default_model_ids_for_count() -> None:
    pipeline = parse_pipeline(
        {"request_processors": [{"neural_query_enricher": {"neural_field_default_id": {"f": "m"}}}]}
    )
    assert pipeline.default_model_ids == {"default_model_id": None, "neural_field_default_id": {"f": "m"}}
    assert parse_pipeline({}).default_model_ids is None
