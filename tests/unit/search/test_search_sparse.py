"""rank_features / sparse_vector fields and the neural_sparse query (spec §1.4, §1.5)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search.core import QueryContext, SearchIndex, StoredDoc
from modelnode.search.sparse import SparseField, load_idf_analyzer, neural_sparse_query
from tests.support import BERT_IDF_ZIP


class FakeMapping:
    def __init__(self, fields: dict[str, dict[str, Any]]) -> None:
        self.fields = fields

    def indexed_fields(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.fields.items())


def make_index(docs: dict[str, dict[str, Any]]) -> SearchIndex:
    mapping = {
        "emb": {"type": "rank_features"},
        "vec": {"type": "sparse_vector"},
        "chunks.sparse_encoding": {"type": "rank_features"},
        "title": {"type": "text"},
    }
    index = SearchIndex("t", FakeMapping(mapping), {})
    for doc_id, source in docs.items():
        index.put(StoredDoc(doc_id, source))
    return index


def search(index: SearchIndex, field: str, opts: dict[str, Any]) -> dict[str, float]:
    scores = neural_sparse_query({field: opts}, QueryContext(index))
    return {index.doc(n).id: s for n, s in scores.items()}


def test_score_is_the_inner_product_over_shared_tokens() -> None:
    index = make_index(
        {
            "a": {"emb": {"hello": 2.0, "world": 0.5, "x": 9.0}},
            "b": {"emb": {"world": 3.0}},
            "c": {"emb": {"unrelated": 1.0}},
        }
    )
    got = search(index, "emb", {"query_tokens": {"hello": 1.5, "world": 2.0}})
    assert got == {"a": pytest.approx(1.5 * 2.0 + 2.0 * 0.5), "b": pytest.approx(2.0 * 3.0)}  # c: no shared token


def test_matches_an_independent_computation_on_a_random_corpus() -> None:
    rng = random.Random(4)
    vocab = [f"t{i}" for i in range(300)]
    docs = {
        str(i): {"emb": {t: round(rng.uniform(0.01, 3.0), 4) for t in rng.sample(vocab, rng.randint(1, 40))}}
        for i in range(500)
    }
    index = make_index(docs)
    for _ in range(10):
        query = {t: round(rng.uniform(0.1, 5.0), 3) for t in rng.sample(vocab, 12)}
        expected = {}
        for doc_id, source in docs.items():
            shared = set(query) & set(source["emb"])
            if shared:
                expected[doc_id] = sum(query[t] * source["emb"][t] for t in shared)
        got = search(index, "emb", {"query_tokens": query})
        assert got.keys() == expected.keys()
        for doc_id, score in expected.items():
            assert got[doc_id] == pytest.approx(score, rel=1e-12)


def test_sparse_vector_fields_work_the_same() -> None:
    index = make_index({"a": {"vec": {"hi": 2.0}}})
    assert search(index, "vec", {"query_tokens": {"hi": 3.0}}) == {"a": 6.0}


def test_nested_chunks_score_the_best_chunk() -> None:
    index = make_index(
        {
            "a": {"chunks": [{"sparse_encoding": {"x": 1.0}}, {"sparse_encoding": {"x": 4.0, "y": 1.0}}]},
            "b": {"chunks": [{"sparse_encoding": {"y": 2.0}}]},
        }
    )
    got = search(index, "chunks.sparse_encoding", {"query_tokens": {"x": 1.0, "y": 1.0}})
    assert got == {"a": 5.0, "b": 2.0}


def test_boost_and_deprecated_max_token_score() -> None:
    index = make_index({"a": {"emb": {"hi": 2.0}}})
    assert search(index, "emb", {"query_tokens": {"hi": 1.0}, "boost": 3.0, "max_token_score": 2.0}) == {"a": 6.0}


def test_only_rank_features_fields() -> None:
    index = make_index({"a": {"emb": {"hi": 2.0}, "title": "hello"}})
    for field in ("title", "missing"):
        with pytest.raises(IllegalArgument, match=r"\[neural_sparse\] query only works on \[rank_features\] fields"):
            search(index, field, {"query_tokens": {"hi": 1.0}})


def test_unresolved_query_text_and_bad_tokens() -> None:
    index = make_index({"a": {"emb": {"hi": 2.0}}})
    with pytest.raises(IllegalArgument, match=r"rewrite\.resolve"):
        search(index, "emb", {"query_text": "hi", "model_id": "m"})
    with pytest.raises(IllegalArgument, match=r"weight must be in \(0, 64\]"):
        search(index, "emb", {"query_tokens": {"hi": 0.0}})
    with pytest.raises(ModelNodeError):
        search(index, "emb", {"query_tokens": {"hi": 1.0}, "unknown": 1})


@pytest.mark.parametrize("bad", [{"a": 0}, {"a": -1.0}, {"a": float("nan")}, {"a": "x"}, {"": 1.0}, "text"])
def test_document_weights_must_be_positive_finite_numbers(bad: Any) -> None:
    field = SparseField({"type": "rank_features"}, {})
    with pytest.raises(IllegalArgument):
        field.add(0, [bad])
    assert len(field) == 0


def test_deletes_updates_and_compaction() -> None:
    index = make_index({str(i): {"emb": {"t": float(i + 1)}} for i in range(10)})
    index.delete("9")
    assert "9" not in search(index, "emb", {"query_tokens": {"t": 1.0}})
    for i in range(6):
        index.delete(str(i))
    index.put(StoredDoc("6", {"emb": {"u": 1.0}}))  # replaced: no longer has t
    got = search(index, "emb", {"query_tokens": {"t": 1.0, "u": 2.0}})
    assert got == {"6": 2.0, "7": 8.0, "8": 9.0}


@pytest.mark.skipif(not BERT_IDF_ZIP.exists(), reason="shared models missing")
def test_bert_uncased_analyzer_uses_the_idf_table() -> None:
    analyzer = load_idf_analyzer(BERT_IDF_ZIP)
    tokens = analyzer("Hello world, hello!")
    # ML Commons' documented example: {"hello": 6.9377565, "world": 3.4208686}; "," and "!" from the table too
    assert tokens["hello"] == pytest.approx(6.9377565, rel=1e-7)
    assert tokens["world"] == pytest.approx(3.4208686, rel=1e-7)
    assert list(tokens)[:2] == ["hello", "world"]  # distinct, first occurrence first
    assert "[CLS]" not in tokens and "[SEP]" not in tokens
    # word pieces keep their "##" (decoded alone, as ML Commons does); special tokens are dropped
    assert list(analyzer("unaffordable")) == ["una", "##ff", "##ord", "##able"]
    assert analyzer("[UNK]") == {}
