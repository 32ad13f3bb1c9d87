"""``knn_vector`` fields on faiss, the ``knn`` query, and k-NN's exact score formulas.

Scores are OpenSearch's (k-NN ``SpaceType.scoreTranslation``, spec §1.2), computed in float64 from the
stored float32 vectors on every path, so the approximate (HNSW) and the exact path give the same
score for the same document:

==============  =============================  ===================================
space_type      raw distance d                 ``_score``
==============  =============================  ===================================
l2              squared Euclidean Σ(x−y)²      1 / (1 + d)
cosinesimil     1 − cos(x, y)                  max((2 − d) / 2, 0) = (1 + cos) / 2
innerproduct    dot = x·y                      dot ≥ 0 → 1 + dot; dot < 0 → 1 / (1 − dot)
l1              Σ|x−y|                         1 / (1 + d)
linf            max|x−y|                       1 / (1 + d)
==============  =============================  ===================================

One ``VectorField`` per mapped path keeps every vector in numpy (the truth) and a faiss index
derived from it: ``IndexHNSWFlat`` (``m``, ``ef_construction``; ``ef_search`` from the query's
``method_parameters``, else ``index.knn.algo_param.ef_search``, else the mapping, else 100) for
``method.name: hnsw`` with l2 / innerproduct / cosinesimil (stored vectors normalized, as faiss does
since 2.19); exact scans otherwise (``flat``, l1, linf, ``index.knn: false``). A document may hold
several vectors (nested chunks): its score is the max over them (nested ``score_mode: max``) and
``k`` counts documents. faiss HNSW cannot delete, so removals are tombstones (excluded with an
``IDSelector``); the graph is rebuilt from the live rows, lazily at the next search, once a quarter
of its rows are dead. New vectors are added to the graph in one batch at the next search.

Efficient filtering (k-NN's ``KNNWeight``): the filter's documents are computed first and the search
runs only among them, so ``k`` is cut after filtering. When the filtered set is small (at most ``k``
documents, or ``rows × dimension ≤ 2,048,000`` distance computations) the scan is exact; otherwise
HNSW searches with an ``IDSelector`` over the allowed rows. Radial search (``min_score`` /
``max_distance``) is always an exact scan: it returns every document within the bound.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import faiss
import numpy as np

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import core
from modelnode.search.core import QueryContext, Scores
from modelnode.search.query import evaluate as query_evaluate

SPACE_TYPES = ("l2", "cosinesimil", "innerproduct", "l1", "linf")
ANN_SPACES = frozenset({"l2", "cosinesimil", "innerproduct"})
DEFAULT_EF_SEARCH = 100
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 100
MAX_K = 10_000
MAX_DIMENSION = 16_000
# k-NN's KNNConstants.MAX_DISTANCE_COMPUTATIONS: a filtered set this cheap is scanned exactly.
MAX_DISTANCE_COMPUTATIONS = 2_048_000
_REBUILD_DEAD_FRACTION = 0.25
_CHUNK_ROWS = 16_384  # rows per block in exact scans (bounds the temporaries)

KNN_KEYS = frozenset(
    {
        "vector",
        "k",
        "min_score",
        "max_distance",
        "filter",
        "method_parameters",
        "rescore",
        "expand_nested_docs",
        "boost",
        "_name",
    }
)


# --- score formulas (pure) -----------------------------------------------------------------------


def distance_to_score(space: str, distance: np.ndarray) -> np.ndarray:
    """k-NN's score translation of raw distances (for innerproduct: the dot product itself)."""
    d = np.asarray(distance, dtype=np.float64)
    if space in ("l2", "l1", "linf"):
        return 1.0 / (1.0 + d)
    if space == "cosinesimil":
        return np.maximum((2.0 - d) / 2.0, 0.0)
    if space == "innerproduct":
        with np.errstate(divide="ignore"):
            return np.where(d >= 0, 1.0 + d, 1.0 / (1.0 - np.minimum(d, 0.0)))
    raise IllegalArgument(f"space_type [{space}] is not supported")


def exact_raw(space: str, vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The raw distance of every row of ``vectors`` (n, d) to ``query`` (d,), float64: squared
    Euclidean for l2, 1 − cos for cosinesimil, the dot product for innerproduct, Σ|x−y| for l1 and
    max|x−y| for linf. For ``cosinesimil`` both sides are normalized here."""
    q = np.asarray(query, dtype=np.float64)
    out = np.empty(len(vectors), dtype=np.float64)
    if space == "cosinesimil":
        q = q / np.linalg.norm(q)
    for start in range(0, len(vectors), _CHUNK_ROWS):
        block = np.asarray(vectors[start : start + _CHUNK_ROWS], dtype=np.float64)  # (b, d)
        if space == "l2":
            diff = block - q
            raw = np.einsum("ij,ij->i", diff, diff)
        elif space == "cosinesimil":
            norms = np.linalg.norm(block, axis=1)
            norms[norms == 0] = 1.0
            raw = 1.0 - (block @ q) / norms
        elif space == "innerproduct":
            raw = block @ q
        elif space == "l1":
            raw = np.abs(block - q).sum(axis=1)
        elif space == "linf":
            raw = np.abs(block - q).max(axis=1)
        else:
            raise IllegalArgument(f"space_type [{space}] is not supported")
        out[start : start + len(block)] = raw
    return out


def exact_scores(space: str, vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``_score`` of every row of ``vectors`` (n, d) against ``query`` (d,), float64."""
    return distance_to_score(space, exact_raw(space, vectors, query))


def radial_keep(space: str, raw: np.ndarray, *, min_score: float | None, max_distance: float | None) -> np.ndarray:
    """Which rows a radial search keeps, from their raw distances (``exact_raw``). ``max_distance``
    is the engine's distance: squared for l2, 1 − cos for cosinesimil, −dot for innerproduct (what
    faiss reports); ``min_score`` compares the translated score."""
    if min_score is not None:
        return distance_to_score(space, raw) >= min_score
    assert max_distance is not None
    if space == "innerproduct":
        return -raw <= max_distance
    return raw <= max_distance


# --- mapping helpers -----------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def space_type_of(mapping: Mapping[str, Any]) -> str:
    method = mapping.get("method") or {}
    space = mapping.get("space_type") or method.get("space_type") or "l2"
    if space not in SPACE_TYPES:
        raise IllegalArgument(
            f"space_type [{space}] is not supported for [knn_vector]; use one of {', '.join(SPACE_TYPES)}"
        )
    return str(space)


def dimension_of(mapping: Mapping[str, Any]) -> int:
    dim = mapping.get("dimension")
    if isinstance(dim, bool) or not isinstance(dim, int | str):
        raise IllegalArgument("[dimension] is required for a [knn_vector] field")
    try:
        value = int(dim)
    except ValueError:
        raise IllegalArgument(f"[dimension] must be an integer, got [{dim}]") from None
    if not 1 <= value <= MAX_DIMENSION:
        raise IllegalArgument(f"[dimension] must be between 1 and {MAX_DIMENSION}, got [{value}]")
    return value


def validate_vectors(mapping: Mapping[str, Any], values: list[Any]) -> np.ndarray:
    """A document's values for a knn_vector path -> (rows, dimension) float32, or a 400.

    ``values`` is the flattened view ``core.values_at`` gives (all numbers of all vectors in a row)
    or a list of vectors."""
    dim = dimension_of(mapping)
    space = space_type_of(mapping)
    if values and all(isinstance(v, list | tuple) for v in values):
        flat: list[Any] = [x for v in values for x in v]
        lengths = {len(v) for v in values}
        if lengths != {dim}:
            bad = next(len(v) for v in values if len(v) != dim)
            raise IllegalArgument(f"Vector dimension mismatch. Expected: {dim}, Given: {bad}")
    else:
        flat = list(values)
        if len(flat) % dim != 0 or not flat:
            raise IllegalArgument(f"Vector dimension mismatch. Expected: {dim}, Given: {len(flat)}")
    if not all(type(x) is float or type(x) is int for x in flat) and any(
        isinstance(x, bool) or not isinstance(x, int | float) for x in flat
    ):
        raise IllegalArgument("[knn_vector] values must be numbers")
    arr = np.asarray(flat, dtype=np.float64).reshape(-1, dim)
    if not np.isfinite(arr).all():
        raise IllegalArgument("[knn_vector] values must be finite numbers (no NaN or Infinity)")
    if str(mapping.get("data_type", "float")) == "byte" and (
        (arr != np.round(arr)).any() or (arr < -128).any() or (arr > 127).any()
    ):
        raise IllegalArgument("[knn_vector] with data_type [byte] takes integers in [-128, 127]")
    f32 = arr.astype(np.float32)
    if not np.isfinite(f32).all():
        raise IllegalArgument("[knn_vector] values must fit in a float")
    if space == "cosinesimil" and (np.linalg.norm(f32, axis=1) == 0).any():
        raise IllegalArgument("zero vector is not supported when space type is [cosinesimil]")
    return f32


def query_vector(mapping: Mapping[str, Any], vector: Any) -> np.ndarray:
    dim = dimension_of(mapping)
    if isinstance(vector, np.ndarray):
        vector = vector.tolist()
    if not isinstance(vector, list | tuple) or not vector:
        raise ParsingError("[knn] requires [vector] as a non-empty array of numbers")
    if any(isinstance(x, bool) or not isinstance(x, int | float) for x in vector):
        raise ParsingError("[knn] [vector] must be an array of numbers")
    if len(vector) != dim:
        raise IllegalArgument(f"Query vector has invalid dimension: {len(vector)}. Dimension should be: {dim}")
    q = np.asarray(vector, dtype=np.float64)
    if not np.isfinite(q).all():
        raise IllegalArgument("[knn] [vector] must hold finite numbers")
    if space_type_of(mapping) == "cosinesimil" and not np.any(q):
        raise IllegalArgument("zero vector is not supported when space type is [cosinesimil]")
    return q


# --- the field index -----------------------------------------------------------------------------


class VectorField:
    """All vectors of one ``knn_vector`` path. Rows are append-only between rebuilds; row -> doc."""

    def __init__(self, mapping: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
        self.mapping = dict(mapping)
        self.settings = settings
        self.dimension = dimension_of(mapping)
        self.space = space_type_of(mapping)
        method = self.mapping.get("method") or {}
        params = method.get("parameters") or {}
        self.method = str(method.get("name") or "hnsw")
        self.engine = str(method.get("engine") or "faiss")
        self.m = int(params.get("m", DEFAULT_M))
        self.ef_construction = int(params.get("ef_construction", DEFAULT_EF_CONSTRUCTION))
        self.mapping_ef_search = params.get("ef_search")
        self._vecs = np.empty((0, self.dimension), dtype=np.float32)
        self._row_doc = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._n = 0
        self._dead = 0
        self._doc_rows: dict[int, tuple[int, int]] = {}  # doc -> [start, stop) rows
        self._ann: Any = None  # faiss index over rows [0, self._ann_rows)
        self._ann_rows = 0
        self._lock = threading.RLock()

    # FieldIndex -------------------------------------------------------------------------------

    def add(self, doc: int, values: list[Any]) -> None:
        rows = validate_vectors(self.mapping, values)  # before any state changes
        if self.space == "cosinesimil":
            rows = rows / np.linalg.norm(rows, axis=1, keepdims=True).astype(np.float32)
        with self._lock:
            if doc in self._doc_rows:
                self.remove(doc)
            need = self._n + len(rows)
            if need > len(self._vecs):
                cap = max(need, 2 * len(self._vecs), 64)
                self._vecs = _grow(self._vecs, cap)
                self._row_doc = _grow(self._row_doc, cap)
                self._alive = _grow(self._alive, cap)
            self._vecs[self._n : need] = rows
            self._row_doc[self._n : need] = doc
            self._alive[self._n : need] = True
            self._doc_rows[doc] = (self._n, need)
            self._n = need

    def remove(self, doc: int) -> None:
        with self._lock:
            span = self._doc_rows.pop(doc, None)
            if span is None:
                return
            self._alive[span[0] : span[1]] = False
            self._dead += span[1] - span[0]

    def refresh(self) -> None:
        """Bring the derived faiss graph up to date now (compact tombstones, add pending vectors)
        instead of at the next search; services may call it on ``_refresh`` / after a bulk."""
        with self._lock:
            self._compact_if_needed()
            if self._n and self.ann_capable() and _truthy(self.settings.get("index.knn", False)):
                self._sync_ann()

    # snapshot (search.snapshot): the rows, and the faiss graph serialized as bytes ------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            n = self._n
            out: dict[str, Any] = {
                "vecs": self._vecs[:n].copy(),
                "row_doc": self._row_doc[:n].copy(),
                "alive": self._alive[:n].copy(),
                "docs": np.fromiter(self._doc_rows, dtype=np.int64, count=len(self._doc_rows)),
                "spans": np.asarray(list(self._doc_rows.values()), dtype=np.int64).reshape(-1, 2),
                "dead": self._dead,
                "ann_rows": self._ann_rows if self._ann is not None else 0,
            }
            if self._ann is not None:
                out["ann"] = faiss.serialize_index(self._ann)
            return out

    def load_state(self, state: dict[str, Any]) -> None:
        vecs, row_doc, alive = state["vecs"], state["row_doc"], state["alive"]
        n = len(vecs)
        if vecs.dtype != np.float32 or vecs.shape != (n, self.dimension):
            raise ValueError(f"vectors of shape {vecs.shape}, expected (n, {self.dimension}) float32")
        if row_doc.shape != (n,) or alive.shape != (n,) or alive.dtype != bool:
            raise ValueError("row tables do not match the vectors")
        spans = state["spans"]
        doc_rows = {d: (int(a), int(b)) for d, (a, b) in zip(state["docs"].tolist(), spans.tolist(), strict=True)}
        if any(not 0 <= a < b <= n for a, b in doc_rows.values()):
            raise ValueError("a document's rows are out of range")
        ann, ann_rows = None, int(state["ann_rows"])
        if "ann" in state:
            ann = faiss.deserialize_index(state["ann"])
            if ann.ntotal != ann_rows or ann.d != self.dimension or ann_rows > n:
                raise ValueError("the faiss graph does not match the vectors")
        with self._lock:
            self._vecs, self._row_doc, self._alive = vecs, row_doc, alive
            self._n, self._dead = n, int(state["dead"])
            self._doc_rows = doc_rows
            self._ann, self._ann_rows = ann, ann_rows if ann is not None else 0

    # introspection -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._doc_rows)

    @property
    def vector_count(self) -> int:
        return self._n - self._dead

    def vectors_of(self, doc: int) -> np.ndarray:
        start, stop = self._doc_rows[doc]
        return self._vecs[start:stop]

    def ann_capable(self) -> bool:
        """An HNSW graph can serve this field (``method.name: hnsw`` and a faiss-HNSW space)."""
        return self.method == "hnsw" and self.space in ANN_SPACES

    # search ------------------------------------------------------------------------------------

    def search(
        self,
        vector: Any,
        *,
        k: int | None = None,
        min_score: float | None = None,
        max_distance: float | None = None,
        allowed: Iterable[int] | None = None,
        ef_search: int | None = None,
        approximate: bool | None = None,
    ) -> Scores:
        """Top-``k`` documents (or every document within the radial bound) -> score.

        ``allowed``: the filter's documents (efficient filtering); ``None`` = all documents."""
        return self.search_parsed(
            query_vector(self.mapping, vector),
            k=k,
            min_score=min_score,
            max_distance=max_distance,
            allowed=allowed,
            ef_search=ef_search,
            approximate=approximate,
        )

    def search_parsed(
        self,
        q: np.ndarray,
        *,
        k: int | None = None,
        min_score: float | None = None,
        max_distance: float | None = None,
        allowed: Iterable[int] | None = None,
        ef_search: int | None = None,
        approximate: bool | None = None,
    ) -> Scores:
        """``search`` with a query vector ``query_vector`` has already parsed and validated."""
        with self._lock:
            self._compact_if_needed()
            n = self._n
            if n == 0 or not self._doc_rows:
                return {}
            mask = self._alive[:n].copy()
            if allowed is not None:
                allowed_docs = np.fromiter(allowed, dtype=np.int64)
                mask &= np.isin(self._row_doc[:n], allowed_docs)
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                return {}
            if k is None:  # radial: exact over the allowed rows
                raw = exact_raw(self.space, self._vecs[rows], q)
                keep = radial_keep(self.space, raw, min_score=min_score, max_distance=max_distance)
                return self._by_doc(rows[keep], distance_to_score(self.space, raw[keep]), limit=None)
            if approximate is None:
                approximate = _truthy(self.settings.get("index.knn", False))
            use_ann = approximate and self.ann_capable()
            docs_allowed = len(np.unique(self._row_doc[rows])) if allowed is not None else len(self._doc_rows)
            small = docs_allowed <= k or len(rows) * self.dimension <= MAX_DISTANCE_COMPUTATIONS
            if use_ann and allowed is not None and small:
                use_ann = False
            if not use_ann:
                scores = exact_scores(self.space, self._vecs[rows], q)
                return self._by_doc(rows, scores, limit=k)
            return self._ann_search(q, k, mask if (allowed is not None or self._dead) else None, ef_search)

    def _ann_search(self, q: np.ndarray, k: int, mask: np.ndarray | None, ef_search: int | None) -> Scores:
        self._sync_ann()
        ef = int(ef_search or self._default_ef())
        query = q.astype(np.float32)[None, :]
        if self.space == "cosinesimil":
            query = query / np.linalg.norm(query)
        selector = None
        bits = None
        if mask is not None:
            bits = np.packbits(mask[: self._ann_rows], bitorder="little")
            selector = faiss.IDSelectorBitmap(self._ann_rows, faiss.swig_ptr(bits))
        live_rows = int(mask.sum()) if mask is not None else self._n - self._dead
        # a doc may own several rows: ask for more rows until k distinct docs are found
        want = min(k * max(1, round(self._n / max(len(self._doc_rows), 1))), live_rows)
        while True:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, want))
            if selector is not None:
                params.sel = selector
            _, labels = self._ann.search(query, want, params=params)
            rows = labels[0][labels[0] >= 0]
            docs = np.unique(self._row_doc[rows])
            if len(docs) >= k or want >= live_rows:
                break
            want = min(want * 2, live_rows)
        del bits  # kept alive through the searches above
        # exact scores for every row of the candidate docs (max over a doc's vectors)
        cand = np.concatenate([np.arange(*self._doc_rows[int(d)]) for d in docs]) if len(docs) else rows
        scores = exact_scores(self.space, self._vecs[cand], q)
        return self._by_doc(cand, scores, limit=k)

    def _by_doc(self, rows: np.ndarray, scores: np.ndarray, *, limit: int | None) -> Scores:
        """Each doc's best score over its ``rows`` (docs in first-row order), cut to the top
        ``limit`` by ``(-score, doc)``. Scores that are NaN or -inf never count (as before)."""
        docs = self._row_doc[rows]
        keep = scores > -np.inf
        if not keep.all():
            docs, scores = docs[keep], scores[keep]
        if len(docs) == 0:
            return {}
        # stable: by doc, then best score first; ties keep row order (the first row wins)
        order = np.lexsort((-scores, docs))
        sorted_docs = docs[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = sorted_docs[1:] != sorted_docs[:-1]
        best = order[first]  # one position per doc, ascending doc
        best_docs, best_scores = docs[best], scores[best]
        if limit is None or len(best) <= limit:
            _, first_seen = np.unique(docs, return_index=True)  # ascending doc, like ``best``
            pick = np.argsort(first_seen, kind="stable")
        else:
            pick = np.lexsort((best_docs, -best_scores))[:limit]
        return dict(zip(best_docs[pick].tolist(), best_scores[pick].tolist(), strict=True))

    def _default_ef(self) -> int:
        value = self.settings.get("index.knn.algo_param.ef_search")
        if value is None:
            value = self.mapping_ef_search
        return int(value) if value is not None else DEFAULT_EF_SEARCH

    def _compact_if_needed(self) -> None:
        if self._dead and self._dead >= _REBUILD_DEAD_FRACTION * self._n:
            keep = np.flatnonzero(self._alive[: self._n])
            self._vecs = self._vecs[keep].copy()
            self._row_doc = self._row_doc[keep].copy()
            self._alive = np.ones(len(keep), dtype=bool)
            self._n = len(keep)
            self._dead = 0
            self._doc_rows = {}
            for row, doc in enumerate(self._row_doc.tolist()):
                start, _ = self._doc_rows.get(doc, (row, row))
                self._doc_rows[doc] = (start, row + 1)
            self._ann = None
            self._ann_rows = 0

    def _sync_ann(self) -> None:
        if self._ann is None:
            metric = faiss.METRIC_L2 if self.space == "l2" else faiss.METRIC_INNER_PRODUCT
            self._ann = faiss.IndexHNSWFlat(self.dimension, self.m, metric)
            self._ann.hnsw.efConstruction = self.ef_construction
            self._ann_rows = 0
        if self._ann_rows < self._n:
            self._ann.add(np.ascontiguousarray(self._vecs[self._ann_rows : self._n]))
            self._ann_rows = self._n


def _grow(arr: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty((cap, *arr.shape[1:]), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


# --- the knn query -------------------------------------------------------------------------------


def field_mapping(index: core.SearchIndex, path: str) -> dict[str, Any] | None:
    """The mapping of an indexed field path, or None when the path is not mapped."""
    mapping = index.mapping
    getter = getattr(mapping, "field", None)
    if callable(getter):
        try:
            found = getter(path)
        except (KeyError, LookupError):
            found = None
        if isinstance(found, Mapping):
            return dict(found)
    indexed = getattr(mapping, "indexed_fields", None)
    if callable(indexed):
        for name, fm in indexed():
            if name == path:
                return dict(fm)
    return None


def single_field(query_name: str, body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict) or len(body) != 1:
        raise ParsingError(f"[{query_name}] query malformed, expects exactly one field")
    ((field, opts),) = body.items()
    if not isinstance(opts, dict):
        raise ParsingError(f"[{query_name}] query malformed: [{field}] must be an object")
    return field, opts


def evaluate(query: Any, ctx: QueryContext) -> Scores:
    """Run a (sub-)query through the query module."""
    return query_evaluate(query, ctx)


def parse_knn_options(opts: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a knn clause's options; returns {k | min_score | max_distance, ef_search, boost, filter}."""
    unknown = set(opts) - KNN_KEYS
    if unknown:
        raise ParsingError(f"[knn] unknown parameter [{sorted(unknown)[0]}]")
    given = [key for key in ("k", "min_score", "max_distance") if opts.get(key) is not None]
    if len(given) != 1:
        raise IllegalArgument("[knn] requires exactly one of k, distance or score to be set")
    out: dict[str, Any] = {"k": None, "min_score": None, "max_distance": None}
    key = given[0]
    value = opts[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParsingError(f"[knn] [{key}] must be a number")
    if key == "k":
        if int(value) != value or not 0 < value <= MAX_K:
            raise IllegalArgument(f"[knn] requires k to be in the range (0, {MAX_K}], got [{value}]")
        out["k"] = int(value)
    else:
        out[key] = float(value)
    params = opts.get("method_parameters") or {}
    if not isinstance(params, dict):
        raise ParsingError("[knn] [method_parameters] must be an object")
    unknown_params = set(params) - {"ef_search", "nprobes"}
    if unknown_params:
        raise IllegalArgument(f"[knn] unknown method parameter [{sorted(unknown_params)[0]}]")
    ef = params.get("ef_search")
    if ef is not None and (isinstance(ef, bool) or not isinstance(ef, int) or ef < 1):
        raise IllegalArgument("[knn] [method_parameters.ef_search] must be a positive integer")
    out["ef_search"] = ef
    boost = opts.get("boost", 1.0)
    if isinstance(boost, bool) or not isinstance(boost, int | float) or boost < 0:
        raise ParsingError("[knn] [boost] must be a non-negative number")
    out["boost"] = float(boost)
    out["filter"] = opts.get("filter")
    return out


def validate_radial(space: str, min_score: float | None, max_distance: float | None) -> None:
    if max_distance is not None and max_distance < 0 and space != "innerproduct":
        raise IllegalArgument(f"[knn] requires distance to be non-negative for space type [{space}]")
    if min_score is not None:
        if min_score > 1 and space != "innerproduct":
            raise IllegalArgument(f"[knn] requires score to be in the range (0, 1] for space type [{space}]")
        if min_score <= 0:
            raise IllegalArgument("[knn] requires score to be greater than 0")


def knn_query(body: Any, ctx: QueryContext) -> Scores:
    field, opts = single_field("knn", body)
    parsed = parse_knn_options(opts)
    mapping = field_mapping(ctx.index, field)
    index = ctx.index.field(field)
    if mapping is None and index is None:
        return {}  # an unmapped field matches nothing
    if (mapping is not None and mapping.get("type") != "knn_vector") or (
        index is not None and not isinstance(index, VectorField)
    ):
        raise IllegalArgument(f"Field '{field}' is not knn_vector type.")
    if mapping is None:
        assert isinstance(index, VectorField)
        mapping = index.mapping
    space = space_type_of(mapping)
    validate_radial(space, parsed["min_score"], parsed["max_distance"])
    vector = query_vector(mapping, opts.get("vector"))
    if index is None:
        return {}
    assert isinstance(index, VectorField)
    allowed = None
    if parsed["filter"] is not None:
        allowed = evaluate(parsed["filter"], ctx).keys()
    settings_ef = ctx.index.settings.get("index.knn.algo_param.ef_search")
    ef = parsed["ef_search"] or (int(settings_ef) if settings_ef is not None else None)
    hits = index.search_parsed(
        vector,
        k=parsed["k"],
        min_score=parsed["min_score"],
        max_distance=parsed["max_distance"],
        allowed=allowed,
        ef_search=ef,
        approximate=_truthy(ctx.index.settings.get("index.knn", False)),
    )
    boost = parsed["boost"]
    if boost != 1.0:
        hits = {doc: score * boost for doc, score in hits.items()}
    return hits


def _make_field(mapping: dict[str, Any], settings: dict[str, Any]) -> VectorField:
    return VectorField(mapping, settings)


core.FIELD_INDEXES["knn_vector"] = _make_field
core.QUERY_TYPES["knn"] = knn_query
