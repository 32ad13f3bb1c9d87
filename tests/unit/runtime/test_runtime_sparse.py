"""SPARSE_ENCODING (fake network) and SPARSE_TOKENIZE (fully real) through ``runtime.load``: ML
Commons' post-processing, output shapes and formats, against the seed page's numbers."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from modelnode import errors
from modelnode.runtime import ModelSpec, ModelTensors, TextDocsInput, load
from modelnode.runtime.backends.fake_sparse import FakeSparseBackend, token_weight
from modelnode.runtime.kinds.sparse import SparseEncoding, Vocabulary, normalize_format, sparse_map
from modelnode.runtime.loader import BatchedModel
from modelnode.runtime.tokenize import HFTokenizer
from tests.support import BERT_IDF_ZIP
from tests.unit.runtime._support import VOCAB, write_tokenizer

needs_idf_zip = pytest.mark.skipif(not BERT_IDF_ZIP.is_file(), reason=f"needs the shared {BERT_IDF_ZIP}")
LONG = "the weather is nice today " * 150  # ~750 tokens: past the 512 limit


@pytest.fixture
def deploy() -> Iterator[Any]:
    models: list[BatchedModel] = []

    def deploy_(folder: Path, function_name: str, model_format: str = "TORCH_SCRIPT", **spec: Any) -> BatchedModel:
        model = load(ModelSpec(folder, model_format, function_name, **spec))
        models.append(model)  # type: ignore[arg-type]
        return model  # type: ignore[return-value]

    yield deploy_
    for model in models:
        model.close()


def special_tokenizer(path: Path, **kwargs: Any) -> Path:
    """The tiny runtime-test tokenizer with [PAD] [UNK] [CLS] [SEP] registered as special tokens,
    as real tokenizer.json files have them (decode skips them, the networks zero them)."""
    from tokenizers import Tokenizer

    write_tokenizer(path, **kwargs)
    tok = Tokenizer.from_file(str(path))
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.save(str(path))
    return path


@pytest.fixture
def artifact_dir(tmp_path: Path) -> Path:
    """A sparse encoder artifact for the fake backend: tokenizer.json and a placeholder model file."""
    folder = tmp_path / "sparse-artifact"
    special_tokenizer(folder / "tokenizer.json")
    (folder / "model.pt").write_bytes(b"never read by the fake backend")
    return folder


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ML Commons' own bert-uncased.zip unpacked: tokenizer.json + idf.json (tokenizer-v1's content)."""
    if not BERT_IDF_ZIP.is_file():
        pytest.skip(f"needs the shared {BERT_IDF_ZIP}")
    folder = tmp_path_factory.mktemp("bert-idf")
    with zipfile.ZipFile(BERT_IDF_ZIP) as zf:
        zf.extractall(folder)
    return folder


def predict(model: Any, *texts: str, fmt: str = "WORD", content_type: str | None = None) -> list[ModelTensors]:
    return asyncio.run(model.predict(TextDocsInput(tuple(texts), content_type, sparse_embedding_format=fmt)))


def weights(model: Any, *texts: str, fmt: str = "WORD") -> list[dict[str, Any]]:
    return [doc[0].data_as_map["response"][0] for doc in predict(model, *texts, fmt=fmt)]


# --- post-processing --------------------------------------------------------------------------------


@needs_idf_zip
def test_vocabulary_decodes_each_id_alone_like_hugging_face(bert_dir: Path) -> None:
    vocab = Vocabulary.from_tokenizer_json(bert_dir / "tokenizer.json")
    assert vocab.size == 30522
    assert vocab.special_ids == {0, 100, 101, 102, 103}  # [PAD] [UNK] [CLS] [SEP] [MASK]
    assert [vocab.word(i) for i in (7592, 2088, 2015, 1012)] == ["hello", "world", "##s", "."]
    assert [vocab.word(i) for i in (0, 100, 101, 102, 103, 30522, -1)] == [""] * 7


@needs_idf_zip
def test_sparse_map_keys_formats_and_dropped_empty_keys(bert_dir: Path) -> None:
    vocab = Vocabulary.from_tokenizer_json(bert_dir / "tokenizer.json")
    row = np.zeros(vocab.size, dtype=np.float32)
    row[[101, 7592, 2015, 102]] = [9.0, 0.5, 1.25, 3.0]  # specials decode to "" and are dropped
    word = sparse_map(row, vocab, "WORD")
    assert word == {"hello": 0.5, "##s": 1.25}
    assert all(type(v) is np.float32 for v in word.values())
    # TOKEN_ID keeps every non-zero id, as ML Commons does.
    assert sparse_map(row, vocab, "TOKEN_ID") == {"101": 9.0, "2015": 1.25, "7592": 0.5, "102": 3.0}
    assert sparse_map(np.zeros(vocab.size, dtype=np.float32), vocab) == {}
    # float64 weights are reported as float32, as Java's getFloat does.
    assert type(sparse_map(row.astype(np.float64), vocab)["hello"]) is np.float32


def test_format_names() -> None:
    assert [normalize_format(f) for f in ("word", "WORD", "lexical", "token_id", None)] == [
        "WORD",
        "WORD",
        "WORD",
        "TOKEN_ID",
        "WORD",
    ]
    with pytest.raises(errors.IllegalArgument, match=r"sparse_embedding_format \[bits\]"):
        normalize_format("bits")


# --- SPARSE_ENCODING, fake network -----------------------------------------------------------------


def test_fake_network_is_a_deterministic_function_of_the_ids() -> None:
    backend = FakeSparseBackend(50, special_ids=(2, 3))
    ids = np.array([[2, 10, 11, 10, 3], [2, 12, 3, 0, 0]])
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    out = backend.run({"input_ids": ids, "attention_mask": mask})["output"]
    assert out.shape == (2, 50) and out.dtype == np.float32
    assert set(np.flatnonzero(out[0])) == {10, 11} and set(np.flatnonzero(out[1])) == {12}  # no specials, no pad
    np.testing.assert_array_equal(out[0, [10, 11]], token_weight(np.array([10, 11])))
    assert ((out[out > 0] >= 0.25) & (out[out > 0] < 2.0)).all()
    again = FakeSparseBackend(50, special_ids=(2, 3)).run({"input_ids": ids[1:, :3], "attention_mask": mask[1:, :3]})
    np.testing.assert_array_equal(again["output"][0], out[1])  # alone, unpadded: the same


def test_sparse_encoding_shape_and_values(deploy, artifact_dir: Path) -> None:
    model = deploy(artifact_dir, "SPARSE_ENCODING", backend="fake")
    out = predict(model, "today is sunny", "hello")
    assert len(out) == 2
    for tensors in out:
        (tensor,) = tensors
        assert tensor.name == "output" and tensor.data is None
        assert list(tensor.data_as_map) == ["response"] and len(tensor.data_as_map["response"]) == 1
    today = out[0][0].data_as_map["response"][0]
    assert today == {w: token_weight(np.array([VOCAB[w]]))[0] for w in ("today", "is", "sunny")}
    assert all(type(v) is np.float32 for v in today.values())


def test_sparse_encoding_token_id_and_word_agree(deploy, artifact_dir: Path) -> None:
    model = deploy(artifact_dir, "SPARSE_ENCODING", backend="fake")
    words = weights(model, "today is sunny")[0]
    ids = weights(model, "today is sunny", fmt="TOKEN_ID")[0]
    assert ids == {str(VOCAB[w]): v for w, v in words.items()}


def test_sparse_encoding_same_answer_alone_or_in_a_padded_batch(deploy, artifact_dir: Path) -> None:
    model = deploy(artifact_dir, "SPARSE_ENCODING", backend="fake")
    texts = ["today is sunny", "hello", "the stock market fell today : it is a long day"]
    batch = weights(model, *texts)
    assert [weights(model, t)[0] for t in texts] == batch

    # Mixed formats share one batch; each request keeps its own.
    async def both() -> list[list[ModelTensors]]:
        return await asyncio.gather(
            model.predict(TextDocsInput(("hello",), sparse_embedding_format="TOKEN_ID")),
            model.predict(TextDocsInput(("hello",))),
        )

    by_id, by_word = asyncio.run(both())
    assert list(by_id[0][0].data_as_map["response"][0]) == [str(VOCAB["hello"])]
    assert list(by_word[0][0].data_as_map["response"][0]) == ["hello"]


def test_sparse_encoding_ignores_content_type_and_refuses_a_bad_format(deploy, artifact_dir: Path) -> None:
    model = deploy(artifact_dir, "SPARSE_ENCODING", backend="fake")
    assert weights(model, "hello") == [
        doc[0].data_as_map["response"][0] for doc in predict(model, "hello", content_type="query")
    ]
    with pytest.raises(errors.IllegalArgument, match="sparse_embedding_format"):
        predict(model, "hello", fmt="bits")
    with pytest.raises(errors.IllegalArgument, match="list of strings"):
        asyncio.run(model.predict(TextDocsInput((None,))))  # type: ignore[arg-type]


def test_sparse_encoding_without_tokenizer_json_uses_the_hash_vocabulary(deploy, tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    model = deploy(tmp_path, "SPARSE_ENCODING", backend="fake")
    (doc,) = weights(model, "hello world")
    assert len(doc) == 2 and all(k.isdigit() for k in doc)


def test_a_model_that_does_not_return_batch_by_vocab_fails_to_load(tmp_path: Path, make_tokenizer: Any) -> None:
    class Dense:
        input_names = ("input_ids", "attention_mask")

        def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {"logits": np.zeros((*feed["input_ids"].shape, 7), dtype=np.float32)}

        def close(self) -> None:
            pass

    path = make_tokenizer()
    kind = SparseEncoding(HFTokenizer(path), Dense(), Vocabulary.from_tokenizer_json(path))
    with pytest.raises(errors.ModelLoadError, match=r"\(batch, vocab\).*\[logits\] has shape \(1, 3, 7\)"):
        kind.run([TextDocsInput(("hello",))])


def test_batches_of_the_sparse_encoder_respect_the_logits_budget(make_tokenizer: Any) -> None:
    path = make_tokenizer(truncation=512)
    seen: list[tuple[int, ...]] = []

    class Recording(FakeSparseBackend):
        def run(self, feed: Any) -> dict[str, np.ndarray]:
            seen.append(feed["input_ids"].shape)
            return super().run(feed)

    vocab = Vocabulary(None, (), 100_000)  # mbert-sized: 671 padded tokens per batch
    kind = SparseEncoding(HFTokenizer(path), Recording(vocab.size), vocab)
    assert kind.max_batch_tokens == 671
    kind.weights(["today is sunny " * 100] * 3)  # 302 tokens each
    assert seen == [(2, 302), (1, 302)]


# --- SPARSE_TOKENIZE, real --------------------------------------------------------------------------


@needs_idf_zip
def test_sparse_tokenizer_matches_the_seed_page(deploy, bert_dir: Path) -> None:
    model = deploy(bert_dir, "SPARSE_TOKENIZE")  # no model file: none is looked for
    out = predict(model, "hello world", fmt="TOKEN_ID")
    (tensor,) = out[0]
    assert tensor.name is None and tensor.data is None
    assert tensor.data_as_map == {"response": [{"2088": np.float32(3.4208686), "7592": np.float32(6.9377565)}]}
    assert orjson.dumps(tensor.data_as_map, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS) == (
        b'{"response":[{"2088":3.4208686,"7592":6.9377565}]}'
    )
    assert weights(model, "hello world") == [{"hello": np.float32(6.9377565), "world": np.float32(3.4208686)}]


@needs_idf_zip
def test_sparse_tokenizer_token_id_and_word_agree(deploy, bert_dir: Path) -> None:
    model = deploy(bert_dir, "SPARSE_TOKENIZE")
    vocab = Vocabulary.from_tokenizer_json(bert_dir / "tokenizer.json")
    text = "Unbelievably, the neural-sparse tokenizer's weights come from idf.json!"
    words = weights(model, text)[0]
    ids = weights(model, text, fmt="TOKEN_ID")[0]
    assert {vocab.word(int(i)): v for i, v in ids.items()} == words
    assert "##s" not in words or words["##s"] == ids[str(2015)]


@needs_idf_zip
def test_sparse_tokenizer_distinct_tokens_truncation_and_batches(deploy, bert_dir: Path) -> None:
    model = deploy(bert_dir, "SPARSE_TOKENIZE")
    once, thrice = weights(model, "hello", "hello hello hello")
    assert once == thrice  # distinct ids: no term-frequency effect
    (long_doc,) = weights(model, LONG + " zebra")
    assert "zebra" not in long_doc and "weather" in long_doc  # truncated at 512 tokens (DJL's default)
    texts = ["hello world", LONG, "today is sunny", ""]
    assert weights(model, *texts) == [weights(model, t)[0] for t in texts]
    assert weights(model, "") == [{}]


def test_sparse_tokenizer_weights_default_to_one(deploy, tmp_path: Path) -> None:
    folder = tmp_path / "tok"
    special_tokenizer(folder / "tokenizer.json")
    model = deploy(folder, "SPARSE_TOKENIZE", "ONNX")
    assert weights(model, "hello world hello") == [{"hello": 1.0, "world": 1.0}]  # no idf.json
    (folder / "idf.json").write_text(json.dumps({"hello": 2.5, "sunny": 0.1}))
    model = deploy(folder, "SPARSE_TOKENIZE")
    (doc,) = weights(model, "hello world")
    assert doc == {"hello": 2.5, "world": 1.0} and all(type(v) is np.float32 for v in doc.values())


@pytest.mark.parametrize("content", ["[1, 2]", '{"hello": "x"}', "{not json"])
def test_sparse_tokenizer_refuses_a_broken_idf_json(tmp_path: Path, make_tokenizer: Any, content: str) -> None:
    (tmp_path / "tokenizer.json").write_bytes(make_tokenizer().read_bytes())
    (tmp_path / "idf.json").write_text(content)
    with pytest.raises(errors.ModelLoadError, match=r"idf\.json"):
        load(ModelSpec(tmp_path, "TORCH_SCRIPT", "SPARSE_TOKENIZE"))


def test_sparse_encoding_needs_a_model_file_without_the_fake_backend(tmp_path: Path, make_tokenizer: Any) -> None:
    (tmp_path / "tokenizer.json").write_bytes(make_tokenizer().read_bytes())
    with pytest.raises(errors.ModelLoadError, match=r"no \.pt model file"):
        load(ModelSpec(tmp_path, "TORCH_SCRIPT", "SPARSE_ENCODING"))
