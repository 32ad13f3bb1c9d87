from __future__ import annotations

import pytest

from modelnode.errors import ParsingError
from modelnode.search.dsl import Hit, analyze, search

DOCS = [
    Hit(
        "a",
        {
            "name": "huggingface/sentence-transformers/all-MiniLM-L6-v2",
            "algorithm": "TEXT_EMBEDDING",
            "created_time": 3,
            "tags": ["x", "y"],
            "is_enabled": True,
        },
        0,
        1,
    ),
    Hit(
        "b",
        {"name": "amazon/neural-sparse/doc-v1", "algorithm": "SPARSE_ENCODING", "created_time": 1, "chunk_number": 0},
        1,
        1,
    ),
    Hit(
        "c",
        {"name": "my model", "algorithm": "TEXT_EMBEDDING", "created_time": 2, "description": "a small test model"},
        2,
        1,
    ),
]


def ids(body: dict) -> list[str]:
    return [h["_id"] for h in search("idx", DOCS, body, text_fields=("name", "description"))["hits"]["hits"]]


def test_analyze_lowercases_words() -> None:
    assert analyze("all-MiniLM-L6-v2 Model") == ["all", "minilm", "l6", "v2", "model"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"match_all": {}}, ["a", "b", "c"]),
        ({"match_none": {}}, []),
        ({"term": {"algorithm": "TEXT_EMBEDDING"}}, ["a", "c"]),
        ({"term": {"algorithm": {"value": "SPARSE_ENCODING"}}}, ["b"]),
        ({"terms": {"algorithm": ["SPARSE_ENCODING", "NOPE"]}}, ["b"]),
        ({"term": {"name": "minilm"}}, ["a"]),  # text field: matches an analyzed token
        ({"term": {"name.keyword": "my model"}}, ["c"]),
        ({"term": {"tags": "y"}}, ["a"]),
        ({"term": {"is_enabled": True}}, ["a"]),
        ({"ids": {"values": ["c", "zz"]}}, ["c"]),
        ({"match": {"description": "test"}}, ["c"]),
        ({"match_phrase": {"description": "small test"}}, ["c"]),
        ({"match_phrase": {"description": "test small"}}, []),
        ({"prefix": {"algorithm": "SPARSE"}}, ["b"]),
        ({"exists": {"field": "chunk_number"}}, ["b"]),
        ({"range": {"created_time": {"gte": 2, "lt": 3}}}, ["c"]),
        ({"bool": {"must_not": [{"exists": {"field": "chunk_number"}}]}}, ["a", "c"]),
        (
            {"bool": {"filter": [{"term": {"algorithm": "TEXT_EMBEDDING"}}], "must_not": {"ids": {"values": ["a"]}}}},
            ["c"],
        ),
        ({"bool": {"should": [{"term": {"algorithm": "SPARSE_ENCODING"}}, {"ids": {"values": ["c"]}}]}}, ["b", "c"]),
    ],
)
def test_queries(query: dict, expected: list[str]) -> None:
    assert sorted(ids({"query": query})) == sorted(expected)


def test_sort_size_from_and_source_filtering() -> None:
    assert ids({"sort": [{"created_time": {"order": "desc"}}]}) == ["a", "c", "b"]
    assert ids({"sort": ["created_time"], "size": 1, "from": 1}) == ["c"]
    assert ids({"sort": [{"chunk_number": "asc"}]})[0] == "b"  # missing values sort last
    resp = search("idx", DOCS, {"_source": ["name"], "query": {"ids": {"values": ["c"]}}})
    assert resp["hits"]["hits"][0]["_source"] == {"name": "my model"}
    resp = search("idx", DOCS, {"_source": False, "track_total_hits": False})
    assert "_source" not in resp["hits"]["hits"][0] and "total" not in resp["hits"]


def test_response_shape() -> None:
    resp = search("idx", DOCS, {"query": {"match_all": {}}})
    assert resp["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    assert resp["hits"]["total"] == {"value": 3, "relation": "eq"} and resp["hits"]["max_score"] == 1.0
    hit = resp["hits"]["hits"][0]
    assert hit["_index"] == "idx" and hit["_version"] == 1 and hit["_primary_term"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"unknown_query": {}}},
        {"query": {"term": {"a": 1, "b": 2}}},
        {"query": {"bool": {"must": [], "nonsense": 1}}},
        {"query": {"range": {"x": {"between": 1}}}},
        {"not_a_key": 1},
        {"sort": [{"x": "sideways"}]},
    ],
)
def test_malformed_searches_are_parsing_errors(body: dict) -> None:
    with pytest.raises(ParsingError):
        search("idx", DOCS, body)
