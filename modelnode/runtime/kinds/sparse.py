"""SPARSE_ENCODING and SPARSE_TOKENIZE: neural sparse weights, in ML Commons' output shapes.

- SPARSE_ENCODING: tokenize -> network -> post. The artifact is a traced (or exported) opensearch-py-ml
  ``NeuralSparseModel``: activation, special-token zeroing and pruning happen inside it, and it
  returns ``{"output": (batch, vocab)}`` weights. Post-processing is ML Commons'
  ``SparseEncodingTranslator``: per output tensor and doc, the non-zero ids become keys
  (``tokenizer.decode([id], skip_special_tokens=True)`` for WORD, empty keys dropped; ``str(id)``
  for TOKEN_ID) mapped to float32 weights. One tensor per model output, named by the output
  (``output``), ``dataAsMap = {"response": [{token: weight}]}``.
- SPARSE_TOKENIZE: no network (ML Commons' ``SparseTokenizerModel``). The distinct ids of a doc,
  each decoded alone with special tokens skipped (empty ones dropped), weighted by ``idf.json``
  (1.0 for tokens it lacks, or for all without the file). TOKEN_ID keys by id, still looking the
  weight up by token text. One unnamed tensor per doc.

Weights stay ``np.float32`` scalars in the maps: the API renders them as Java prints floats.
``content_type`` is ignored, as ML Commons does for sparse models (they are never asymmetric).
Map order is ascending token id (ML Commons' is a Java HashMap's, i.e. unspecified).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelnode import errors
from modelnode.runtime.api import PredictInput, TextDocsInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.kinds import Kind, warmup_docs
from modelnode.runtime.kinds._batching import length_chunks, split_per_input, text_docs_cost, trim_feed
from modelnode.runtime.tensors import ModelTensor, ModelTensors
from modelnode.runtime.tokenize import HashTokenizer, Tokenizer

if TYPE_CHECKING:  # loader imports this module
    from tokenizers import Tokenizer as RawTokenizer

    from modelnode.runtime.loader import LoadContext

FORMATS = {"WORD": "WORD", "LEXICAL": "WORD", "TOKEN_ID": "TOKEN_ID"}  # LEXICAL: the docs' name for WORD
RESPONSE = "response"  # ML Commons' ML_MAP_RESPONSE_KEY
# Padded tokens x vocab entries one batch's MLM logits may hold (float32: 256 MiB); each batch
# still takes at least one whole document.
_LOGITS_BUDGET = 1 << 26
_TOKENIZE_CHUNK = 64  # docs tokenized at a time by SPARSE_TOKENIZE (bounds the padded arrays)

SparseMap = dict[str, np.float32]


class Vocabulary:
    """Token id -> the key ML Commons prints for it: ``tokenizer.decode([id], skip_special_tokens=True)``.

    WordPiece continuation pieces decoded alone keep their ``##`` (``2015 -> "##s"``); special
    tokens decode to ``""``. Ids past the table decode to ``""`` too."""

    def __init__(self, words: list[str] | None, special_ids: Iterable[int], size: int) -> None:
        self._words = words  # None: no tokenizer.json (fake backend); keys are the ids
        self.special_ids = frozenset(special_ids)
        self.size = size

    @classmethod
    def from_tokenizer_json(cls, path: Path) -> Vocabulary:
        from tokenizers import Tokenizer as _HF

        return cls.from_tokenizer(_HF.from_file(str(path)))

    @classmethod
    def from_tokenizer(cls, tok: RawTokenizer) -> Vocabulary:
        """From a loaded ``tokenizers.Tokenizer`` (only read: decoding ignores padding and truncation)."""
        size = tok.get_vocab_size(with_added_tokens=True)
        words = tok.decode_batch([[i] for i in range(size)], skip_special_tokens=True)
        special = [i for i, added in tok.get_added_tokens_decoder().items() if added.special]
        return cls(words, special, size)

    @classmethod
    def hashed(cls) -> Vocabulary:
        """For ``HashTokenizer`` (fake backend, no tokenizer.json): ids are their own words."""
        size = HashTokenizer.FIRST_ID + HashTokenizer.VOCAB
        return cls(None, (0, HashTokenizer.CLS, HashTokenizer.SEP), size)

    def word(self, token_id: int) -> str:
        if self._words is None:
            return "" if token_id in self.special_ids else str(token_id)
        return self._words[token_id] if 0 <= token_id < len(self._words) else ""


def normalize_format(value: str | None) -> str:
    fmt = FORMATS.get(str(value or "WORD").upper())
    if fmt is None:
        raise errors.IllegalArgument(f"Wrong sparse_embedding_format [{value}]; use WORD or TOKEN_ID")
    return fmt


def sparse_map(row: np.ndarray, vocab: Vocabulary, fmt: str = "WORD") -> SparseMap:
    """One doc's ``(vocab,)`` weights -> ``{key: np.float32}`` for its non-zero entries, as ML
    Commons' SparseEncodingTranslator: WORD keys by decoded token (empty ones dropped; for a
    repeated key the larger id wins), TOKEN_ID by the id's decimal string."""
    row = np.asarray(row, dtype=np.float32)  # (vocab,)
    ids = np.flatnonzero(row)
    values = row[ids]  # iterating gives np.float32 scalars
    if fmt == "TOKEN_ID":
        return {str(i): v for i, v in zip(ids.tolist(), values, strict=True)}
    out: SparseMap = {}
    for i, v in zip(ids.tolist(), values, strict=True):
        word = vocab.word(i)
        if word:
            out[word] = v
    return out


def _validate(inp: TextDocsInput) -> None:
    if any(not isinstance(doc, str) for doc in inp.text_docs):
        raise errors.IllegalArgument("text_docs must be a list of strings")
    normalize_format(inp.sparse_embedding_format)


# --- SPARSE_ENCODING -----------------------------------------------------------------------------


class SparseEncoding:
    function_name = "SPARSE_ENCODING"

    def __init__(
        self,
        tokenizer: Tokenizer,
        backend: Backend,
        vocab: Vocabulary,
        *,
        max_batch_docs: int = 32,
        max_batch_tokens: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.vocab = vocab
        self.max_batch_docs = max_batch_docs
        self.max_batch_tokens = max_batch_tokens or max(tokenizer.max_length, _LOGITS_BUDGET // max(vocab.size, 1))

    def validate(self, inp: TextDocsInput) -> None:
        _validate(inp)

    def cost(self, inp: TextDocsInput) -> int:
        return text_docs_cost(self.tokenizer.max_length, inp.text_docs)

    def batch_key(self, inp: TextDocsInput) -> None:
        return None  # the format only changes post-processing: every request can share a batch

    def run(self, inputs: list[TextDocsInput]) -> list[list[ModelTensors]]:
        texts = [text for inp in inputs for text in inp.text_docs]
        weights = self.weights(texts)
        results = []
        for inp, docs in zip(inputs, split_per_input((len(inp.text_docs) for inp in inputs), weights), strict=True):
            fmt = normalize_format(inp.sparse_embedding_format)
            results.append(
                [
                    [ModelTensor(name, data_as_map={RESPONSE: [sparse_map(row, self.vocab, fmt)]}) for name, row in doc]
                    for doc in docs
                ]
            )
        return results

    def weights(self, texts: list[str]) -> list[list[tuple[str, np.ndarray]]]:
        """pre -> core for any number of texts: per text, ``(output name, (vocab,) float32 weights)``
        for every model output, in the model's order."""
        if not texts:
            return []
        features = self.tokenizer(texts)  # each (n, seq), right-padded to the longest text
        lengths = features["attention_mask"].sum(axis=1)  # (n,)
        out: list[list[tuple[str, np.ndarray]] | None] = [None] * len(texts)
        for chunk in length_chunks(lengths, self.max_batch_docs, self.max_batch_tokens):
            feed = trim_feed(features, chunk, lengths)
            outputs = self.backend.run(feed)
            if not outputs:
                raise errors.ModelLoadError("the sparse model returned no output tensor")
            for name, arr in outputs.items():
                if arr.ndim != 2 or arr.shape[0] != len(chunk):
                    raise errors.ModelLoadError(
                        f"a SPARSE_ENCODING model must return (batch, vocab) weights; its output [{name}] has "
                        f"shape {tuple(arr.shape)} for a batch of {len(chunk)}"
                    )
            rows = {name: np.asarray(arr, dtype=np.float32) for name, arr in outputs.items()}
            for j, i in enumerate(chunk):
                # copy: a doc never pins the batch's (batch, vocab) array
                out[i] = [(name, arr[j].copy()) for name, arr in rows.items()]
        return out  # type: ignore[return-value]  # every slot was filled

    def close(self) -> None:
        self.backend.close()


# --- SPARSE_TOKENIZE -----------------------------------------------------------------------------


class SparseTokenize:
    function_name = "SPARSE_TOKENIZE"

    def __init__(self, tokenizer: Tokenizer, vocab: Vocabulary, idf: Mapping[str, float] | None = None) -> None:
        self.tokenizer = tokenizer
        self.vocab = vocab
        # Weight per id, float32 as ML Commons' Map<String, Float> holds it (double -> float cast).
        self._weights = np.ones(vocab.size, dtype=np.float32)
        if idf:
            for i in range(vocab.size):
                weight = idf.get(vocab.word(i))
                if weight is not None:
                    self._weights[i] = weight

    def validate(self, inp: TextDocsInput) -> None:
        _validate(inp)

    def cost(self, inp: TextDocsInput) -> int:
        return text_docs_cost(self.tokenizer.max_length, inp.text_docs)

    def batch_key(self, inp: TextDocsInput) -> None:
        return None

    def run(self, inputs: list[TextDocsInput]) -> list[list[ModelTensors]]:
        results = []
        for inp in inputs:
            fmt = normalize_format(inp.sparse_embedding_format)
            results.append(
                [[ModelTensor(None, data_as_map={RESPONSE: [m]})] for m in self.tokenize(list(inp.text_docs), fmt)]
            )
        return results

    def tokenize(self, texts: list[str], fmt: str = "WORD") -> list[SparseMap]:
        out: list[SparseMap] = []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            features = self.tokenizer(texts[start : start + _TOKENIZE_CHUNK])
            for ids, mask in zip(features["input_ids"], features["attention_mask"], strict=True):
                out.append(self._weigh(ids[mask.astype(bool)].tolist(), fmt))
        return out

    def _weigh(self, ids: list[int], fmt: str) -> SparseMap:
        weights: SparseMap = {}
        for i in dict.fromkeys(ids):  # distinct, first occurrence first
            word = self.vocab.word(i)
            if not word:
                continue
            weight = self._weights[i] if 0 <= i < self.vocab.size else np.float32(1.0)
            weights[str(i) if fmt == "TOKEN_ID" else word] = weight
        return weights

    def close(self) -> None:
        pass


# --- factories (loader.KINDS) --------------------------------------------------------------------


def _vocabulary(ctx: LoadContext) -> Vocabulary:
    if ctx.file("tokenizer.json") is None:
        return Vocabulary.hashed()  # ctx.tokenizer() has already refused this unless the backend is fake
    try:
        return Vocabulary.from_tokenizer(ctx.hf_tokenizer())
    except Exception as exc:
        raise errors.ModelLoadError(f"cannot read the artifact's tokenizer.json: {exc}") from exc


def load_idf(path: Path | None) -> dict[str, float] | None:
    """``idf.json`` (token -> weight) or None when the artifact has none."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise errors.ModelLoadError(f"cannot read the artifact's idf.json: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()
    ):
        raise errors.ModelLoadError("idf.json must be one JSON object mapping tokens to numbers")
    return {str(k): float(v) for k, v in data.items()}


def sparse_encoding_factory(ctx: LoadContext) -> tuple[Kind[Any], PredictInput]:
    from modelnode.runtime.backends.fake_sparse import FakeSparseBackend

    tokenizer = ctx.tokenizer()
    vocab = _vocabulary(ctx)
    backend = ctx.backend(lambda: FakeSparseBackend(vocab.size, vocab.special_ids))
    return SparseEncoding(tokenizer, backend, vocab), warmup_docs(ctx.model_config)


def sparse_tokenize_factory(ctx: LoadContext) -> tuple[Kind[Any], PredictInput]:
    """No network: never looks for a model file."""
    tokenizer = ctx.tokenizer()
    kind = SparseTokenize(tokenizer, _vocabulary(ctx), load_idf(ctx.file("idf.json")))
    return kind, warmup_docs(ctx.model_config)
