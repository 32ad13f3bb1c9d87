"""BM25 and the lexical field indexes, checked against independent computations of Lucene's formula."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from modelnode.search.core import SearchIndex, StoredDoc
from modelnode.search.mapping import Mapping
from modelnode.search.text import (
    BooleanFieldIndex,
    DateFieldIndex,
    KeywordFieldIndex,
    NumericFieldIndex,
    TextFieldIndex,
    byte4_to_int,
    int_to_byte4,
)

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "quick quick quick brown",
    "a lazy afternoon with a brown dog and another brown dog sleeping in the sun all day long " * 3,
    "fox",
    "the the the the the",
    "brown bears and brown foxes are not the same animal at all",
]


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def lucene_length(n: int) -> int:
    """SmallFloat.intToByte4 then byte4ToInt, re-derived from its definition: lengths below 24 are
    exact; above, 24 + (the top 4 significant bits of n - 24)."""
    if n < 24:
        return n
    rest = n - 24
    shift = max(rest.bit_length() - 4, 0)
    return 24 + ((rest >> shift) << shift)


def reference_bm25(corpus: list[str], query_terms: list[str], k1: float = 1.2, b: float = 0.75) -> dict[int, float]:
    """Straightforward Lucene BM25 in double precision (no (k1+1) factor, quantized lengths)."""
    docs = [text.split() for text in corpus]  # the corpus is lower-case words and spaces only
    n_docs = len(docs)
    avgdl = sum(len(d) for d in docs) / n_docs
    out: dict[int, float] = {}
    for term in query_terms:
        df = sum(1 for d in docs if term in d)
        if df == 0:
            continue
        idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(term)
            if tf:
                dl = lucene_length(len(d))
                out[i] = out.get(i, 0.0) + idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
    return out


def make_text_index(corpus: list[str]) -> SearchIndex:
    mapping = Mapping.parse({"properties": {"body": {"type": "text"}}})
    index = SearchIndex("t", mapping, {})
    for i, text in enumerate(corpus):
        index.put(StoredDoc(str(i), {"body": text}))
    return index


def test_smallfloat_matches_lucene() -> None:
    for i in range(24):
        assert int_to_byte4(i) == i and byte4_to_int(i) == i
    for n in [24, 25, 31, 40, 100, 1000, 12345, 2**20 + 7, 2**31 - 1]:
        assert byte4_to_int(int_to_byte4(n)) == lucene_length(n)
    assert int_to_byte4(2**31 - 1) == 255
    assert byte4_to_int(int_to_byte4(100)) == 96  # a 100-token field counts as 96
    decoded = [byte4_to_int(i) for i in range(256)]
    assert decoded == sorted(decoded)  # monotonic


@pytest.mark.parametrize("query", [["brown"], ["quick"], ["the"], ["fox"], ["brown", "dog"], ["lazy", "the", "quick"]])
def test_bm25_matches_reference(query: list[str]) -> None:
    index = make_text_index(CORPUS)
    field = index.field("body")
    assert isinstance(field, TextFieldIndex)
    ours: dict[int, float] = {}
    for term in query:
        docs, scores = field.term_scores(term)
        for d, s in zip(docs.tolist(), scores.tolist(), strict=True):
            ours[d] = ours.get(d, 0.0) + s
    expected = reference_bm25(CORPUS, query)
    assert set(ours) == set(expected)
    for doc, score in expected.items():
        assert ours[doc] == pytest.approx(score, rel=2e-6)


def test_bm25_hand_computed() -> None:
    # N = 3 docs, avgdl = (2 + 1 + 3) / 3 = 2; "b" is in 2 docs: idf = ln(1 + 1.5/2.5) = ln(1.6)
    index = make_text_index(["a b", "b", "c c c"])
    docs, scores = index.field("body").term_scores("b")  # type: ignore[union-attr]
    got = dict(zip(docs.tolist(), scores.tolist(), strict=True))
    idf = math.log(1.6)
    assert got[0] == pytest.approx(idf * 1 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2)), rel=1e-6)  # 0.2138...
    assert got[1] == pytest.approx(idf * 1 / (1 + 1.2 * (0.25 + 0.75 * 1 / 2)), rel=1e-6)  # 0.2691...
    assert got[1] > got[0]


def test_bm25_is_lucene_float_arithmetic() -> None:
    # The float32 operation order of BM25Scorer: weight - weight / (1f + freq * normInverse)
    index = make_text_index(CORPUS)
    field = index.field("body")
    docs, scores = field.term_scores("brown", boost=2.0)  # type: ignore[union-attr]
    n, df = len(CORPUS), 4
    idf = _f32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
    total = sum(len(t.split()) for t in CORPUS)
    avgdl = _f32(total / n)
    k1, b = _f32(1.2), _f32(0.75)
    weight = _f32(_f32(2.0) * idf)
    for doc, score in zip(docs.tolist(), scores.tolist(), strict=True):
        words = CORPUS[doc].split()
        length = _f32(float(lucene_length(len(words))))
        cache = _f32(1.0 / _f32(k1 * _f32(_f32(1 - b) + _f32(_f32(b * length) / avgdl))))
        expected = _f32(weight - _f32(weight / _f32(1.0 + _f32(words.count("brown") * cache))))
        assert score == expected  # bit for bit


def test_statistics_follow_deletes_and_replacements() -> None:
    index = make_text_index(CORPUS)
    field = index.field("body")
    assert isinstance(field, TextFieldIndex)
    before = field.doc_count, field.sum_total_term_freq
    index.delete("3")
    assert field.doc_count == before[0] - 1 and field.sum_total_term_freq == before[1] - 1
    assert field.doc_freq("fox") == 1
    index.put(StoredDoc("3", {"body": "fox fox"}))
    assert field.doc_freq("fox") == 2 and field.doc_count == before[0]
    reference = reference_bm25([*CORPUS[:3], CORPUS[4], CORPUS[5], "fox fox"], ["fox"])
    _docs, scores = field.term_scores("fox")
    got = sorted(scores.tolist())
    assert got == pytest.approx(sorted(reference.values()), rel=2e-6)


def test_empty_values_do_not_count_in_statistics() -> None:
    index = make_text_index(["a b", ""])
    field = index.field("body")
    assert isinstance(field, TextFieldIndex)
    assert field.doc_count == 1  # Lucene's docCount: docs with at least one term
    assert set(field.docs()) == {0, 1}  # but both have the field (exists)


def test_phrase_frequency_and_score() -> None:
    index = make_text_index(["quick brown quick brown", "brown quick", "quick red brown"])
    field = index.field("body")
    assert isinstance(field, TextFieldIndex)
    exact = field.phrase_scores(["quick", "brown"])
    assert set(exact) == {0}
    # phrase idf = sum of the terms' idf (float), tf = 2 matches
    idf = float(np.float32(float(field.idf("quick")) + float(field.idf("brown"))))
    avgdl = (4 + 2 + 3) / 3
    expected = idf * 2 / (2 + 1.2 * (0.25 + 0.75 * 4 / avgdl))
    assert exact[0] == pytest.approx(expected, rel=2e-6)
    sloppy = field.phrase_scores(["quick", "brown"], slop=1)
    assert set(sloppy) == {0, 2}  # "quick red brown" is one move away
    assert set(field.phrase_scores(["quick", "brown"], slop=2)) == {0, 1, 2}  # a swap costs 2


def test_multi_valued_text_gap_blocks_phrases_across_values() -> None:
    index = make_text_index([])
    index.put(StoredDoc("m", {"body": ["alpha beta", "gamma"]}))
    field = index.field("body")
    assert isinstance(field, TextFieldIndex)
    assert field.phrase_scores(["beta", "gamma"]) == {}
    assert field.phrase_scores(["beta", "gamma"], slop=50) == {}
    assert set(field.phrase_scores(["alpha", "beta"])) == {0}
    assert field.doc_len[0] == 3


def test_keyword_index_terms_ignore_above_and_normalizer() -> None:
    kw = KeywordFieldIndex({"type": "keyword", "ignore_above": 5, "normalizer": "lowercase"}, {})
    kw.add(0, ["Alpha", "toolongvalue", 42, True])
    assert kw.sort_values(0) == ["42", "alpha", "true"]
    _docs, scores = kw.term_scores("alpha")
    # docs-only, no norms: idf / (1 + k1 * (1 - b + b * 1 / avgdl)), avgdl = 3 values / 1 doc
    idf = math.log(1 + 0.5 / 1.5)
    assert scores[0] == pytest.approx(idf / (1 + 1.2 * (0.25 + 0.75 / 3)), rel=1e-6)
    kw.remove(0)
    assert kw.postings == {} and kw.doc_count == 0


def test_numeric_date_boolean_doc_values() -> None:
    num = NumericFieldIndex({"type": "float"}, {})
    num.add(0, [0.1, "2.5"])
    assert num.sort_values(0) == [float(np.float32(0.1)), 2.5]  # float fields keep float32 precision
    scaled = NumericFieldIndex({"type": "scaled_float", "scaling_factor": 10}, {})
    scaled.add(0, [1.26])
    assert scaled.sort_values(0) == [1.3]
    date = DateFieldIndex({"type": "date"}, {})
    date.add(0, ["2015-01-01", 1420070400001])
    assert date.sort_values(0) == [1420070400000, 1420070400001]
    boolean = BooleanFieldIndex({"type": "boolean"}, {})
    boolean.add(0, [True, "false"])
    assert boolean.sort_values(0) == [0, 1]
