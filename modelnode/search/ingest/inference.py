"""The inference processors ``text_embedding`` and ``sparse_encoding`` (batched model calls) and
sparse pruning (neural-search's PruneUtils, in float32)."""

from __future__ import annotations

import asyncio
import heapq
import math
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search.encoder import Encoder
from modelnode.search.ingest.document import IngestDocument
from modelnode.search.ingest.errors import IngestProcessorError, _state_error, config_error
from modelnode.search.ingest.fields import (
    _normalize_field_map,
    build_process_map,
    inference_texts,
    read_results,
    validate_map_values,
    write_results,
)
from modelnode.search.ingest.processor import Common, Config, Processor, RunContext

# How many model calls one processor keeps in flight for one request (each of batch_size docs);
# the runtime batcher merges concurrent calls, its queue refuses beyond 1024 waiting requests.
MAX_IN_FLIGHT = 16


# -- pruning (neural-search PruneUtils), in float32 -------------------------------------------
PRUNE_TYPES = ("none", "top_k", "alpha_mass", "max_ratio", "abs_value")
_PRUNE_RULES = {
    "top_k": "prune_ratio should be positive integer.",
    "max_ratio": "prune_ratio should be in the range [0, 1).",
    "alpha_mass": "prune_ratio should be in the range [0, 1).",
    "abs_value": "prune_ratio should be non-negative.",
}


def valid_prune_ratio(prune_type: str, ratio: float) -> bool:
    r = np.float32(ratio)
    if prune_type == "top_k":
        return bool(r > 0 and r == math.floor(r))
    if prune_type in ("max_ratio", "alpha_mass"):
        return bool(0 <= r < 1)
    if prune_type == "abs_value":
        return bool(r >= 0)
    return True


def parse_prune(prune_type: str | None, ratio: float | None, *, ratio_given: bool) -> tuple[str, np.float32]:
    """PruneType.fromString + the factory's checks; raises IllegalArgument as neural-search does."""
    kind = prune_type or "none"
    if kind not in PRUNE_TYPES:
        raise IllegalArgument(f"Unknown prune type: {prune_type}")
    if kind == "none":
        if ratio_given:
            raise IllegalArgument("prune_ratio field is not supported when prune_type is not provided")
        return kind, np.float32(0)
    if ratio is None:
        raise config_error("sparse_encoding", "prune_ratio", "required property is missing")
    if not valid_prune_ratio(kind, ratio):
        raise IllegalArgument(
            f"Illegal prune_ratio {float(np.float32(ratio)):.6f} for prune_type: {kind}. {_PRUNE_RULES[kind]}"
        )
    return kind, np.float32(ratio)


def prune(prune_type: str, ratio: np.float32, weights: dict[str, np.float32]) -> dict[str, np.float32]:
    """PruneUtils.pruneSparseVector: keeps the original token order of the kept entries."""
    for v in weights.values():
        if not v > 0:
            raise IngestProcessorError("Pruned values must be positive")
    if prune_type == "none" or not weights:
        return weights
    if prune_type == "max_ratio":
        bound = np.float32(ratio * max(weights.values()))
        return {t: w for t, w in weights.items() if w >= bound}
    if prune_type == "abs_value":
        return {t: w for t, w in weights.items() if w >= ratio}
    if prune_type == "top_k":
        k = int(ratio)
        heap: list[tuple[np.float32, int, str]] = []  # min-heap; a tie never displaces (insertion order)
        for i, (t, w) in enumerate(weights.items()):
            if len(heap) < k:
                heapq.heappush(heap, (w, i, t))
            elif w > heap[0][0]:
                heapq.heapreplace(heap, (w, i, t))
        keep = {t for _, _, t in heap}
        return {t: w for t, w in weights.items() if t in keep}
    if prune_type == "alpha_mass":
        ordered = sorted(weights.items(), key=lambda kv: -kv[1])  # stable: ties keep insertion order
        total = np.float32(sum(float(w) for w in weights.values()))
        bound = np.float32(ratio * total)
        top = np.float32(0)
        keep_set = set()
        for t, w in ordered:
            top = np.float32(top + w)
            if top <= bound:
                keep_set.add(t)
        return {t: w for t, w in weights.items() if t in keep_set}
    raise IllegalArgument(f"Unknown prune type: {prune_type}")


# -- inference processors --------------------------------------------------------------------
class InferenceProcessor(Processor):
    list_key = ""

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.model_id = cfg.string("model_id")
        if not self.model_id.strip():
            raise IllegalArgument("model_id is null or empty, cannot process it")
        self.field_map = cfg.obj("field_map")
        if not self.field_map or any(
            not str(k).strip() or v is None or not str(v).strip() for k, v in self.field_map.items()
        ):
            raise IllegalArgument("Unable to create the processor as field_map has invalid key or value")
        self.batch_size = cfg.integer("batch_size", 1)
        if self.batch_size < 1:
            raise config_error(self.type, "batch_size", "batch_size should >= 1")
        self.skip_existing = cfg.boolean("skip_existing", False)
        self._validation_map = _normalize_field_map(self.field_map)

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        raise NotImplementedError

    async def run(self, docs: list[IngestDocument], ctx: RunContext) -> list[ModelNodeError | None]:
        errors: list[ModelNodeError | None] = [None] * len(docs)
        # per doc: (process_map, texts to infer, positions of those texts, results so far)
        plans: list[tuple[int, dict[str, Any], list[str], list[int], list[Any]]] = []
        for i, doc in enumerate(docs):
            try:
                validate_map_values(self._validation_map, doc.source, allow_empty=False)
                pm = build_process_map(self.field_map, doc.source)
                texts = inference_texts(pm)
            except ModelNodeError as e:
                errors[i] = e
                continue
            if not texts:
                continue
            results: list[Any] = [None] * len(texts)
            todo = list(range(len(texts)))
            if self.skip_existing and doc.existing is not None:
                todo = self._reuse(pm, texts, doc.existing, results)
            plans.append((i, pm, texts, todo, results))
        if ctx.encoder is None and any(p[3] for p in plans):
            raise _state_error("no encoder is available to run inference processors")
        with_work = [p for p in plans if p[3]]
        batches = [with_work[s : s + self.batch_size] for s in range(0, len(with_work), self.batch_size)]
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def run_batch(batch: list[tuple[int, dict[str, Any], list[str], list[int], list[Any]]]) -> None:
            flat = [(p, j) for p in batch for j in p[3]]
            texts = [p[2][j] for p, j in flat]
            order = sorted(range(len(texts)), key=lambda n: len(texts[n]))  # stable: ties keep order
            try:
                async with gate:
                    assert ctx.encoder is not None
                    encoded = await self.encode(ctx.encoder, [texts[n] for n in order])
                if len(encoded) != len(texts):
                    raise _state_error(f"the model returned {len(encoded)} results for {len(texts)} texts")
                restored: list[Any] = [None] * len(texts)
                for pos, n in enumerate(order):
                    restored[n] = encoded[pos]
                for (p, j), value in zip(flat, restored, strict=True):
                    p[4][j] = value
            except ModelNodeError as e:
                for p in batch:
                    errors[p[0]] = e
            except Exception as e:  # an unexpected failure fails the batch's docs, not the request
                err = ModelNodeError(f"{type(e).__name__}: {e}", status=500, error_type="exception")
                for p in batch:
                    errors[p[0]] = err

        await asyncio.gather(*(run_batch(b) for b in batches))
        for i, pm, _texts, _todo, results in plans:
            if errors[i] is None:
                try:
                    self.finish(docs[i], pm, results)
                except ModelNodeError as e:
                    errors[i] = e
        return errors

    def _reuse(self, pm: dict[str, Any], texts: list[str], existing: dict[str, Any], results: list[Any]) -> list[int]:
        """skip_existing: per field_map entry, an unchanged input with a stored output is copied."""
        old_pm = build_process_map(self.field_map, existing)
        todo: list[int] = []
        start = 0
        for key, value in pm.items():
            n = len(inference_texts({key: value}))
            stored = read_results({key: value}, existing, self.list_key) if old_pm.get(key) == value else []
            if n and len(stored) == n and all(s is not None for s in stored):
                results[start : start + n] = [self.from_stored(s) for s in stored]
            else:
                todo.extend(range(start, start + n))
            start += n
        return todo

    def from_stored(self, value: Any) -> Any:
        return value

    def finish(self, doc: IngestDocument, pm: dict[str, Any], results: list[Any]) -> None:
        write_results(pm, results, doc.source, self.list_key)


class TextEmbeddingProcessor(InferenceProcessor):
    type = "text_embedding"
    list_key = "knn"

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        vectors = await encoder.text_embedding(self.model_id, texts)
        # float32, as the model's (Java Float) output: _source prints the shortest float32 form
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def from_stored(self, value: Any) -> Any:
        return np.asarray(value, dtype=np.float32)


class SparseEncodingProcessor(InferenceProcessor):
    type = "sparse_encoding"
    list_key = "sparse_encoding"

    def __init__(self, common: Common, cfg: Config) -> None:
        ratio_given = cfg.has("prune_ratio")
        prune_type = cfg.string("prune_type", None)
        ratio = cfg.number("prune_ratio", None) if (prune_type or "none") != "none" or ratio_given else None
        super().__init__(common, cfg)
        self.prune_type, self.prune_ratio = parse_prune(prune_type, ratio, ratio_given=ratio_given)

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        maps = await encoder.sparse_encoding(self.model_id, texts)
        out = []
        for m in maps:
            weights = {str(t): np.float32(w) for t, w in m.items()}
            out.append(prune(self.prune_type, self.prune_ratio, weights))
        return out

    def from_stored(self, value: Any) -> Any:
        return {t: np.float32(w) for t, w in value.items()} if isinstance(value, dict) else value
