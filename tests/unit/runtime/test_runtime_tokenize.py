from __future__ import annotations

import numpy as np

from modelnode.runtime.tokenize import HashTokenizer, HFTokenizer
from tests.unit.runtime._support import VOCAB, MakeTokenizer


def test_fixed_padding_in_the_file_is_undone(make_tokenizer: MakeTokenizer) -> None:
    tok = HFTokenizer(make_tokenizer(fixed_padding=128))
    feats = tok(["today is sunny", "hello"])
    # Padded to the batch's longest ([CLS] today is sunny [SEP]), not to 128.
    assert feats["input_ids"].shape == (2, 5)
    assert feats["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(feats["attention_mask"], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    # Right padding with the file's pad id.
    assert feats["input_ids"][1].tolist() == [VOCAB["[CLS]"], VOCAB["hello"], VOCAB["[SEP]"], 0, 0]
    np.testing.assert_array_equal(feats["token_type_ids"], np.zeros((2, 5)))


def test_single_text_has_no_padding(make_tokenizer: MakeTokenizer) -> None:
    feats = HFTokenizer(make_tokenizer())(["hello world"])
    assert feats["input_ids"].shape == (1, 4)
    assert feats["attention_mask"].all()


def test_truncation_comes_from_the_file(make_tokenizer: MakeTokenizer) -> None:
    tok = HFTokenizer(make_tokenizer(truncation=6), model_max_length=100)
    assert tok.max_length == 6
    feats = tok(["long " * 50])
    assert feats["input_ids"].shape == (1, 6)
    assert feats["input_ids"][0, -1] == VOCAB["[SEP]"]  # special tokens survive truncation


def test_truncation_falls_back_to_model_max_length_then_512(make_tokenizer: MakeTokenizer) -> None:
    path = make_tokenizer(truncation=None, fixed_padding=None)
    assert HFTokenizer(path, model_max_length=10).max_length == 10
    assert HFTokenizer(path)(["long " * 50])["input_ids"].shape == (1, 52)  # under 512: untouched
    tok = HFTokenizer(path)
    assert tok.max_length == 512
    assert tok(["long " * 600])["input_ids"].shape == (1, 512)


def test_empty_batch(make_tokenizer: MakeTokenizer) -> None:
    feats = HFTokenizer(make_tokenizer())([])
    assert feats["input_ids"].shape == (0, 0)


def test_hash_tokenizer_is_stable_and_bounded() -> None:
    tok = HashTokenizer(max_length=5)
    a = tok(["Hello, world! And more words here"])
    b = tok(["hello , WORLD"])
    assert a["input_ids"].shape == (1, 5)
    assert a["input_ids"][0, :4].tolist() == b["input_ids"][0, :4].tolist()  # same words, same ids
    two = tok(["a", "a b c"])
    np.testing.assert_array_equal(two["attention_mask"], [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
