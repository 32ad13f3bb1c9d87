"""Field indexes for the lexical field types, registered in ``core.FIELD_INDEXES``.

``text``: postings (term -> {doc: term frequency}), each document's term sequence (for phrases and
removal), and the statistics BM25 needs. ``keyword`` and ``boolean``: exact terms (BM25-scored like
Lucene's docs-only, norm-less fields). numerics and ``date``: doc values (sorted numbers per doc).

BM25 is Lucene's ``BM25Similarity`` (Lucene 8+, what OpenSearch 2.x/3.x run), computed in float32 in
the same order of operations, so scores equal OpenSearch's for the same statistics:

    idf    = (float) ln(1 + (N - n + 0.5) / (n + 0.5))          N: docs with the field, n: docs with the term
    avgdl  = (float) (sumTotalTermFreq / (double) N)
    cache  = 1f / (k1 * ((1 - b) + b * LENGTH_TABLE[norm] / avgdl))   k1 = 1.2f, b = 0.75f
    weight = boost * idf
    score  = weight - weight / (1f + tf * cache[norm])      (= weight * tf / (tf + k1 * (1 - b + b * dl / avgdl)))

There is no ``(k1 + 1)`` factor (Lucene dropped it in 8.0: it does not change the ranking).
Document lengths are stored as Lucene stores norms: one byte, ``SmallFloat.intToByte4(length)``,
exact up to 23 tokens and then 4 significant bits, so ``dl`` in the formula is the *decoded* length
(e.g. a 100-token field counts as 96). ``avgdl`` uses the exact total. A phrase scores the same way
with ``idf`` = the float sum of its terms' idf and ``tf`` = the number of phrase matches (sloppy
matches count ``1 / (1 + distance)``). N and avgdl are over the live documents that have at least one
token in the field (Lucene also counts deleted documents until segments merge: OpenSearch scores can
differ slightly right after deletes).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument
from modelnode.search.analysis import get_analyzer, java_lowercase
from modelnode.search.core import FIELD_INDEXES, Scores
from modelnode.search.mapping import (
    INTEGER_TYPES,
    NUMERIC_TYPES,
    DateFormat,
    ValueProblem,
    keyword_value,
    parse_boolean,
    parse_number,
)
from modelnode.search.snapshot import pack_strings, ragged, unpack_strings, unragged

K1 = np.float32(1.2)
B = np.float32(0.75)
_ONE = np.float32(1.0)


# -- Lucene's SmallFloat.intToByte4 / byte4ToInt (the norm encoding of document lengths) -------------


def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i  # subnormal
    shift = num_bits - 4
    encoded = (i >> shift) & 0x07  # the three bits after the implicit leading one
    return encoded | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits = i & 0x07
    shift = (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_MAX_INT4 = _long_to_int4(2**31 - 1)
_NUM_FREE_VALUES = 255 - _MAX_INT4  # 24: lengths 0..23 are exact


def int_to_byte4(i: int) -> int:
    """Lucene ``SmallFloat.intToByte4`` (as an unsigned byte 0..255)."""
    if i < 0:
        raise ValueError(f"Only supports positive values, got {i}")
    if i < _NUM_FREE_VALUES:
        return i
    return _NUM_FREE_VALUES + _long_to_int4(i - _NUM_FREE_VALUES)


def byte4_to_int(b: int) -> int:
    """Lucene ``SmallFloat.byte4ToInt``."""
    if b < _NUM_FREE_VALUES:
        return b
    return min(_NUM_FREE_VALUES + _int4_to_long(b - _NUM_FREE_VALUES), 2**31 - 1)


LENGTH_TABLE = np.array([byte4_to_int(i) for i in range(256)], dtype=np.float32)


def bm25_idf(doc_freq: int, doc_count: int) -> np.float32:
    return np.float32(math.log(1 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5)))


def bm25_avgdl(sum_total_term_freq: int, doc_count: int) -> np.float32:
    return np.float32(sum_total_term_freq / doc_count)


def bm25_norm_cache(avgdl: np.float32) -> np.ndarray:
    """``1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl))`` for every norm byte, in float32."""
    with np.errstate(divide="ignore", over="ignore"):
        cache = _ONE / (K1 * ((_ONE - B) + B * LENGTH_TABLE / np.float32(avgdl)))
    return cache.astype(np.float32)


def bm25_scores(weight: np.float32, freqs: np.ndarray, norm_inverse: np.ndarray) -> np.ndarray:
    """Lucene's ``weight - weight / (1f + freq * normInverse)`` (float32 arrays)."""
    return (weight - weight / (_ONE + freqs.astype(np.float32) * norm_inverse)).astype(np.float32)


def f32(x: float) -> float:
    """Round to the nearest float32 (how Lucene returns a clause's summed double score)."""
    return float(np.float32(x))


# -- helpers --------------------------------------------------------------------------------------


class _NormBytes:
    """A growable uint8 array indexed by internal doc number."""

    def __init__(self) -> None:
        self.data = np.zeros(64, dtype=np.uint8)

    def set(self, doc: int, value: int) -> None:
        if doc >= len(self.data):
            size = len(self.data)
            while size <= doc:
                size *= 2
            grown = np.zeros(size, dtype=np.uint8)
            grown[: len(self.data)] = self.data
            self.data = grown
        self.data[doc] = value


def _scalars(values: Iterable[Any]) -> Iterator[Any]:
    for v in values:
        if isinstance(v, list):
            yield from _scalars(v)
        elif v is not None and not isinstance(v, dict):
            yield v


def wildcard_to_regex(pattern: str, *, case_insensitive: bool = False) -> re.Pattern[str]:
    """Lucene wildcard syntax: ``*`` any run, ``?`` one character, ``\\`` escapes."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


class _TermDictionary:
    """Sorted terms of a postings map, rebuilt lazily after changes (for range/prefix/wildcard)."""

    def __init__(self) -> None:
        self._sorted: list[str] | None = None

    def invalidate(self) -> None:
        self._sorted = None

    def terms(self, postings: dict[str, Any]) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(postings)
        return self._sorted


class TextFieldIndex:
    """BM25 postings for one ``text`` field."""

    kind = "text"

    def __init__(self, mapping: dict[str, Any], settings: dict[str, Any]) -> None:
        self.mapping = mapping
        self.analyzer = get_analyzer(mapping.get("analyzer", "standard"))
        self.gap = int(mapping.get("position_increment_gap", 100))
        self.norms = bool(mapping.get("norms", True))
        options = mapping.get("index_options", "positions")
        self.freqs = options != "docs"
        self.positions = options in ("positions", "offsets")
        self.searchable = bool(mapping.get("index", True))
        self.postings: dict[str, dict[int, int]] = {}
        self.doc_terms: dict[int, list[str]] = {}  # term sequence (position i = index i unless multi-valued)
        self.doc_positions: dict[int, list[int]] = {}  # explicit positions for multi-valued documents
        self.doc_len: dict[int, int] = {}
        self.with_value: set[int] = set()  # docs with any value (even an empty string): exists
        self.norm_bytes = _NormBytes()
        self.doc_count = 0  # docs with at least one token (Lucene's docCount)
        self.sum_total_term_freq = 0
        self._dictionary = _TermDictionary()
        self._cache_key: tuple[int, int] | None = None
        self._cache: np.ndarray | None = None

    # -- indexing ----------------------------------------------------------------------------------
    def add(self, doc: int, values: list[Any]) -> None:
        texts = []
        for v in _scalars(values):
            try:
                texts.append(keyword_value(v))
            except ValueProblem:
                continue
        if not texts:
            return
        self.with_value.add(doc)
        if len(texts) == 1:
            terms = self.analyzer.terms(texts[0])
            positions: list[int] | None = None
        else:
            terms, positions, base = [], [], 0
            for i, text in enumerate(texts):
                if i:
                    base += self.gap
                value_terms = self.analyzer.terms(text)
                terms.extend(value_terms)
                positions.extend(range(base, base + len(value_terms)))
                base += len(value_terms)
        if not terms:
            return
        counts = Counter(terms)
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[doc] = tf if self.freqs else 1
        self.doc_terms[doc] = terms
        if positions is not None:
            self.doc_positions[doc] = positions
        length = len(terms) if self.freqs else len(counts)
        self.doc_len[doc] = length
        # Lucene's norm: the token count (the distinct-term count for docs-only fields), one byte
        self.norm_bytes.set(doc, int_to_byte4(len(terms) if self.freqs else len(counts)) if self.norms else 1)
        self.doc_count += 1
        self.sum_total_term_freq += length
        self._dictionary.invalidate()

    def remove(self, doc: int) -> None:
        self.with_value.discard(doc)
        terms = self.doc_terms.pop(doc, None)
        if terms is None:
            return
        self.doc_positions.pop(doc, None)
        for term in set(terms):
            posting = self.postings.get(term)
            if posting is not None:
                posting.pop(doc, None)
                if not posting:
                    del self.postings[term]
        self.sum_total_term_freq -= self.doc_len.pop(doc)
        self.doc_count -= 1
        self._dictionary.invalidate()

    def docs(self) -> Iterable[int]:
        return self.with_value

    # -- snapshot (search.snapshot) -----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        vocab = list(self.postings)
        term_id = {t: i for i, t in enumerate(vocab)}
        terms, terms_off = pack_strings(vocab)
        p_docs, p_off = ragged((list(p) for p in self.postings.values()), np.int64)
        p_freqs, _ = ragged((list(p.values()) for p in self.postings.values()), np.int64)
        dt_docs = list(self.doc_terms)
        dt_ids, dt_off = ragged(([term_id[t] for t in seq] for seq in self.doc_terms.values()), np.int64)
        dp_pos, dp_off = ragged(self.doc_positions.values(), np.int64)
        return {
            "terms": terms,
            "terms_off": terms_off,
            "p_docs": p_docs,
            "p_freqs": p_freqs,
            "p_off": p_off,
            "dt_docs": np.asarray(dt_docs, dtype=np.int64),
            "dt_ids": dt_ids,
            "dt_off": dt_off,
            "doc_len": np.asarray([self.doc_len[d] for d in dt_docs], dtype=np.int64),
            "dp_docs": np.asarray(list(self.doc_positions), dtype=np.int64),
            "dp_pos": dp_pos,
            "dp_off": dp_off,
            "with_value": np.asarray(sorted(self.with_value), dtype=np.int64),
            "norms": self.norm_bytes.data.copy(),
            "doc_count": self.doc_count,
            "sum_total_term_freq": self.sum_total_term_freq,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        vocab = unpack_strings(state["terms"], state["terms_off"])
        docs, freqs = unragged(state["p_docs"], state["p_off"]), unragged(state["p_freqs"], state["p_off"])
        if not len(vocab) == len(docs) == len(freqs):
            raise ValueError("postings do not match the term dictionary")
        self.postings = {t: dict(zip(d, f, strict=True)) for t, d, f in zip(vocab, docs, freqs, strict=True)}
        dt_docs = state["dt_docs"].tolist()
        seqs = unragged(state["dt_ids"], state["dt_off"])
        self.doc_terms = {d: [vocab[i] for i in ids] for d, ids in zip(dt_docs, seqs, strict=True)}
        self.doc_len = dict(zip(dt_docs, state["doc_len"].tolist(), strict=True))
        self.doc_positions = dict(
            zip(state["dp_docs"].tolist(), unragged(state["dp_pos"], state["dp_off"]), strict=True)
        )
        self.with_value = set(state["with_value"].tolist())
        norms = state["norms"]
        if norms.dtype != np.uint8 or norms.ndim != 1:
            raise ValueError("norms must be a uint8 vector")
        self.norm_bytes.data = norms.copy()
        self.doc_count = int(state["doc_count"])
        self.sum_total_term_freq = int(state["sum_total_term_freq"])
        self._dictionary.invalidate()
        self._cache = self._cache_key = None

    # -- statistics and scoring ---------------------------------------------------------------------
    def doc_freq(self, term: str) -> int:
        return len(self.postings.get(term, ()))

    def idf(self, term: str) -> np.float32:
        return bm25_idf(self.doc_freq(term), self.doc_count)

    def norm_inverse_cache(self) -> np.ndarray:
        key = (self.doc_count, self.sum_total_term_freq)
        if self._cache is None or self._cache_key != key:
            self._cache = bm25_norm_cache(bm25_avgdl(self.sum_total_term_freq, max(self.doc_count, 1)))
            self._cache_key = key
        return self._cache

    def term_scores(self, term: str, boost: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(docs, float32 BM25 scores) of every document containing ``term``."""
        posting = self.postings.get(term)
        if not posting:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        docs = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
        freqs = np.fromiter(posting.values(), dtype=np.float32, count=len(posting))
        weight = np.float32(boost) * self.idf(term)
        norm_inverse = self.norm_inverse_cache()[self.norm_bytes.data[docs]]
        return docs, bm25_scores(weight, freqs, norm_inverse)

    def phrase_scores(self, terms: list[str], slop: int = 0, boost: float = 1.0) -> Scores:
        """BM25 scores of the documents containing the phrase (``slop`` = allowed moves)."""
        if not self.positions:
            raise _no_positions(self)
        postings = [self.postings.get(t) for t in terms]
        if any(not p for p in postings):
            return {}
        order = sorted(range(len(terms)), key=lambda i: len(postings[i] or ()))
        candidates = set(postings[order[0]] or ())
        for i in order[1:]:
            candidates &= (postings[i] or {}).keys()
            if not candidates:
                return {}
        idf = np.float32(sum(float(self.idf(t)) for t in terms))
        weight = np.float32(boost) * idf
        found_docs: list[int] = []
        found_freqs: list[float] = []
        wanted = set(terms)
        for doc in candidates:
            seq = self.doc_terms[doc]
            explicit = self.doc_positions.get(doc)
            where: dict[str, list[int]] = {t: [] for t in wanted}
            for i, term in enumerate(seq):
                if term in wanted:
                    where[term].append(explicit[i] if explicit is not None else i)
            freq = _phrase_freq([where[t] for t in terms], slop)
            if freq > 0:
                found_docs.append(doc)
                found_freqs.append(freq)
        if not found_docs:
            return {}
        docs = np.array(found_docs, dtype=np.int64)
        norm_inverse = self.norm_inverse_cache()[self.norm_bytes.data[docs]]
        scores = bm25_scores(weight, np.array(found_freqs, dtype=np.float32), norm_inverse)
        return dict(zip(docs.tolist(), scores.tolist(), strict=True))

    def terms(self) -> list[str]:
        """Every indexed term, sorted (code point order, as Lucene's byte order for valid text)."""
        return self._dictionary.terms(self.postings)

    def docs_with_terms(self, terms: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for term in terms:
            out.update(self.postings.get(term, ()))
        return out

    def sort_values(self, doc: int) -> list[str]:
        """``fielddata: true``: the document's distinct terms, sorted."""
        return sorted(set(self.doc_terms.get(doc, ())))


def _no_positions(index: TextFieldIndex) -> Exception:
    return IllegalArgument("field was indexed without position data; cannot run PhraseQuery")


def _phrase_freq(positions: list[list[int]], slop: int) -> float:
    """Lucene's phrase frequency: exact matches counted, sloppy ones weighted ``1/(1+distance)``."""
    n = len(positions)
    if n == 1:
        return float(len(positions[0]))
    if slop == 0:
        others = [set(p) for p in positions[1:]]
        return float(sum(1 for p in positions[0] if all(p + i + 1 in others[i] for i in range(n - 1))))
    # Sloppy: walk the term positions (offset by their place in the phrase) like SloppyPhraseMatcher.
    pointers = [0] * n
    freq = 0.0
    while all(pointers[i] < len(positions[i]) for i in range(n)):
        shifted = [positions[i][pointers[i]] - i for i in range(n)]
        lo, hi = min(shifted), max(shifted)
        distance = hi - lo
        actual = [positions[i][pointers[i]] for i in range(n)]
        if distance <= slop and len(set(actual)) == n:
            freq += 1.0 / (1.0 + distance)
            for i in range(n):
                pointers[i] += 1
            continue
        pointers[shifted.index(lo)] += 1
    return freq


class KeywordFieldIndex:
    """Exact terms of a ``keyword`` field; BM25 as Lucene scores a docs-only field without norms."""

    kind = "keyword"

    def __init__(self, mapping: dict[str, Any], settings: dict[str, Any]) -> None:
        self.mapping = mapping
        self.ignore_above = int(mapping.get("ignore_above", 2147483647))
        self.lowercase = mapping.get("normalizer") == "lowercase"
        self.searchable = bool(mapping.get("index", True))
        self.postings: dict[str, dict[int, int]] = {}
        self.doc_values: dict[int, list[str]] = {}
        self.doc_count = 0
        self.sum_doc_freq = 0
        self._dictionary = _TermDictionary()

    def normalize(self, value: Any) -> str:
        text = keyword_value(value)
        return java_lowercase(text) if self.lowercase else text

    def _terms_of(self, values: list[Any]) -> list[str]:
        out: set[str] = set()
        for v in _scalars(values):
            try:
                text = self.normalize(v)
            except ValueProblem:
                continue
            if len(text) <= self.ignore_above:
                out.add(text)
        return sorted(out)

    def add(self, doc: int, values: list[Any]) -> None:
        terms = self._terms_of(values)
        if not terms:
            return
        for term in terms:
            self.postings.setdefault(term, {})[doc] = 1
        self.doc_values[doc] = terms
        self.doc_count += 1
        self.sum_doc_freq += len(terms)
        self._dictionary.invalidate()

    def remove(self, doc: int) -> None:
        terms = self.doc_values.pop(doc, None)
        if terms is None:
            return
        for term in terms:
            posting = self.postings.get(term)
            if posting is not None:
                posting.pop(doc, None)
                if not posting:
                    del self.postings[term]
        self.doc_count -= 1
        self.sum_doc_freq -= len(terms)
        self._dictionary.invalidate()

    def docs(self) -> Iterable[int]:
        return self.doc_values.keys()

    # -- snapshot: the doc values; postings, counts and sums follow from them -----------------------
    def state(self) -> dict[str, Any]:
        vocab = list(self.postings)
        term_id = {t: i for i, t in enumerate(vocab)}
        terms, terms_off = pack_strings(vocab)
        ids, off = ragged(([term_id[t] for t in v] for v in self.doc_values.values()), np.int64)
        return {
            "terms": terms,
            "terms_off": terms_off,
            "docs": np.asarray(list(self.doc_values), dtype=np.int64),
            "ids": ids,
            "off": off,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        vocab = unpack_strings(state["terms"], state["terms_off"])
        self.postings = {t: {} for t in vocab}
        self.doc_values = {}
        for doc, ids in zip(state["docs"].tolist(), unragged(state["ids"], state["off"]), strict=True):
            terms = [vocab[i] for i in ids]
            self.doc_values[doc] = terms
            for term in terms:
                self.postings[term][doc] = 1
        if any(not p for p in self.postings.values()):
            raise ValueError("a term without documents")
        self.doc_count = len(self.doc_values)
        self.sum_doc_freq = sum(len(v) for v in self.doc_values.values())
        self._dictionary.invalidate()

    def term_scores(self, term: str, boost: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        posting = self.postings.get(term)
        if not posting:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        docs = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
        weight = np.float32(boost) * bm25_idf(len(posting), self.doc_count)
        # docs-only (freq 1), no norms (Lucene reads norm 1 -> dl 1); avgdl = sumDocFreq / docCount
        cache = bm25_norm_cache(bm25_avgdl(self.sum_doc_freq, self.doc_count))
        scores = bm25_scores(weight, np.ones(len(docs), dtype=np.float32), np.full(len(docs), cache[1]))
        return docs, scores

    def terms(self) -> list[str]:
        return self._dictionary.terms(self.postings)

    def docs_with_terms(self, terms: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for term in terms:
            out.update(self.postings.get(term, ()))
        return out

    def sort_values(self, doc: int) -> list[str]:
        return self.doc_values.get(doc, [])


class BooleanFieldIndex(KeywordFieldIndex):
    """``boolean``: the terms ``true``/``false``; sorts (and reports sort values) as 1/0."""

    kind = "boolean"

    def __init__(self, mapping: dict[str, Any], settings: dict[str, Any]) -> None:
        super().__init__(mapping, settings)
        self.lowercase = False
        self.ignore_above = 5

    def normalize(self, value: Any) -> str:
        return "true" if parse_boolean(value) else "false"

    def sort_values(self, doc: int) -> list[int]:  # type: ignore[override]
        return [1 if t == "true" else 0 for t in self.doc_values.get(doc, [])]  # "false" < "true": ascending


class NumericFieldIndex:
    """Doc values of a numeric field: the sorted numbers of each document."""

    kind = "numeric"

    def __init__(self, mapping: dict[str, Any], settings: dict[str, Any]) -> None:
        self.mapping = mapping
        self.type = str(mapping["type"])
        self.integer = self.type in INTEGER_TYPES
        self.searchable = bool(mapping.get("index", True)) or bool(mapping.get("doc_values", True))
        self.doc_values: dict[int, list[int | float]] = {}

    def parse(self, value: Any) -> int | float:
        return parse_number(
            self.type, value, coerce=self.mapping.get("coerce", True) is not False, scaling_factor=self._factor()
        )

    def _factor(self) -> float | None:
        factor = self.mapping.get("scaling_factor")
        return float(factor) if factor else None

    def add(self, doc: int, values: list[Any]) -> None:
        numbers = []
        for v in _scalars(values):
            try:
                numbers.append(self.parse(v))
            except ValueProblem:
                continue  # ignore_malformed (services validate documents before they get here)
        if numbers:
            self.doc_values[doc] = sorted(numbers)

    def remove(self, doc: int) -> None:
        self.doc_values.pop(doc, None)

    # -- snapshot: int64 or float64 arrays when every value fits exactly, else a JSON list ----------
    def state(self) -> dict[str, Any]:
        values = [v for vs in self.doc_values.values() for v in vs]
        out: dict[str, Any] = {"docs": np.asarray(list(self.doc_values), dtype=np.int64)}
        out["off"] = np.cumsum([0, *(len(vs) for vs in self.doc_values.values())], dtype=np.int64)
        if all(type(v) is int and -(2**63) <= v < 2**63 for v in values):
            out["ints"] = np.asarray(values, dtype=np.int64)
        elif all(type(v) is float for v in values):
            out["floats"] = np.asarray(values, dtype=np.float64)
        else:
            out["values"] = values  # mixed, or beyond int64 (unsigned_long): exact in JSON
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        if "ints" in state:
            flat = state["ints"]
        elif "floats" in state:
            flat = state["floats"]
        else:
            flat = np.asarray(state["values"], dtype=object)
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in flat):
                raise ValueError("doc values must be numbers")
        self.doc_values = dict(zip(state["docs"].tolist(), unragged(flat, state["off"]), strict=True))

    def docs(self) -> Iterable[int]:
        return self.doc_values.keys()

    def sort_values(self, doc: int) -> list[int | float]:
        return self.doc_values.get(doc, [])

    def matching(self, predicate: Any) -> set[int]:
        return {doc for doc, values in self.doc_values.items() if any(predicate(v) for v in values)}


class DateFieldIndex(NumericFieldIndex):
    """Doc values of a ``date`` field, as epoch milliseconds."""

    kind = "date"

    def __init__(self, mapping: dict[str, Any], settings: dict[str, Any]) -> None:
        super().__init__(mapping, settings)
        self.integer = True
        self.format = DateFormat(mapping.get("format"))

    def parse(self, value: Any) -> int:
        return self.format.millis(value)


FIELD_INDEXES["text"] = TextFieldIndex
FIELD_INDEXES["keyword"] = KeywordFieldIndex
FIELD_INDEXES["boolean"] = BooleanFieldIndex
FIELD_INDEXES["date"] = DateFieldIndex
for _numeric in NUMERIC_TYPES:
    FIELD_INDEXES[_numeric] = NumericFieldIndex

__all__ = [
    "LENGTH_TABLE",
    "BooleanFieldIndex",
    "DateFieldIndex",
    "KeywordFieldIndex",
    "NumericFieldIndex",
    "TextFieldIndex",
    "bm25_avgdl",
    "bm25_idf",
    "bm25_norm_cache",
    "bm25_scores",
    "byte4_to_int",
    "f32",
    "int_to_byte4",
    "wildcard_to_regex",
]
