"""Helpers for runtime unit tests: a tiny bert-style tokenizer.json built in place (no weights,
no shared data), shaped like bert-base-uncased's file: fixed padding and truncation at 128."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

_TEXT = "today is sunny it a bright day the stock market fell hello world query passage long"
WORDS = [*_TEXT.split(), ":"]
MakeTokenizer = Callable[..., Path]  # the make_tokenizer fixture

VOCAB = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}


def write_tokenizer(path: Path, *, truncation: int | None = 128, fixed_padding: int | None = 128) -> Path:
    tok = Tokenizer(models.WordPiece(VOCAB, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", VOCAB["[CLS]"]), ("[SEP]", VOCAB["[SEP]"])],
    )
    if truncation:
        tok.enable_truncation(truncation)
    if fixed_padding:
        tok.enable_padding(length=fixed_padding, pad_id=0, pad_token="[PAD]")
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path
