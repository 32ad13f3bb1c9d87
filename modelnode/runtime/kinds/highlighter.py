"""QUESTION_ANSWERING with ``model_type`` ``sentence_highlighting``: the semantic sentence highlighter.

ML Commons' SentenceHighlightingQATranslator + QuestionAnsweringModel, per request:

pre: split the context into sentences (``runtime.sentences``); tokenize ``(question, context)`` with
the artifact's tokenizer.json, ``max_length = token_max_length`` (default 512), overflow on with
``stride = token_overlap_stride`` (default 128), only the context truncated, no padding; chunk 0 is
the encoding itself, chunks 1..n its overflow. Per chunk, ``sentence_ids`` gives each context token
the position of the sentence its word lies in, -100 to everything else.
core: the model takes ``input_ids, attention_mask, token_type_ids, sentence_ids`` and returns the
positions of the sentences it selects (the opensearch-py-ml head: per-sentence mean of BERT token
states, 2-class linear, softmax, keep p >= 0.5, else the argmax if p >= 0.05).
post: the union over chunks, de-duplicated and sorted by position, as one tensor ``highlights``
with ``dataAsMap.highlights = [{text, position, start, end}]`` (may be empty).

Words and tokens: the model was trained with ``is_split_into_words`` on the context split at
whitespace, so a token's word is the whitespace-separated word holding its first character; we
find it from the token's character offsets. (ML Commons indexes that word list with the
tokenizer's own word ids, which also count punctuation as words, so its sentence ids drift after
the first comma; we do not copy that.)

Batching: chunks of every request in a batch run together, padded (``sentence_ids`` -100, mask 0),
when the model returns one index tensor per row. The official artifact was traced with one chunk
(its output tuple has one element) and ML Commons' toy test model returns one flat tensor for the
whole batch. A two-row probe at load tells them apart (an error, or not one output per row), and
such models then run one chunk at a time, as ML Commons runs them; a batch that fails later (out
of memory) also switches the model to one chunk at a time.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelnode import errors
from modelnode.runtime import sentences as seg
from modelnode.runtime.api import QuestionAnsweringInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.kinds._batching import length_chunks
from modelnode.runtime.tensors import ModelTensor, ModelTensors

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

    from modelnode.runtime.loader import LoadContext

log = logging.getLogger(__name__)

MODEL_TYPE = "sentence_highlighting"
OUTPUT_NAME = "highlights"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "sentence_ids")
IGNORE = -100  # sentence id of question, special and padding tokens
DEFAULT_MAX_LENGTH = 512  # ML Commons' QAConstants
DEFAULT_STRIDE = 128
WARMUP = QuestionAnsweringInput("Is it sunny today?", "It is sunny today. The sky is clear. Rain comes later.")
ONLY_HIGHLIGHTER = (
    "Only the semantic sentence highlighter is supported for QUESTION_ANSWERING: register the model with "
    f'model_config.model_type "{MODEL_TYPE}"'
)


@dataclass(frozen=True)
class Chunk:
    """One model row: a window of the context after the question, as the model is fed it."""

    input_ids: list[int]
    type_ids: list[int]
    sentence_ids: list[int]


def chunk_settings(
    model_config: Mapping[str, Any], artifact_config: Mapping[str, Any] | None = None
) -> tuple[int, int]:
    """``(token_max_length, token_overlap_stride)``: ``model_config.all_config`` (a JSON string, as
    ML Commons stores it, or an object) first, then the artifact's own config.json, then 512/128."""
    all_config = model_config.get("all_config")
    if isinstance(all_config, str):
        try:
            all_config = json.loads(all_config) if all_config.strip() else {}
        except ValueError as exc:
            raise errors.IllegalArgument(f"model_config.all_config is not valid JSON: {exc}") from exc
    if all_config is not None and not isinstance(all_config, Mapping):
        raise errors.IllegalArgument("model_config.all_config must be a JSON object")
    sources = [all_config or {}, artifact_config or {}]

    def setting(key: str, default: int) -> int:
        value = next((s[key] for s in sources if s.get(key) is not None), default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise errors.IllegalArgument(f"[{key}] must be a non-negative integer, got [{value}]")
        return value

    return setting("token_max_length", DEFAULT_MAX_LENGTH), setting("token_overlap_stride", DEFAULT_STRIDE)


def context_chunks(tokenizer: Tokenizer, question: str, context: str, sentences: Sequence[seg.Sentence]) -> list[Chunk]:
    """The model rows for one request (``tokenizer`` truncates only the second sequence, with
    stride and overflow, and does not pad). Chunks without a context token are dropped."""
    try:
        encoding = tokenizer.encode(question, context)
    except BaseException as exc:  # the Rust side panics (PanicException, a BaseException) on some limits
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise errors.IllegalArgument(f"The question and context cannot be tokenized for this model: {exc}") from exc
    spans = seg.word_spans(context)
    word_starts = [s for s, _ in spans]
    word_sentence = seg.word_sentence_ids(context, sentences, spans)
    chunks = []
    for enc in (encoding, *encoding.overflowing):
        ids = _sentence_ids(enc, word_starts, spans, word_sentence)
        if any(i != IGNORE for i in ids):
            chunks.append(Chunk(list(enc.ids), list(enc.type_ids), ids))
    return chunks


def _sentence_ids(
    enc: Encoding, word_starts: list[int], spans: list[tuple[int, int]], word_sentence: list[int]
) -> list[int]:
    out = []
    for seq, (start, _) in zip(enc.sequence_ids, enc.offsets, strict=True):
        sentence = IGNORE
        if seq == 1:
            w = bisect.bisect_right(word_starts, start) - 1
            if w >= 0 and start < spans[w][1]:
                sentence = word_sentence[w]
        out.append(sentence)
    # Special tokens of the second segment ([SEP]) have sequence id None: already IGNORE.
    return out


class SentenceHighlighter:
    function_name = "QUESTION_ANSWERING"

    def __init__(
        self,
        tokenizer: Tokenizer,
        backend: Backend,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        stride: int = DEFAULT_STRIDE,
        max_batch_chunks: int = 16,
        max_batch_tokens: int = 8192,
    ) -> None:
        from tokenizers import Tokenizer as _HF

        self.max_length = max_length
        self.stride = stride
        self.max_batch_chunks = max_batch_chunks
        self.max_batch_tokens = max_batch_tokens
        self.backend = backend
        # A plain copy to count tokens with (no truncation, no padding, no special tokens).
        self._counter = _HF.from_str(tokenizer.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()
        self._special = tokenizer.num_special_tokens_to_add(True)
        if max_length - self._special <= stride:
            raise errors.IllegalArgument(
                f"token_max_length {max_length} leaves no room for a context window longer than the overlap "
                f"stride {stride} after the {self._special} special tokens; use a larger token_max_length or a "
                "smaller token_overlap_stride"
            )
        pad_id = (tokenizer.padding or {}).get("pad_id")
        self.pad_id = int(pad_id if pad_id is not None else tokenizer.token_to_id("[PAD]") or 0)
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length, stride=stride, strategy="only_second")
        self.tokenizer = tokenizer
        # None: not known yet; True: one output per row; False: the model runs one chunk at a time.
        self.batched: bool | None = None

    # --- caller side -------------------------------------------------------------------------

    def validate(self, inp: QuestionAnsweringInput) -> None:
        if not isinstance(inp, QuestionAnsweringInput):
            raise errors.IllegalArgument(
                f"A QUESTION_ANSWERING model answers a question about a context: send question and context "
                f"(got {type(inp).__name__})"
            )
        if not isinstance(inp.question, str) or not isinstance(inp.context, str):
            raise errors.IllegalArgument("[question] and [context] must be strings")
        room = self.max_length - self._special - self._count(inp.question)
        # The tokenizer cuts the context into windows of `room` tokens that overlap by `stride`: it
        # cannot when the question leaves `stride` tokens or fewer (and then fails hard).
        if room <= self.stride and self._count(inp.context) > room:
            raise errors.IllegalArgument(
                f"The question is too long for this model: with token_max_length {self.max_length} and "
                f"token_overlap_stride {self.stride}, it may have at most "
                f"{self.max_length - self._special - self.stride - 1} tokens; shorten the question."
            )

    def _count(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def cost(self, inp: QuestionAnsweringInput) -> int:
        # ~4 characters per token; every window repeats the question and the stride.
        question, context = len(inp.question) // 4 + 1, len(inp.context) // 4 + 1
        window = max(1, self.max_length - self._special - question - self.stride)
        chunks = 1 + max(0, math.ceil((context - window - self.stride) / window))
        return chunks * min(self.max_length, question + context + self._special)

    def batch_key(self, inp: QuestionAnsweringInput) -> None:
        return None

    # --- worker side -------------------------------------------------------------------------

    def run(self, inputs: list[QuestionAnsweringInput]) -> list[list[ModelTensors]]:
        per_input = [seg.segment(inp.context) for inp in inputs]
        rows: list[Chunk] = []
        owner: list[int] = []
        for i, (inp, sentences) in enumerate(zip(inputs, per_input, strict=True)):
            chunks = context_chunks(self.tokenizer, inp.question, inp.context, sentences)
            rows.extend(chunks)
            owner.extend([i] * len(chunks))
        selected: list[set[int]] = [set() for _ in inputs]
        for row, indices in zip(owner, self.select(rows), strict=True):
            selected[row].update(int(x) for x in indices)
        return [[[_highlights(sentences, chosen)]] for sentences, chosen in zip(per_input, selected, strict=True)]

    def select(self, rows: Sequence[Chunk]) -> list[np.ndarray]:
        """The model's selected sentence positions for each row, in order."""
        out: list[np.ndarray | None] = [None] * len(rows)
        for group in self._groups(rows):
            if len(group) > 1 and self.batched is not False:
                results = self._run_batched(rows, group)
                if results is not None:
                    for i, indices in zip(group, results, strict=True):
                        out[i] = indices
                    continue
            for i in group:
                out[i] = _indices(self.backend.run(_feed([rows[i]], self.pad_id)).values())
        return out  # type: ignore[return-value]  # every slot was filled

    def _run_batched(self, rows: Sequence[Chunk], group: list[int]) -> list[np.ndarray] | None:
        """One padded run for ``group``; None (and from then on one chunk per run) when the model
        fails on it or does not return one index tensor per row."""
        try:
            outputs = list(self.backend.run(_feed([rows[i] for i in group], self.pad_id)).values())
        except Exception as exc:  # a trace fixed to one row; or out of memory: one chunk per run then
            log.info(
                "the highlighter model failed on a batch of %d chunks (%s); running one chunk at a time",
                len(group),
                exc,
            )
            self.batched = False
            return None
        if len(outputs) != len(group):
            log.info(
                "the highlighter model returned %d outputs for %d rows; running one chunk at a time",
                len(outputs),
                len(group),
            )
            self.batched = False
            return None
        self.batched = True
        return [_indices([o]) for o in outputs]

    def probe_batching(self, inp: QuestionAnsweringInput) -> bool | None:
        """Settle ``batched`` with two short rows (the first chunk of ``inp``, and the same less its
        last context token), so no real request pays for a failed batch. None if ``inp`` is too short."""
        chunks = context_chunks(self.tokenizer, inp.question, inp.context, seg.segment(inp.context))
        if not chunks or sum(s != IGNORE for s in chunks[0].sentence_ids) < 2:
            return None
        row = chunks[0]
        shorter = Chunk(
            row.input_ids[:-2] + row.input_ids[-1:],
            row.type_ids[:-2] + row.type_ids[-1:],
            row.sentence_ids[:-2] + row.sentence_ids[-1:],
        )
        self._run_batched([row, shorter], [0, 1])
        return self.batched

    def _groups(self, rows: Sequence[Chunk]) -> Iterator[list[int]]:
        """Row indices in runs of similar length (longest first) within the chunk and token budgets."""
        lengths = np.array([len(r.input_ids) for r in rows], dtype=np.int64)
        for group in length_chunks(lengths, self.max_batch_chunks, self.max_batch_tokens):
            yield group.tolist()

    def close(self) -> None:
        self.backend.close()


def _feed(rows: Sequence[Chunk], pad_id: int) -> dict[str, np.ndarray]:
    """Right-padded int64 ``(rows, seq)`` arrays; padding has mask 0 and sentence id -100."""
    seq = max(len(r.input_ids) for r in rows)
    ids = np.full((len(rows), seq), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), seq), dtype=np.int64)
    types = np.zeros((len(rows), seq), dtype=np.int64)
    sentence_ids = np.full((len(rows), seq), IGNORE, dtype=np.int64)
    for r, row in enumerate(rows):
        n = len(row.input_ids)
        ids[r, :n] = row.input_ids
        mask[r, :n] = 1
        types[r, :n] = row.type_ids
        sentence_ids[r, :n] = row.sentence_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "sentence_ids": sentence_ids}


def _indices(outputs: Any) -> np.ndarray:
    """Sentence positions from a model's outputs for one row: every output is read (as ML Commons
    reads every array the model returns); they must be integers."""
    arrays = [np.asarray(o) for o in outputs]
    for a in arrays:
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise errors.ModelLoadError(
                f"a sentence highlighter must return the indices of the selected sentences (integers); got {a.dtype}"
            )
    if not arrays:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([a.reshape(-1).astype(np.int64) for a in arrays])


def _highlights(sentences: Sequence[seg.Sentence], chosen: set[int]) -> ModelTensor:
    highlights = [
        {"text": s.text, "position": s.position, "start": s.start, "end": s.end}
        for s in sentences
        if s.position in chosen
    ]
    return ModelTensor(OUTPUT_NAME, data_as_map={OUTPUT_NAME: highlights})


class FakeHighlighterBackend:
    """A deterministic stand-in for the highlighter network: each row selects the sentences that
    share a token with the question (question tokens: type 0 between [CLS] and [SEP]). It returns
    one index tensor per row, as the opensearch-py-ml head does, and ignores padding."""

    input_names = INPUT_NAMES

    def __init__(self) -> None:
        self.calls: list[dict[str, np.ndarray]] = []  # every feed, for tests

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls.append(dict(feed))
        ids, mask = feed["input_ids"], feed["attention_mask"]
        types, sentence_ids = feed["token_type_ids"], feed["sentence_ids"]
        out = {}
        for r in range(ids.shape[0]):
            question = ids[r][(types[r] == 0) & (mask[r] == 1)][1:-1]
            hit = np.isin(ids[r], question) & (sentence_ids[r] != IGNORE) & (mask[r] == 1)
            out[f"output_{r}"] = np.unique(sentence_ids[r][hit]).astype(np.int64)
        return out

    def close(self) -> None:
        pass


def _artifact_config(ctx: LoadContext) -> Mapping[str, Any]:
    """The artifact's own config.json (ML Commons' toy highlighter carries its token limits there)."""
    path = ctx.file("config.json")
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.debug("ignoring an unreadable config.json in %s", path.parent, exc_info=True)
        return {}
    return data if isinstance(data, dict) else {}


def question_answering_factory(ctx: LoadContext) -> tuple[SentenceHighlighter, QuestionAnsweringInput]:
    model_type = ctx.model_config.get("model_type")
    if not isinstance(model_type, str) or model_type.lower() != MODEL_TYPE:
        raise errors.IllegalArgument(ONLY_HIGHLIGHTER)
    if ctx.file("tokenizer.json") is None:
        ctx.hf_tokenizer()  # raises the missing-tokenizer ModelLoadError, ahead of any config error
    max_length, stride = chunk_settings(ctx.model_config, _artifact_config(ctx))
    # SentenceHighlighter resets padding and truncation of the tokenizer it gets; nothing else in
    # this load uses the context's tokenizer, so it may take it over instead of parsing a copy.
    tokenizer = ctx.hf_tokenizer()
    backend = ctx.backend(FakeHighlighterBackend)
    kind = SentenceHighlighter(tokenizer, backend, max_length=max_length, stride=stride)
    kind.probe_batching(WARMUP)
    return kind, WARMUP
