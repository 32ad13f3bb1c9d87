"""Text -> padded int64 id arrays, with the artifact's own ``tokenizer.json``.

ML Commons tokenizes one document at a time, so padding never matters there. We batch, so we pad
each batch to its own longest sequence (never to a fixed length: bert's tokenizer.json pads every
input to 128) and always on the right, which lets post-processing strip a document's padding by
slicing ``[:length]``. Truncation is the artifact's: the ``truncation`` block of tokenizer.json,
else ``model_config.model_max_length``, else 512.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding
    from tokenizers import Tokenizer as RawTokenizer

DEFAULT_MAX_LENGTH = 512
# Tried in order when tokenizer.json has no padding block to take the pad token from.
_PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>")

# input_ids, attention_mask, token_type_ids: each int64 (batch, seq).
Features = dict[str, np.ndarray]


class Tokenizer(Protocol):
    max_length: int

    def __call__(self, texts: Sequence[str]) -> Features: ...


class HFTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer loaded from ``tokenizer.json``.

    ``source``: the file's path, or a ``tokenizers.Tokenizer`` already loaded from it, which this
    takes over (its padding and truncation are reset here)."""

    def __init__(self, source: str | os.PathLike[str] | RawTokenizer, *, model_max_length: int | None = None) -> None:
        if isinstance(source, (str, os.PathLike)):
            from tokenizers import Tokenizer as _HF

            tok = _HF.from_file(str(source))
        else:
            tok = source
        truncation = tok.truncation
        if truncation is None:
            tok.enable_truncation(model_max_length or DEFAULT_MAX_LENGTH)
            truncation = tok.truncation
        self.max_length: int = truncation["max_length"]

        padding = tok.padding or {}
        pad_token = padding.get("pad_token") or next((t for t in _PAD_TOKENS if tok.token_to_id(t) is not None), None)
        pad_id = padding.get("pad_id", tok.token_to_id(pad_token) if pad_token else 0)
        tok.no_padding()
        # length=None: pad to the longest sequence of each batch.
        tok.enable_padding(
            direction="right",
            pad_id=pad_id,
            pad_type_id=padding.get("pad_type_id", 0),
            pad_token=pad_token or "[PAD]",
        )
        self._tok = tok

    def __call__(self, texts: Sequence[str]) -> Features:
        return _from_encodings(self._tok.encode_batch(list(texts), add_special_tokens=True))

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> Features:
        """Pair-encode ``(first, second)`` texts (cross-encoders): the template's pair form (bert:
        ``[CLS] a [SEP] b [SEP]``, type ids 0 then 1), truncated as the file says (strategy included:
        ``LongestFirst`` trims the longer text token by token), padded like ``__call__``."""
        return _from_encodings(self._tok.encode_batch([(a, b) for a, b in pairs], add_special_tokens=True))


class HashTokenizer:
    """A vocabulary-free stand-in for the fake backend when an artifact has no tokenizer.json:
    lower-cased words and punctuation, each hashed to a stable id, wrapped in [CLS]/[SEP] ids."""

    CLS, SEP, FIRST_ID, VOCAB = 101, 102, 1000, 30000
    _WORDS = re.compile(r"\w+|[^\w\s]")

    def __init__(self, *, max_length: int | None = None) -> None:
        self.max_length = max_length or DEFAULT_MAX_LENGTH

    def __call__(self, texts: Sequence[str]) -> Features:
        rows = []
        for text in texts:
            words = self._WORDS.findall(text.lower())[: self.max_length - 2]
            rows.append([self.CLS, *self._word_ids(words), self.SEP])
        return _right_padded(rows, [[0] * len(r) for r in rows])

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> Features:
        """``[CLS] a [SEP] b [SEP]`` with type ids 0 then 1; the longer text loses words first."""
        rows, types = [], []
        for first, second in pairs:
            a, b = (self._WORDS.findall(t.lower()) for t in (first, second))
            while len(a) + len(b) > self.max_length - 3 and (a or b):
                (a if len(a) > len(b) else b).pop()
            ids_a, ids_b = self._word_ids(a), self._word_ids(b)
            rows.append([self.CLS, *ids_a, self.SEP, *ids_b, self.SEP])
            types.append([0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1))
        return _right_padded(rows, types)

    def _word_ids(self, words: Sequence[str]) -> list[int]:
        """Each word's stable id (crc32 into the hashed vocabulary)."""
        return [self.FIRST_ID + zlib.crc32(w.encode()) % self.VOCAB for w in words]


def _right_padded(rows: list[list[int]], types: list[list[int]]) -> Features:
    """Rows (and their type ids) padded with 0 on the right to the longest row; mask 1 on real tokens."""
    longest = max((len(r) for r in rows), default=0)
    ids = [r + [0] * (longest - len(r)) for r in rows]
    mask = [[1] * len(r) + [0] * (longest - len(r)) for r in rows]
    return _features(ids, mask, [t + [0] * (longest - len(t)) for t in types])


def _from_encodings(encodings: list[Encoding]) -> Features:
    return _features([e.ids for e in encodings], [e.attention_mask for e in encodings], [e.type_ids for e in encodings])


def _features(ids: list[list[int]], mask: list[list[int]], type_ids: list[list[int]]) -> Features:
    def arr(rows: list[list[int]]) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(rows[0]) if rows else 0)  # (batch, seq)

    return {"input_ids": arr(ids), "attention_mask": arr(mask), "token_type_ids": arr(type_ids)}
