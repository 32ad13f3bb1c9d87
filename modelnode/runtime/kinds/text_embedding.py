"""TEXT_EMBEDDING: dense sentence embeddings, in ML Commons' output shapes.

- ONNX (and TorchScript with framework_type HUGGINGFACE_TRANSFORMERS): the model returns token
  embeddings; we pool them with the attention mask per ``pooling_mode`` (default MEAN), L2-normalise
  iff ``normalize_result``, and return one tensor per doc: ``sentence_embedding`` ``(dim,)``.
- TorchScript sentence-transformers: pooling is inside the traced model, which returns its whole
  feature dict; we return every tensor of it per doc (``input_ids``, ``attention_mask``,
  ``token_embeddings``, ``sentence_embedding``), token-level ones cut to the doc's own length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelnode import errors
from modelnode.runtime import pooling
from modelnode.runtime.api import TextDocsInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.kinds import warmup_docs
from modelnode.runtime.kinds._batching import length_chunks, split_per_input, text_docs_cost, trim_feed
from modelnode.runtime.tensors import ModelTensor, ModelTensors
from modelnode.runtime.tokenize import Features, Tokenizer

if TYPE_CHECKING:  # loader imports this module
    from modelnode.runtime.loader import LoadContext

ASYMMETRIC_NEEDS_CONTENT_TYPE = (
    "The embedding model chosen is asymmetric. To use it, you must declare whether the input is of type "
    "`QUERY` or of type `PASSAGE`."
)
SYMMETRIC_GOT_CONTENT_TYPE = (
    "When passing AsymmetricTextEmbeddingParameters, the model requires to be registered with at least one "
    "of `query_prefix` or `passage_prefix`."
)
CONTENT_TYPES = ("QUERY", "PASSAGE")
# Tensors with a sequence axis in a traced SentenceTransformer's output (besides any 3-D one).
_TOKEN_LEVEL = frozenset({"input_ids", "attention_mask", "token_type_ids", "token_embeddings"})


def model_pools(model_format: str, model_config: Mapping[str, Any]) -> bool:
    """Whether the model pools itself: a traced SentenceTransformer (TorchScript, framework_type
    not HUGGINGFACE_TRANSFORMERS) pools inside; everything else gives token embeddings to pool."""
    framework = str(model_config.get("framework_type") or "SENTENCE_TRANSFORMERS").upper()
    return model_format.upper() == "TORCH_SCRIPT" and framework != "HUGGINGFACE_TRANSFORMERS"


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class TextEmbedding:
    function_name = "TEXT_EMBEDDING"

    def __init__(
        self,
        tokenizer: Tokenizer,
        backend: Backend,
        *,
        model_format: str,
        model_config: Mapping[str, Any],
        max_batch_docs: int = 32,
        max_batch_tokens: int = 8192,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.model_pools = model_pools(model_format, model_config)
        try:
            self.pooling_mode = pooling.normalize_mode(model_config.get("pooling_mode"))
        except ValueError as exc:
            raise errors.IllegalArgument(str(exc)) from exc
        self.normalize = _flag(model_config.get("normalize_result", False))
        self.query_prefix: str | None = model_config.get("query_prefix")
        self.passage_prefix: str | None = model_config.get("passage_prefix")
        self.max_batch_docs = max_batch_docs
        self.max_batch_tokens = max_batch_tokens

    # --- caller side -------------------------------------------------------------------------

    @property
    def asymmetric(self) -> bool:
        return self.query_prefix is not None or self.passage_prefix is not None

    def validate(self, inp: TextDocsInput) -> None:
        if any(not isinstance(doc, str) for doc in inp.text_docs):
            raise errors.IllegalArgument("text_docs must be a list of strings")
        if inp.content_type is None:
            if self.asymmetric:
                raise errors.IllegalArgument(ASYMMETRIC_NEEDS_CONTENT_TYPE)
            return
        if not self.asymmetric:
            raise errors.IllegalArgument(SYMMETRIC_GOT_CONTENT_TYPE)
        if inp.content_type.upper() not in CONTENT_TYPES:
            raise errors.IllegalArgument(f"Invalid content_type [{inp.content_type}]; use `QUERY` or `PASSAGE`.")

    def cost(self, inp: TextDocsInput) -> int:
        return text_docs_cost(self.tokenizer.max_length, inp.text_docs)

    def batch_key(self, inp: TextDocsInput) -> str | None:
        return inp.content_type.upper() if inp.content_type else None

    # --- worker side -------------------------------------------------------------------------

    def run(self, inputs: list[TextDocsInput]) -> list[list[ModelTensors]]:
        texts = [text for inp in inputs for text in self._prefixed(inp)]
        return split_per_input((len(inp.text_docs) for inp in inputs), self.embed(texts))

    def _prefixed(self, inp: TextDocsInput) -> tuple[str, ...]:
        if inp.content_type is None:
            return inp.text_docs
        prefix = self.passage_prefix if inp.content_type.upper() == "PASSAGE" else self.query_prefix
        return tuple(prefix + doc for doc in inp.text_docs) if prefix else inp.text_docs

    def embed(self, texts: list[str]) -> list[ModelTensors]:
        """pre -> core -> post for any number of texts, one ``ModelTensors`` per text, in order."""
        if not texts:
            return []
        features = self.tokenizer(texts)  # each (n, seq), right-padded to the longest text
        lengths = features["attention_mask"].sum(axis=1)  # (n,)
        out: list[ModelTensors | None] = [None] * len(texts)
        for chunk in length_chunks(lengths, self.max_batch_docs, self.max_batch_tokens):
            feed = trim_feed(features, chunk, lengths)
            outputs = self.backend.run(feed)
            for i, tensors in zip(chunk, self._post(outputs, feed), strict=True):
                out[i] = tensors
        return out  # type: ignore[return-value]  # every slot was filled

    def _post(self, outputs: dict[str, np.ndarray], feed: Features) -> list[ModelTensors]:
        mask = feed["attention_mask"]  # (batch, seq)
        if self.model_pools:
            return _split_feature_dict(outputs, mask.sum(axis=1))
        sentence = self._pool(outputs, mask)  # (batch, dim)
        if self.normalize:
            sentence = pooling.l2_normalize(sentence)
        return [[ModelTensor("sentence_embedding", row.astype(np.float32))] for row in sentence]

    def _pool(self, outputs: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        values = list(outputs.values())
        if self.pooling_mode == "NONE":
            # The model pooled already: ML Commons takes its second output when there is one.
            pooled = values[1] if len(values) > 1 else values[0]
            if pooled.ndim != 2:
                raise errors.ModelLoadError(
                    f"pooling_mode NONE needs a pooled (batch, dim) model output, got shape {pooled.shape}"
                )
            return pooled.astype(np.float32, copy=False)
        tokens = outputs.get("last_hidden_state", values[0])  # (batch, seq, hidden)
        if tokens.ndim != 3:
            raise errors.ModelLoadError(
                f"pooling_mode {self.pooling_mode} needs token embeddings (batch, seq, hidden) as the first "
                f"model output, got shape {tokens.shape}"
            )
        return pooling.pool(self.pooling_mode, tokens.astype(np.float32, copy=False), mask)

    def close(self) -> None:
        self.backend.close()


def _split_feature_dict(outputs: dict[str, np.ndarray], lengths: np.ndarray) -> list[ModelTensors]:
    """A traced SentenceTransformer's batch dict -> per doc, every tensor, padding stripped."""
    docs: list[ModelTensors] = [[] for _ in lengths]
    for name, arr in outputs.items():
        token_level = arr.ndim == 3 or name in _TOKEN_LEVEL  # (batch, seq[, dim]) vs (batch, dim)
        dtype = np.float32 if np.issubdtype(arr.dtype, np.floating) else np.int64
        for i, length in enumerate(lengths):
            row = arr[i, : int(length)] if token_level else arr[i]
            docs[i].append(ModelTensor(name, row.astype(dtype)))  # astype copies: a doc never pins the batch
    return docs


# --- factory (loader.KINDS) ----------------------------------------------------------------------


def text_embedding_factory(ctx: LoadContext) -> tuple[TextEmbedding, TextDocsInput]:
    from modelnode.runtime.backends.fake import FakeBackend

    st_dict = model_pools(ctx.model_format, ctx.model_config)
    tokenizer = ctx.tokenizer()
    backend = ctx.backend(lambda: FakeBackend(ctx.model_config, sentence_transformers_dict=st_dict))
    kind = TextEmbedding(tokenizer, backend, model_format=ctx.model_format, model_config=ctx.model_config)
    return kind, warmup_docs(ctx.model_config)
