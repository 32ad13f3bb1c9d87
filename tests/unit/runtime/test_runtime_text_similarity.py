"""TEXT_SIMILARITY (cross-encoder) with the fake backend: real pair tokenization, truncation,
batching and output shapes around a hash "network"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode import errors
from modelnode.runtime import ModelSpec, ModelTensors, TextDocsInput, TextSimilarityInput, load
from modelnode.runtime.backends.fake_similarity import FakeSimilarityBackend
from modelnode.runtime.kinds.text_similarity import TextSimilarity, _logits, dynamically_quantized
from modelnode.runtime.loader import BatchedModel
from modelnode.runtime.tokenize import HashTokenizer, HFTokenizer
from tests.unit.runtime._support import VOCAB, MakeTokenizer

QUERY = "today is sunny"
DOCS = ("hello world", "today is sunny", "the stock market fell", "it is a bright day")
TWO_INPUTS = ("input_ids", "attention_mask")


@pytest.fixture
def deploy(artifact_dir: Path) -> Iterator[Any]:
    models: list[BatchedModel] = []

    def deploy_(folder: Path = artifact_dir, model_format: str = "ONNX") -> BatchedModel:
        model = load(ModelSpec(folder, model_format, "TEXT_SIMILARITY", {}, backend="fake"))
        models.append(model)  # type: ignore[arg-type]
        return model  # type: ignore[return-value]

    yield deploy_
    for model in models:
        model.close()


def predict(model: Any, query: str, *docs: str) -> list[ModelTensors]:
    return asyncio.run(model.predict(TextSimilarityInput(query, tuple(docs))))


def scores(model: Any, query: str, *docs: str) -> np.ndarray:
    return np.array([tensors[0].data[0] for tensors in predict(model, query, *docs)])


def kind(path: Path, input_names: tuple[str, ...] | None = None, **kw: Any) -> TextSimilarity:
    backend = FakeSimilarityBackend(input_names) if input_names else FakeSimilarityBackend()
    return TextSimilarity(HFTokenizer(path), backend, **kw)


# --- outputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_format", ["ONNX", "TORCH_SCRIPT"])
def test_one_similarity_tensor_of_shape_1_per_doc_in_order(deploy, artifact_dir: Path, model_format: str) -> None:
    if model_format == "TORCH_SCRIPT":
        (artifact_dir / "model.pt").write_bytes(b"never read by the fake backend")
    out = predict(deploy(model_format=model_format), QUERY, *DOCS)
    assert len(out) == len(DOCS)
    for tensors in out:
        assert [(t.name, t.data.shape, t.data_type, t.data_as_map) for t in tensors] == [
            ("similarity", (1,), "FLOAT32", None)
        ]
    # In input order, although pairs are run longest first: each equals the doc scored alone.
    model = deploy(model_format=model_format)
    alone = [scores(model, QUERY, doc)[0] for doc in DOCS]
    np.testing.assert_allclose([t[0].data[0] for t in out], alone, atol=1e-6)
    # The doc equal to the query scores highest (the fake's cosine of the two segments).
    assert int(np.argmax(alone)) == DOCS.index(QUERY)


def test_raw_logit_is_the_network_output_for_the_pair(deploy, artifact_dir: Path) -> None:
    got = scores(deploy(), QUERY, "hello world")[0]
    # [CLS] today is sunny [SEP] hello world [SEP], type ids 0 x5 then 1 x3, no padding.
    ids = [VOCAB[t] for t in ("[CLS]", "today", "is", "sunny", "[SEP]", "hello", "world", "[SEP]")]
    feed = {
        "input_ids": np.array([ids]),
        "attention_mask": np.ones((1, 8), dtype=np.int64),
        "token_type_ids": np.array([[0] * 5 + [1] * 3]),
    }
    assert got == FakeSimilarityBackend().run(feed)["logits"][0, 0]  # no sigmoid, exactly the logit


def test_fake_network_is_deterministic_across_loads(deploy) -> None:
    first, second = scores(deploy(), QUERY, *DOCS), scores(deploy(), QUERY, *DOCS)
    np.testing.assert_array_equal(first, second)
    assert len(set(first.tolist())) == len(DOCS)  # and not constant


def test_warm_up_runs_a_short_pair_at_load(artifact_dir: Path) -> None:
    model = load(ModelSpec(artifact_dir, "ONNX", "TEXT_SIMILARITY", {}, backend="fake"))
    try:
        backend = model.kind.backend  # type: ignore[attr-defined]
        assert len(backend.calls) == 1 and backend.calls[0]["input_ids"].shape[0] == 1
    finally:
        model.close()


def test_empty_docs_give_no_results(deploy) -> None:
    assert predict(deploy(), QUERY) == []


# --- batching -----------------------------------------------------------------------------------------


def test_a_pair_scores_the_same_alone_and_in_padded_chunks(make_tokenizer: MakeTokenizer) -> None:
    sim = kind(make_tokenizer(), max_batch_docs=4)
    docs = [" ".join(["long"] * (i % 9) + ["hello"]) for i in range(50)]  # mixed lengths, 13 chunks
    batch = sim.score([(QUERY, d) for d in docs])[:, 0]
    feeds = list(sim.backend.calls)  # type: ignore[attr-defined]
    alone = {d: sim.score([(QUERY, d)])[0, 0] for d in set(docs)}
    np.testing.assert_allclose(batch, [alone[d] for d in docs], atol=1e-6)
    # Chunks respect max_batch_docs, are padded (mixed lengths) and cut to their own longest pair.
    assert [f["input_ids"].shape[0] for f in feeds] == [4] * 12 + [2]
    assert any(not f["attention_mask"].all() for f in feeds)
    assert all(f["attention_mask"][:, -1].any() for f in feeds)  # no all-padding column


def test_token_budget_bounds_each_chunk(make_tokenizer: MakeTokenizer) -> None:
    sim = kind(make_tokenizer(), max_batch_tokens=40)
    sim.score([(QUERY, "long " * 10)] * 6)  # 16 tokens each -> 2 pairs per chunk
    assert [f["input_ids"].shape for f in sim.backend.calls] == [(2, 16)] * 3  # type: ignore[attr-defined]


def test_requests_merged_into_one_batch_get_their_own_docs(make_tokenizer: MakeTokenizer) -> None:
    sim = kind(make_tokenizer())
    a, b = TextSimilarityInput(QUERY, DOCS[:3]), TextSimilarityInput("hello", DOCS[1:])
    empty = TextSimilarityInput(QUERY, ())
    merged = sim.run([a, empty, b])
    assert [len(r) for r in merged] == [3, 0, 3]
    np.testing.assert_array_equal([t[0].data for t in merged[0]], [t[0].data for t in sim.run([a])[0]])
    np.testing.assert_array_equal([t[0].data for t in merged[2]], [t[0].data for t in sim.run([b])[0]])


def test_many_docs_through_the_batcher_come_back_in_order(deploy) -> None:
    model = deploy()
    docs = [" ".join(["long"] * (i % 7) + ["world"]) for i in range(100)]
    singles = {d: scores(model, QUERY, d)[0] for d in set(docs)}
    np.testing.assert_allclose(scores(model, QUERY, *docs), [singles[d] for d in docs], atol=1e-6)


def test_one_pair_per_run_has_no_padding(make_tokenizer: MakeTokenizer) -> None:
    sim = kind(make_tokenizer(), max_batch_docs=1)  # what dynamically quantised models get
    sim.score([(QUERY, d) for d in DOCS])
    calls = list(sim.backend.calls)  # type: ignore[attr-defined]
    assert len(calls) == len(DOCS)
    assert all(c["input_ids"].shape[0] == 1 and c["attention_mask"].all() for c in calls)


# --- pair encoding and truncation -------------------------------------------------------------------


def test_pair_encoding_has_segments_and_type_ids(make_tokenizer: MakeTokenizer) -> None:
    feats = HFTokenizer(make_tokenizer(fixed_padding=128)).encode_pairs([(QUERY, "hello"), ("hello", "world")])
    cls, sep = VOCAB["[CLS]"], VOCAB["[SEP]"]
    assert feats["input_ids"][0].tolist() == [cls, *(VOCAB[w] for w in QUERY.split()), sep, VOCAB["hello"], sep]
    assert feats["token_type_ids"][0].tolist() == [0, 0, 0, 0, 0, 1, 1]
    # Padded to the batch's longest pair (not the file's fixed 128), on the right, type 0.
    assert feats["input_ids"][1].tolist() == [cls, VOCAB["hello"], sep, VOCAB["world"], sep, 0, 0]
    assert feats["attention_mask"][1].tolist() == [1, 1, 1, 1, 1, 0, 0]
    assert feats["token_type_ids"][1].tolist() == [0, 0, 0, 1, 1, 0, 0]


@pytest.mark.parametrize(
    ("query_words", "doc_words", "kept"),
    [
        (3, 40, (3, 10)),  # a short query is kept whole; the doc loses its tail
        (40, 2, (11, 2)),  # a long query loses tokens when the doc is short
        (40, 40, (6, 7)),  # both long: cut to about even (tokenizers gives the odd token to the doc)
    ],
)
def test_pair_truncation_is_longest_first_within_the_files_limit(
    make_tokenizer: MakeTokenizer, query_words: int, doc_words: int, kept: tuple[int, int]
) -> None:
    sim = kind(make_tokenizer(truncation=16))
    sim.score([("long " * query_words, "world " * doc_words)])
    feed = sim.backend.calls[-1]  # type: ignore[attr-defined]
    assert feed["input_ids"].shape == (1, 16)
    types = feed["token_type_ids"][0]
    assert (int((types == 0).sum()) - 2, int((types == 1).sum()) - 1) == kept  # minus [CLS] [SEP] / [SEP]
    assert feed["input_ids"][0, -1] == VOCAB["[SEP]"]  # special tokens survive truncation


def test_hash_tokenizer_pairs_for_artifacts_without_tokenizer_json(deploy, tmp_path: Path) -> None:
    tok = HashTokenizer(max_length=8)
    feats = tok.encode_pairs([("a b c d e", "f g h i j k")])
    assert feats["input_ids"].shape == (1, 8)
    assert feats["token_type_ids"][0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]  # 3 + 2 words: the longer side cut
    assert scores(deploy(tmp_path), "Today is sunny", "it is", "today is sunny").shape == (2,)


# --- inputs the model declares ------------------------------------------------------------------------


def test_token_type_ids_are_fed_only_when_the_model_declares_them(make_tokenizer: MakeTokenizer) -> None:
    with_types, without = kind(make_tokenizer()), kind(make_tokenizer(), TWO_INPUTS)
    for sim in (with_types, without):
        sim.score([(QUERY, "hello")])
    assert set(with_types.backend.calls[-1]) == {"input_ids", "attention_mask", "token_type_ids"}  # type: ignore[attr-defined]
    assert set(without.backend.calls[-1]) == set(TWO_INPUTS)  # type: ignore[attr-defined]


def test_output_named_logits_or_else_the_first_one() -> None:
    np.testing.assert_array_equal(_logits({"x": np.ones((2, 3)), "logits": np.zeros(2)}, 2), np.zeros((2, 1)))
    got = _logits({"output_0": np.array([[1.5], [2.5]], dtype=np.float64)}, 2)
    assert got.dtype == np.float32 and got.tolist() == [[1.5], [2.5]]
    for bad in ({}, {"logits": np.ones((3, 1))}, {"logits": np.ones((2, 1), dtype=np.int64)}):
        with pytest.raises(errors.ModelLoadError):
            _logits(bad, 2)


def test_dynamic_quantisation_is_detected_from_the_graph(tmp_path: Path) -> None:
    plain, quantised, empty = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "c.onnx"
    plain.write_bytes(b"\x08\x07" + b"MatMul" * 1000 + b"\x00" * 5000)
    quantised.write_bytes(b"\x08\x07" + b"MatMul" * 1000 + b"DynamicQuantizeLinear" + b"\x00" * 5000)
    empty.write_bytes(b"")
    assert (dynamically_quantized(plain), dynamically_quantized(quantised), dynamically_quantized(empty)) == (
        False,
        True,
        False,
    )


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inp", "message"),
    [
        (TextSimilarityInput(None, ("a",)), r"\[query_text\] must be a string"),  # type: ignore[arg-type]
        (TextSimilarityInput(QUERY, ("a", 3)), r"\[text_docs\] must be an array of strings"),  # type: ignore[arg-type]
        (TextSimilarityInput(QUERY, "abc"), r"\[text_docs\] must be an array of strings"),  # type: ignore[arg-type]
        (TextDocsInput(("a",)), "query_text and text_docs"),
    ],
)
def test_wrong_inputs_are_refused_alone(deploy, inp: Any, message: str) -> None:
    model = deploy()
    with pytest.raises(errors.IllegalArgument, match=message) as info:
        asyncio.run(model.predict(inp))
    assert info.value.status == 400
    assert model.healthy
    assert scores(model, QUERY, "hello").shape == (1,)  # the model still serves


def test_cost_is_bounded_by_the_truncation(make_tokenizer: MakeTokenizer) -> None:
    sim = kind(make_tokenizer(truncation=16))
    assert sim.cost(TextSimilarityInput("x" * 4000, ("y" * 4000, "z"))) == 32
    assert sim.cost(TextSimilarityInput("abcd", ("efgh",))) == 5


# --- a real TorchScript backend with positional inputs ---------------------------------------------


@pytest.mark.parametrize("with_types", [False, True])
def test_traced_positional_classifier_is_fed_by_its_argument_names(artifact_dir: Path, with_types: bool) -> None:
    """A traced HF classifier takes ``input_ids, attention_mask[, token_type_ids]`` positionally and
    returns logits (a tensor, or a dict when traced with strict=False)."""
    torch = pytest.importorskip("torch")

    class TwoInputs(torch.nn.Module):
        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return ((input_ids % 7) * attention_mask).sum(dim=1, keepdim=True).float()  # (batch, 1)

    class ThreeInputs(torch.nn.Module):
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            logits = ((input_ids % 7) * attention_mask * (1 + token_type_ids)).sum(dim=1, keepdim=True).float()
            return {"logits": logits}

    example = (torch.tensor([[2, 5, 3, 0]]), torch.tensor([[1, 1, 1, 0]]), torch.tensor([[0, 0, 1, 0]]))
    module, args = (ThreeInputs(), example) if with_types else (TwoInputs(), example[:2])
    torch.jit.save(torch.jit.trace(module, args, strict=False), str(artifact_dir / "model.pt"))
    model = load(ModelSpec(artifact_dir, "TORCH_SCRIPT", "TEXT_SIMILARITY", {}))
    try:
        got = scores(model, QUERY, "hello world", "today is sunny")
    finally:
        model.close()
    feats = HFTokenizer(artifact_dir / "tokenizer.json").encode_pairs([(QUERY, "hello world"), (QUERY, QUERY)])
    weight = (1 + feats["token_type_ids"]) if with_types else 1
    expected = ((feats["input_ids"] % 7) * feats["attention_mask"] * weight).sum(axis=1)
    np.testing.assert_array_equal(got, expected.astype(np.float32))
