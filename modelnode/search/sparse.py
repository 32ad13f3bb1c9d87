"""``rank_features`` / ``sparse_vector`` fields and the ``neural_sparse`` query (spec §1.4, §1.5).

A field is an inverted index ``token -> {row: weight}``; a row is one ``{token: weight}`` object
(a plain field gives one row per document; nested chunks give several, and the document scores the
max over its rows, nested ``score_mode: max``). ``neural_sparse`` on resolved ``query_tokens``
scores exactly as OpenSearch's BooleanQuery of ``FeatureField.newLinearQuery`` clauses::

    score(doc) = Σ_{t ∈ query ∩ doc} q_weight(t) × d_weight(t)

with no IDF or normalization; a document sharing no token does not match.

*Precision:* weights are stored at full precision. Lucene's ``FeatureField`` keeps only the top 9
significant bits of a stored weight (relative error ≤ 2⁻⁸ ≈ 0.4%), so OpenSearch's scores can differ
from ours by up to 0.4% per term; ranking ties may break differently.

Query text never reaches this module: ``rewrite.resolve`` turns ``query_text`` into ``query_tokens``
through the Encoder (``model_id``) or a built-in analyzer (``analyzer``: ``bert-uncased`` by
default, ``mbert-uncased``). The analyzers are ``SparseAnalyzer`` callables that services construct
(e.g. from the runtime's SPARSE_TOKENIZE kind, or with ``load_idf_analyzer`` from ML Commons'
``bert-uncased.zip``) and pass in.
"""

from __future__ import annotations

import json
import math
import threading
import zipfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import core
from modelnode.search.core import QueryContext, Scores
from modelnode.search.snapshot import pack_strings, ragged, unpack_strings, unragged
from modelnode.search.vector import field_mapping, single_field

SPARSE_TYPES = frozenset({"rank_features", "sparse_vector"})
DEFAULT_ANALYZER = "bert-uncased"
BUILTIN_ANALYZERS = ("bert-uncased", "mbert-uncased")
MAX_QUERY_WEIGHT = 64.0  # Lucene FeatureField.MAX_WEIGHT (newLinearQuery's bound)
NEURAL_SPARSE_KEYS = frozenset(
    {"query_text", "query_tokens", "model_id", "analyzer", "max_token_score", "boost", "_name", "method_parameters"}
)
_COMPACT_DEAD_FRACTION = 0.5


class SparseAnalyzer(Protocol):
    """A built-in neural-sparse analyzer: query text -> ``{token: weight}`` (distinct tokens).
    ``rewrite.resolve`` also accepts an async one (a coroutine function returning the mapping)."""

    def __call__(self, text: str) -> Mapping[str, float] | Awaitable[Mapping[str, float]]: ...


# --- validation ----------------------------------------------------------------------------------


def validate_sparse_values(values: list[Any], *, field: str = "") -> list[dict[str, float]]:
    """A document's values for a rank_features path -> one ``{token: weight}`` per row, or a 400."""
    rows: list[dict[str, float]] = []
    for value in values:
        if not isinstance(value, dict):
            raise IllegalArgument(f"[rank_features] field [{field}] takes an object of feature -> positive number")
        row: dict[str, float] = {}
        for token, weight in value.items():
            if not isinstance(token, str) or not token:
                raise IllegalArgument(f"[rank_features] field [{field}] has an empty feature name")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise IllegalArgument(
                    f"[rank_features] field [{field}] feature [{token}] must be a number, got [{weight!r}]"
                )
            w = float(weight)
            if not math.isfinite(w) or w <= 0:
                raise IllegalArgument(
                    f"[rank_features] field [{field}] feature [{token}] must be a positive finite number, "
                    f"got [{weight}]"
                )
            row[token] = w
        rows.append(row)
    return rows


def validate_query_tokens(tokens: Any) -> dict[str, float]:
    if not isinstance(tokens, dict):
        raise ParsingError("[neural_sparse] query_tokens must be an object of token -> weight")
    out: dict[str, float] = {}
    for token, weight in tokens.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ParsingError(f"[neural_sparse] query_tokens [{token}] must be a number")
        w = float(weight)
        if not 0 < w <= MAX_QUERY_WEIGHT:  # Lucene's bound for FeatureField.newLinearQuery
            raise IllegalArgument(f"weight must be in (0, {MAX_QUERY_WEIGHT:g}], got: {weight} for token [{token}]")
        out[str(token)] = w
    return out


# --- the field index -----------------------------------------------------------------------------


class SparseField:
    """Postings of one rank_features path. Rows are append-only between compactions."""

    def __init__(self, mapping: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
        self.mapping = dict(mapping)
        self.settings = settings
        self._postings: dict[str, tuple[list[int], list[float]]] = {}
        self._compiled: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rows: list[dict[str, float] | None] = []  # row -> its features (None once dead)
        self._row_doc: list[int] = []
        self._doc_rows: dict[int, range] = {}
        self._dead = 0
        self._lock = threading.RLock()

    def add(self, doc: int, values: list[Any]) -> None:
        rows = validate_sparse_values(values, field=str(self.mapping.get("_path", "")))
        with self._lock:
            if doc in self._doc_rows:
                self.remove(doc)
            start = len(self._rows)
            for features in rows:
                row = len(self._rows)
                self._rows.append(features)
                self._row_doc.append(doc)
                for token, weight in features.items():
                    post = self._postings.get(token)
                    if post is None:
                        post = self._postings[token] = ([], [])
                    post[0].append(row)
                    post[1].append(weight)
                    self._compiled.pop(token, None)
            self._doc_rows[doc] = range(start, len(self._rows))

    def remove(self, doc: int) -> None:
        with self._lock:
            span = self._doc_rows.pop(doc, None)
            if span is None:
                return
            for row in span:
                self._rows[row] = None
            self._dead += len(span)

    def __len__(self) -> int:
        return len(self._doc_rows)

    # snapshot (search.snapshot): the rows; postings follow from them (dead rows keep their slot,
    # empty: scoring skips them anyway) ----------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            vocab = list(self._postings)
            token_id = {t: i for i, t in enumerate(vocab)}
            rows = [r or {} for r in self._rows]
            tokens, tokens_off = pack_strings(vocab)
            ids, off = ragged(([token_id[t] for t in r] for r in rows), np.int64)
            weights, _ = ragged((list(r.values()) for r in rows), np.float64)
            return {
                "tokens": tokens,
                "tokens_off": tokens_off,
                "ids": ids,
                "weights": weights,
                "off": off,
                "alive": np.asarray([r is not None for r in self._rows], dtype=bool),
                "row_doc": np.asarray(self._row_doc, dtype=np.int64),
                "docs": np.fromiter(self._doc_rows, dtype=np.int64, count=len(self._doc_rows)),
                "spans": np.asarray([(r.start, r.stop) for r in self._doc_rows.values()], dtype=np.int64).reshape(
                    -1, 2
                ),
                "dead": self._dead,
            }

    def load_state(self, state: dict[str, Any]) -> None:
        vocab = unpack_strings(state["tokens"], state["tokens_off"])
        ids, weights = unragged(state["ids"], state["off"]), unragged(state["weights"], state["off"])
        alive = state["alive"].tolist()
        row_doc = state["row_doc"].tolist()
        if not len(ids) == len(alive) == len(row_doc):
            raise ValueError("row tables do not match")
        postings: dict[str, tuple[list[int], list[float]]] = {}
        rows: list[dict[str, float] | None] = []
        for row, (tids, ws, live) in enumerate(zip(ids, weights, alive, strict=True)):
            if not live:
                rows.append(None)
                continue
            features = {vocab[t]: w for t, w in zip(tids, ws, strict=True)}
            rows.append(features)
            for token, weight in features.items():
                post = postings.get(token)
                if post is None:
                    post = postings[token] = ([], [])
                post[0].append(row)
                post[1].append(weight)
        doc_rows = {d: range(a, b) for d, (a, b) in zip(state["docs"].tolist(), state["spans"].tolist(), strict=True)}
        if any(not 0 <= r.start < r.stop <= len(rows) for r in doc_rows.values()):
            raise ValueError("a document's rows are out of range")
        with self._lock:
            self._postings, self._compiled = postings, {}
            self._rows, self._row_doc, self._doc_rows = rows, row_doc, doc_rows
            self._dead = int(state["dead"])

    def refresh(self) -> None:
        """Compact dead rows and compile every posting list now rather than at query time."""
        with self._lock:
            self._compact_if_needed()
            for token in self._postings:
                self._compile(token)

    def features_of(self, doc: int) -> list[dict[str, float]]:
        return [r for r in (self._rows[i] for i in self._doc_rows[doc]) if r is not None]

    def score(self, query_tokens: Mapping[str, float], allowed: Any = None) -> Scores:
        """Σ q_w × d_w over shared tokens, per row; a document's score is the max over its rows."""
        with self._lock:
            self._compact_if_needed()
            n = len(self._rows)
            if n == 0:
                return {}
            acc = np.zeros(n, dtype=np.float64)
            touched = np.zeros(n, dtype=bool)
            for token, q_weight in query_tokens.items():
                compiled = self._compile(token)
                if compiled is None:
                    continue
                rows, weights = compiled
                acc[rows] += q_weight * weights  # a row holds a token once: no duplicate indices
                touched[rows] = True
            hit_rows = np.flatnonzero(touched)
            row_doc = self._row_doc
            result: Scores = {}
            for row, score in zip(hit_rows.tolist(), acc[hit_rows].tolist(), strict=True):
                if self._rows[row] is None:
                    continue
                doc = row_doc[row]
                if allowed is not None and doc not in allowed:
                    continue
                if score > result.get(doc, -math.inf):
                    result[doc] = score
            return result

    def _compile(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        compiled = self._compiled.get(token)
        if compiled is None:
            post = self._postings.get(token)
            if post is None:
                return None
            compiled = self._compiled[token] = (
                np.asarray(post[0], dtype=np.int64),
                np.asarray(post[1], dtype=np.float64),
            )
        return compiled

    def _compact_if_needed(self) -> None:
        if not self._dead or self._dead < _COMPACT_DEAD_FRACTION * len(self._rows):
            return
        live = [(doc, self._rows[row]) for doc, span in self._doc_rows.items() for row in span]
        self._postings, self._compiled = {}, {}
        self._rows, self._row_doc, self._doc_rows, self._dead = [], [], {}, 0
        by_doc: dict[int, list[Any]] = {}
        for doc, features in live:
            by_doc.setdefault(doc, []).append(features)
        for doc, rows in by_doc.items():
            self.add(doc, rows)


# --- the neural_sparse query ---------------------------------------------------------------------


def neural_sparse_query(body: Any, ctx: QueryContext) -> Scores:
    field, opts = single_field("neural_sparse", body)
    unknown = set(opts) - NEURAL_SPARSE_KEYS
    if unknown:
        raise ParsingError(f"[neural_sparse] query does not support [{sorted(unknown)[0]}]")
    mapping = field_mapping(ctx.index, field)
    index = ctx.index.field(field)
    mapped_type = mapping.get("type") if mapping is not None else None
    if (mapped_type not in SPARSE_TYPES and not isinstance(index, SparseField)) or (
        index is not None and not isinstance(index, SparseField)
    ):
        raise IllegalArgument("[neural_sparse] query only works on [rank_features] fields")
    if "query_tokens" not in opts:
        if "query_text" in opts:
            raise IllegalArgument(
                "[neural_sparse] query_text must be turned into query_tokens before the query runs "
                "(search orchestration: rewrite.resolve)"
            )
        raise ParsingError("[neural_sparse] requires either [query_text] or [query_tokens]")
    tokens = validate_query_tokens(opts["query_tokens"])
    # max_token_score: deprecated since 2.12, accepted and ignored.
    boost = opts.get("boost", 1.0)
    if isinstance(boost, bool) or not isinstance(boost, int | float) or boost < 0:
        raise ParsingError("[neural_sparse] [boost] must be a non-negative number")
    if index is None:
        return {}
    assert isinstance(index, SparseField)
    scores = index.score(tokens)
    if boost != 1.0:
        scores = {doc: s * float(boost) for doc, s in scores.items()}
    return scores


# --- built-in analyzers --------------------------------------------------------------------------


class IdfAnalyzer:
    """ML Commons' SparseTokenizerModel as a function: WordPiece-tokenize, keep distinct ids (first
    occurrence first), decode each id alone with special tokens skipped (empty -> dropped), weight =
    ``idf[token]`` (float32, as ML Commons' Map<String, Float>) or 1.0 for tokens the table lacks."""

    def __init__(
        self, encode_ids: Callable[[str], list[int]], decode_id: Callable[[int], str], idf: Mapping[str, float]
    ):
        self._encode_ids = encode_ids
        self._decode_id = decode_id
        self._idf = idf
        self._words: dict[int, str] = {}

    def __call__(self, text: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for token_id in dict.fromkeys(self._encode_ids(text)):
            word = self._words.get(token_id)
            if word is None:
                word = self._words[token_id] = self._decode_id(token_id)
            if word and word not in out:
                out[word] = float(np.float32(self._idf.get(word, 1.0)))
        return out


def load_idf_analyzer(path: str | Path) -> IdfAnalyzer:
    """An analyzer from ML Commons' analyzer zip (``tokenizer.json`` + ``idf.json``), e.g.
    ``../shared/models/opensearch-bert-uncased-idf.zip`` for ``bert-uncased``."""
    from tokenizers import Tokenizer

    with zipfile.ZipFile(path) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        if "tokenizer.json" not in names:
            raise IllegalArgument(f"analyzer archive [{path}] has no tokenizer.json")
        tokenizer = Tokenizer.from_str(zf.read(names["tokenizer.json"]).decode("utf-8"))
        idf = json.loads(zf.read(names["idf.json"]).decode("utf-8")) if "idf.json" in names else {}
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return IdfAnalyzer(
        lambda text: tokenizer.encode(text).ids,
        lambda token_id: tokenizer.decode([token_id], skip_special_tokens=True),
        {str(k): float(v) for k, v in idf.items()},
    )


def _make_field(mapping: dict[str, Any], settings: dict[str, Any]) -> SparseField:
    return SparseField(mapping, settings)


core.FIELD_INDEXES["rank_features"] = _make_field
core.FIELD_INDEXES["sparse_vector"] = _make_field
core.QUERY_TYPES["neural_sparse"] = neural_sparse_query
