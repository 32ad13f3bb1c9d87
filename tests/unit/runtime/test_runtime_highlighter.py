"""QUESTION_ANSWERING (semantic sentence highlighter) through ``runtime.load`` with the fake
network: real segmentation, tokenization with overflow and stride, sentence ids, batching and the
union of chunk results; the fake selects the sentences that share a token with the question."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from modelnode import errors
from modelnode.runtime import ModelSpec, ModelTensors, QuestionAnsweringInput, load
from modelnode.runtime.kinds import highlighter
from modelnode.runtime.kinds.highlighter import (
    IGNORE,
    FakeHighlighterBackend,
    SentenceHighlighter,
    chunk_settings,
    context_chunks,
)
from modelnode.runtime.loader import BatchedModel
from modelnode.runtime.sentences import segment

# Twelve sentences of distinct words; "harbour" is in sentences 2, 7 and 10, "lantern" in 5.
SENTENCES = [
    "Morning fog rolled over grey hills.",
    "Farmers walked their cattle slowly.",
    "A small harbour sheltered fishing boats.",
    "Children played beside an old mill.",
    "Bakers opened shops before sunrise.",
    "One lantern burned in a tower window.",
    "Merchants argued about copper prices.",
    "Sailors repaired nets near the harbour wall.",
    "Rain started falling after noon.",
    "Travellers rested under tall oaks.",
    "Gulls circled above the busy harbour.",
    "Evening bells rang across quiet fields.",
]
LONG = " ".join(SENTENCES)
SHORT = "Gulls circled above the busy harbour. Rain started falling after noon."
CONFIG = {"model_type": "sentence_highlighting", "framework_type": "huggingface_transformers"}
SMALL = {**CONFIG, "all_config": json.dumps({"token_max_length": 24, "token_overlap_stride": 6})}
EXTRA = 'where is the lantern tower harbour hello world zebra unknown and then stop yes , ? ! "'


def write_tokenizer(path: Path, text: str) -> Path:
    """A bert-style WordPiece tokenizer.json whose vocabulary is exactly the words of ``text``."""
    words = sorted(set(re.findall(r"\w+|[^\w\s]", text.lower())))
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    folder = tmp_path / "highlighter"
    write_tokenizer(folder / "tokenizer.json", f"{LONG} {SHORT} {EXTRA}")
    (folder / "model.pt").write_bytes(b"never read by the fake backend")
    return folder


@pytest.fixture
def deploy(artifact: Path) -> Iterator[Any]:
    models_: list[BatchedModel] = []

    def deploy_(model_config: Mapping[str, Any] = CONFIG, **spec: Any) -> BatchedModel:
        spec.setdefault("backend", "fake")
        model = load(ModelSpec(artifact, "TORCH_SCRIPT", "QUESTION_ANSWERING", model_config, **spec))
        models_.append(model)
        return model

    yield deploy_
    for model in models_:
        model.close()


def predict(model: Any, question: str, context: str) -> list[ModelTensors]:
    return asyncio.run(model.predict(QuestionAnsweringInput(question, context)))


def highlights(model: Any, question: str, context: str) -> list[dict[str, Any]]:
    out = predict(model, question, context)
    return out[0][0].data_as_map["highlights"]  # type: ignore[index]


def positions(model: Any, question: str, context: str) -> list[int]:
    return [h["position"] for h in highlights(model, question, context)]


def fake(model: BatchedModel) -> FakeHighlighterBackend:
    kind = model.kind
    assert isinstance(kind, SentenceHighlighter)
    assert isinstance(kind.backend, FakeHighlighterBackend)
    return kind.backend


# --- output shape -------------------------------------------------------------------------------


def test_one_result_with_one_highlights_tensor(deploy) -> None:
    out = predict(deploy(), "harbour", SHORT)
    assert len(out) == 1 and len(out[0]) == 1
    tensor = out[0][0]
    assert tensor.name == "highlights" and tensor.data is None and tensor.data_type is None
    assert tensor.data_as_map == {
        "highlights": [{"text": "Gulls circled above the busy harbour.", "position": 0, "start": 0, "end": 37}]
    }


def test_offsets_point_into_the_context(deploy) -> None:
    context = "  Dr. Brown saw the harbour.\n\nRain came.   The harbour flooded!"
    found = highlights(deploy(), "harbour", context)
    assert [h["position"] for h in found] == [0, 2]
    for h in found:
        assert context[h["start"] : h["end"]].strip() == h["text"]
    assert found[0]["text"] == "Dr. Brown saw the harbour."


def test_no_match_gives_an_empty_list(deploy) -> None:
    assert highlights(deploy(), "zebra", SHORT) == []


def test_blank_context_gives_an_empty_list(deploy) -> None:
    assert highlights(deploy(), "harbour", "   \n ") == []


# --- chunking -------------------------------------------------------------------------------------


def test_long_context_is_cut_into_overlapping_chunks(artifact: Path) -> None:
    tok = Tokenizer.from_file(str(artifact / "tokenizer.json"))
    tok.enable_truncation(24, stride=6, strategy="only_second")
    chunks = context_chunks(tok, "harbour", LONG, segment(LONG))
    assert len(chunks) >= 5
    contexts = []
    for chunk in chunks:
        assert len(chunk.input_ids) <= 24
        assert chunk.input_ids[:3] == tok.encode("harbour").ids[:3]  # [CLS] harbour [SEP] leads every chunk
        first = chunk.type_ids.index(1)
        # Question, [CLS] and the [SEP]s have no sentence; every context token has one.
        assert set(chunk.sentence_ids[:first]) == {IGNORE}
        assert chunk.sentence_ids[-1] == IGNORE
        assert IGNORE not in chunk.sentence_ids[first:-1]
        assert chunk.sentence_ids[first:-1] == sorted(chunk.sentence_ids[first:-1])
        contexts.append(chunk.input_ids[first:-1])
    for before, after in itertools.pairwise(contexts):
        assert before[-6:] == after[:6]  # the stride
    # Every sentence is seen, in order, across the chunks.
    seen = sorted({s for c in chunks for s in c.sentence_ids if s != IGNORE})
    assert seen == list(range(len(SENTENCES)))


def test_sentence_ids_follow_whitespace_words_not_punctuation(artifact: Path) -> None:
    tok = Tokenizer.from_file(str(artifact / "tokenizer.json"))
    tok.enable_truncation(512, stride=0, strategy="only_second")
    context = "Hello, world. Where   is\n\nthe harbour? Stop."
    [chunk] = context_chunks(tok, "yes", context, segment(context))
    first = chunk.type_ids.index(1)
    pairs = list(zip(tok.encode("yes", context).tokens[first:-1], chunk.sentence_ids[first:-1], strict=True))
    assert pairs == [
        ("hello", 0),
        (",", 0),
        ("world", 0),
        (".", 0),
        ("where", 1),
        ("is", 1),
        ("the", 1),
        ("harbour", 1),
        ("?", 1),
        ("stop", 2),
        (".", 2),
    ]


def test_chunk_results_are_unioned_deduplicated_and_sorted(deploy) -> None:
    model = deploy(SMALL)
    found = highlights(model, "harbour lantern", LONG)
    assert [h["position"] for h in found] == [2, 5, 7, 10]
    assert [h["text"] for h in found] == [SENTENCES[i] for i in (2, 5, 7, 10)]
    for h in found:
        assert LONG[h["start"] : h["end"]] == h["text"]
    calls = fake(model).calls[2:]  # after the probe and the warm-up
    assert sum(c["input_ids"].shape[0] for c in calls) >= 5
    assert len(calls) == 1  # all chunks in one padded batch


def test_same_result_unchunked(deploy) -> None:
    assert positions(deploy(), "harbour lantern", LONG) == [2, 5, 7, 10]


def test_padding_rows_get_ignore_ids_and_zero_mask(deploy) -> None:
    model = deploy(SMALL)
    highlights(model, "harbour", LONG)
    feed = fake(model).calls[-1]
    mask, sentence_ids = feed["attention_mask"], feed["sentence_ids"]
    assert mask.shape[0] > 1 and not mask.all()  # the last chunk is shorter: padded
    assert (sentence_ids[mask == 0] == IGNORE).all()
    assert all(a.dtype == np.int64 for a in feed.values())


def test_concurrent_requests_share_a_batch_and_keep_their_own_results(deploy) -> None:
    model = deploy(SMALL)

    async def both() -> list[list[ModelTensors]]:
        return await asyncio.gather(
            model.predict(QuestionAnsweringInput("harbour", LONG)),
            model.predict(QuestionAnsweringInput("lantern", LONG)),
            model.predict(QuestionAnsweringInput("rain", SHORT)),
        )

    results = asyncio.run(both())
    got = [[h["position"] for h in r[0][0].data_as_map["highlights"]] for r in results]  # type: ignore[index]
    assert got == [[2, 7, 10], [5], [1]]


class FlatFake(FakeHighlighterBackend):
    """Like ML Commons' toy model: one flat tensor for the whole batch."""

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        per_row = super().run(feed)
        return {"output_0": np.unique(np.concatenate(list(per_row.values())))}


class OneRowOnly(FakeHighlighterBackend):
    """Like the published artifact (traced with one chunk): fails on any other batch size."""

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if feed["input_ids"].shape[0] != 1:
            self.calls.append(dict(feed))
            raise RuntimeError("Expected 1 elements in a list but found 2")
        return super().run(feed)


@pytest.mark.parametrize("backend", [FlatFake, OneRowOnly])
def test_models_without_per_row_outputs_run_one_chunk_at_a_time(
    artifact: Path, backend: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(highlighter, "FakeHighlighterBackend", backend)
    model = load(ModelSpec(artifact, "TORCH_SCRIPT", "QUESTION_ANSWERING", SMALL, backend="fake"))
    try:
        kind = model.kind
        assert isinstance(kind, SentenceHighlighter)
        assert kind.batched is False  # settled at load by a two-row probe
        calls = kind.backend.calls  # type: ignore[attr-defined]
        assert [c["input_ids"].shape[0] for c in calls] == [2, 1]  # the probe, the warm-up
        assert positions(model, "harbour lantern", LONG) == [2, 5, 7, 10]
        assert len(calls) > 3 and all(c["input_ids"].shape[0] == 1 for c in calls[1:])
    finally:
        model.close()


def test_a_batch_that_fails_later_falls_back_to_one_chunk_at_a_time(deploy) -> None:
    model = deploy(SMALL)
    kind = model.kind
    assert kind.batched is True  # the fake returns one tensor per row
    kind.backend = OneRowOnly()  # e.g. out of memory on a big batch from now on
    assert positions(model, "harbour lantern", LONG) == [2, 5, 7, 10]
    assert kind.batched is False
    calls = kind.backend.calls
    assert calls[0]["input_ids"].shape[0] > 1 and all(c["input_ids"].shape[0] == 1 for c in calls[1:])


def test_the_probe_and_warm_up_run_at_load(deploy) -> None:
    model = deploy()
    assert [c["input_ids"].shape[0] for c in fake(model).calls] == [2, 1]
    assert model.kind.batched is True  # type: ignore[attr-defined]


# --- settings and errors --------------------------------------------------------------------------


def test_chunk_settings() -> None:
    assert chunk_settings({}) == (512, 128)
    assert chunk_settings({"all_config": '{"token_max_length": 50, "token_overlap_stride": 10}'}) == (50, 10)
    assert chunk_settings({"all_config": {"token_max_length": 64}}) == (64, 128)
    assert chunk_settings({}, {"token_max_length": 50, "token_overlap_stride": 10}) == (50, 10)
    assert chunk_settings({"all_config": '{"token_max_length": 64}'}, {"token_max_length": 50}) == (64, 128)
    assert chunk_settings({"all_config": ""}) == (512, 128)
    for bad in ("{not json", "[1, 2]", '{"token_max_length": "long"}', '{"token_overlap_stride": -1}'):
        with pytest.raises(errors.IllegalArgument):
            chunk_settings({"all_config": bad})


def test_artifact_config_json_sets_the_window(deploy, artifact: Path) -> None:
    (artifact / "config.json").write_text(json.dumps({"token_max_length": 24, "token_overlap_stride": 6}))
    model = deploy()
    assert (model.kind.max_length, model.kind.stride) == (24, 6)  # type: ignore[attr-defined]


@pytest.mark.parametrize("model_type", ["SENTENCE_HIGHLIGHTING", "Sentence_Highlighting"])
def test_model_type_is_case_insensitive(deploy, model_type: str) -> None:
    assert positions(deploy({"model_type": model_type}), "rain", SHORT) == [1]


@pytest.mark.parametrize("config", [{}, {"model_type": "bert"}, {"model_type": None}])
def test_other_question_answering_models_are_refused_at_load(artifact: Path, config: dict[str, Any]) -> None:
    with pytest.raises(errors.IllegalArgument, match="Only the semantic sentence highlighter"):
        load(ModelSpec(artifact, "TORCH_SCRIPT", "QUESTION_ANSWERING", config, backend="fake"))


def test_a_window_no_longer_than_the_stride_is_refused_at_load(artifact: Path) -> None:
    config = {**CONFIG, "all_config": json.dumps({"token_max_length": 10, "token_overlap_stride": 7})}
    with pytest.raises(errors.IllegalArgument, match="token_overlap_stride"):
        load(ModelSpec(artifact, "TORCH_SCRIPT", "QUESTION_ANSWERING", config, backend="fake"))


def test_missing_tokenizer_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(errors.ModelLoadError, match=r"tokenizer\.json"):
        load(ModelSpec(tmp_path, "TORCH_SCRIPT", "QUESTION_ANSWERING", CONFIG, backend="fake"))


def test_a_question_that_leaves_no_room_is_refused_and_the_model_survives(deploy) -> None:
    model = deploy(SMALL)  # 24 tokens, stride 6, 3 special tokens: the question may have 14
    long_question = " ".join(["harbour"] * 15)
    with pytest.raises(errors.IllegalArgument, match="at most 14 tokens"):
        predict(model, long_question, LONG)
    # A long question with a context that fits needs no window: fine.
    assert positions(model, long_question, "The harbour.") == [0]
    assert positions(model, " ".join(["harbour"] * 14), LONG) == [2, 7, 10]
    assert model.healthy


def test_inputs_of_other_kinds_are_refused(deploy) -> None:
    from modelnode.runtime import TextDocsInput

    model = deploy()
    with pytest.raises(errors.IllegalArgument, match="question and context"):
        asyncio.run(model.predict(TextDocsInput(("hello",))))


def test_cost_and_batch_key(deploy) -> None:
    kind = deploy(SMALL).kind
    short, long = QuestionAnsweringInput("harbour", SHORT), QuestionAnsweringInput("harbour", LONG * 4)
    assert 0 < kind.cost(short) <= 24 < kind.cost(long)
    assert kind.batch_key(short) is None
