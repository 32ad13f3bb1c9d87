"""Semantic highlighter end to end, through ``runtime.load``:

- ML Commons' toy TorchScript highlighter (real interface, toy body: the first two context
  sentence ids it sees), repackaged by our builder as the catalog artifact;
- a randomly initialised highlighter of the real architecture (tiny BERT, fixed seed) built and
  traced by our builder, against an independent computation of the same formula: Hugging Face
  tokenization of the whitespace words (``is_split_into_words``, as the model was trained) with
  overflow and stride, ``transformers.BertModel``, per-sentence mean, linear, softmax, selection.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelnode import catalog
from modelnode.runtime import ModelSpec, QuestionAnsweringInput, load
from modelnode.runtime.sentences import segment
from tests.support import BERT_IDF_ZIP, SHARED

HIGHLIGHTER = "amazon/sentence-highlighting/opensearch-semantic-highlighter-v1"
TOY_ZIP = SHARED / "models" / "tiny-sentence-highlighter-torchscript.zip"
HAVE_TORCH = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "safetensors"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (HAVE_TORCH and TOY_ZIP.is_file() and BERT_IDF_ZIP.is_file()),
        reason="needs torch + transformers (pip install 'modelnode[build]') and ../shared/models",
    ),
]

SENTENCES = [
    "Morning fog rolled over grey hills near the coast.",
    "Farmers walked their cattle slowly to market.",
    "A small harbour sheltered fishing boats from storms.",
    "Children played beside an old mill all day.",
    "Bakers opened shops before sunrise every morning.",
    "One lantern burned in a tower window at night.",
    "Merchants argued about copper prices in the square.",
    "Sailors repaired nets near the harbour wall.",
    "Rain started falling after noon and kept on.",
    "Travellers rested under tall oaks by the road.",
    "Gulls circled above the busy harbour all afternoon.",
    "Evening bells rang across quiet fields.",
]
CONTEXT = " ".join(SENTENCES)
QUESTION = "Where do the fishing boats stay?"
MAX_LENGTH, STRIDE = 64, 16  # three windows over CONTEXT
SEED, BIAS = 4, 1.0  # a classifier that both passes the 0.5 threshold and backs off, per chunk


def predict(model: Any, question: str, context: str) -> list[dict[str, Any]]:
    out = asyncio.run(model.predict(QuestionAnsweringInput(question, context)))
    assert len(out) == 1 and len(out[0]) == 1 and out[0][0].name == "highlights"
    return out[0][0].data_as_map["highlights"]  # type: ignore[index]


def deploy(built: Any, folder: Path) -> Any:
    with zipfile.ZipFile(built.zip_path) as zf:
        zf.extractall(folder)  # our own zip
    config = json.loads(built.config_path.read_text())
    return load(ModelSpec(folder, config["model_format"], config["function_name"], config["model_config"]))


def windows(
    tokenizer_json: Path, question: str, context: str, max_length: int, stride: int
) -> tuple[list[list[int]], Any]:
    """Per window, each token's sentence id (-100 outside the context), independently of the
    runtime: words split at whitespace and tokenized pre-split, as the model was trained."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_json))
    sentences = segment(context)
    words = [(m.group(), m.start()) for m in re.finditer(r"\S+", context)]
    word_sentence = [next(s.position for s in sentences if s.start <= ws < s.end) for _, ws in words]
    enc = tok(
        question.split(),
        [w for w, _ in words],
        is_split_into_words=True,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_token_type_ids=True,
    )
    rows = []
    for i in range(len(enc["input_ids"])):
        pairs = zip(enc.word_ids(i), enc.sequence_ids(i), strict=True)
        rows.append([word_sentence[w] if s == 1 and w is not None else -100 for w, s in pairs])
    return rows, enc


# --- ML Commons' toy model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from modelnode.artifacts.build_highlighter import SOURCES, build_kind

    source = SOURCES[HIGHLIGHTER].locate()
    assert source is not None
    entry = catalog.find(HIGHLIGHTER)
    assert entry is not None
    built = build_kind(
        source, tmp_path_factory.mktemp("toy-repo"), entry=entry, version="1.0.0", model_format="TORCH_SCRIPT"
    )
    model = deploy(built, tmp_path_factory.mktemp("toy"))
    yield model, built
    model.close()


def test_toy_artifact_layout(toy: tuple[Any, Any]) -> None:
    _, built = toy
    config = json.loads(built.config_path.read_text())
    assert config["function_name"] == "QUESTION_ANSWERING" and config["model_format"] == "TORCH_SCRIPT"
    assert config["model_config"]["model_type"] == "sentence_highlighting"
    assert config["model_config"]["framework_type"] == "huggingface_transformers"
    all_config = json.loads(config["model_config"]["all_config"])
    assert (all_config["token_max_length"], all_config["token_overlap_stride"]) == (50, 10)
    assert "toy test highlighter" in config["description"]
    assert built.zip_path.name == "sentence-highlighting_opensearch-semantic-highlighter-v1-1.0.0-torch_script.zip"
    names = zipfile.ZipFile(built.zip_path).namelist()
    assert "opensearch-semantic-highlighter-v1.pt" in names and "tokenizer.json" in names
    assert sum(n.endswith(".pt") for n in names) == 1 and "config.json" not in names


def test_toy_selects_the_first_two_sentences_with_exact_offsets(toy: tuple[Any, Any]) -> None:
    model, _ = toy
    context = "Dr. Reed   checked the tide.\n\nThe boats   left early. Gulls followed them."
    assert predict(model, "When did the boats leave?", context) == [
        {"text": "Dr. Reed   checked the tide.", "position": 0, "start": 0, "end": 28},
        {"text": "The boats   left early.", "position": 1, "start": 30, "end": 53},
    ]


def test_toy_over_several_chunks_unions_each_chunks_first_two(toy: tuple[Any, Any]) -> None:
    model, built = toy
    with zipfile.ZipFile(built.zip_path) as zf, zf.open("tokenizer.json") as f:
        tokenizer_json = Path(built.zip_path).with_name("toy-tokenizer.json")
        tokenizer_json.write_bytes(f.read())
    rows, _ = windows(tokenizer_json, QUESTION, CONTEXT, 50, 10)
    assert len(rows) >= 3
    expected = sorted({p for r in rows for p in sorted({s for s in r if s >= 0})[:2]})
    found = predict(model, QUESTION, CONTEXT)
    assert [h["position"] for h in found] == expected
    for h in found:
        assert CONTEXT[h["start"] : h["end"]] == h["text"] == SENTENCES[h["position"]]
    assert model.kind.batched is False  # the toy returns one flat tensor per call: run chunk by chunk


# --- the real architecture, randomly initialised ----------------------------------------------


def make_bert_folder(folder: Path, *, seed: int, bias: float) -> Path:
    """A tiny random BERT with a 2-class classifier, saved as the published checkpoint is laid out
    (``bert.*`` and ``classifier.*`` in model.safetensors), with bert-base-uncased's tokenizer."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    bert = BertModel(config, add_pooling_layer=False).eval()
    state = {f"bert.{k}": v.contiguous() for k, v in bert.state_dict().items()}
    generator = torch.Generator().manual_seed(seed + 1)
    state["classifier.weight"] = torch.randn(2, 32, generator=generator) * 0.3
    state["classifier.bias"] = torch.tensor([bias, 0.0])
    save_file(state, str(folder / "model.safetensors"))
    config.save_pretrained(folder)
    with zipfile.ZipFile(BERT_IDF_ZIP) as z:
        (folder / "tokenizer.json").write_bytes(z.read("tokenizer.json"))
    return folder


def reference(folder: Path, question: str, context: str) -> tuple[list[int], list[str], float]:
    """Selected positions, the rule that fired per chunk, and the smallest distance of any
    sentence probability to a threshold (0.5 or 0.05)."""
    import torch
    from safetensors.torch import load_file
    from transformers import BertModel

    rows, enc = windows(folder / "tokenizer.json", question, context, MAX_LENGTH, STRIDE)
    bert = BertModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    state = load_file(str(folder / "model.safetensors"))
    weight, bias = state["classifier.weight"], state["classifier.bias"]
    chosen: set[int] = set()
    rules, margin = [], 1.0
    for i, sentence_ids in enumerate(rows):
        ids = torch.tensor([enc["input_ids"][i]])
        with torch.no_grad():
            hidden = bert(
                ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.tensor([enc["token_type_ids"][i]])
            )
        tokens, sid = hidden.last_hidden_state[0], torch.tensor(sentence_ids)
        present = sorted({s for s in sentence_ids if s >= 0})
        p = {s: torch.softmax(weight @ tokens[sid == s].mean(dim=0) + bias, dim=-1)[1].item() for s in present}
        margin = min(margin, *(min(abs(v - 0.5), abs(v - 0.05)) for v in p.values()))
        keep = [s for s in present if p[s] >= 0.5]
        rule = "threshold"
        if not keep:
            best = max(present, key=lambda s: p[s])
            rule = "backoff" if p[best] >= 0.05 else "none"
            keep = [best] if p[best] >= 0.05 else []
        rules.append(rule)
        chosen.update(keep)
    return sorted(chosen), rules, margin


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from modelnode.artifacts.build_highlighter import build_highlighter

    root = tmp_path_factory.mktemp("real")
    folder = make_bert_folder(root / "bert", seed=SEED, bias=BIAS)
    silent = make_bert_folder(root / "silent", seed=SEED, bias=8.0)  # p(relevant) < 0.05 everywhere
    deployed: dict[str, Any] = {"folder": folder, "silent_folder": silent}
    for key, source, dynamic in (("batched", folder, True), ("one_chunk", folder, False), ("silent", silent, True)):
        built = build_highlighter(
            source,
            root / f"{key}-repo",
            name=HIGHLIGHTER,
            version="1.0.0",
            token_max_length=MAX_LENGTH,
            token_overlap_stride=STRIDE,
            dynamic_batch=dynamic,
        )
        deployed[key] = deploy(built, root / key)
    yield deployed
    for key in ("batched", "one_chunk", "silent"):
        deployed[key].close()


@pytest.mark.parametrize("variant", ["batched", "one_chunk"])
def test_real_architecture_matches_the_formula(real: dict[str, Any], variant: str) -> None:
    expected, rules, margin = reference(real["folder"], QUESTION, CONTEXT)
    assert len(rules) >= 3 and {"threshold", "backoff"} <= set(rules)  # the test exercises both rules
    assert margin > 1e-3  # no probability so close to a threshold that float noise could flip it
    model = real[variant]
    found = predict(model, QUESTION, CONTEXT)
    assert [h["position"] for h in found] == expected
    for h in found:
        assert CONTEXT[h["start"] : h["end"]] == h["text"] == SENTENCES[h["position"]]
    # The batched artifact ran its (unequal) chunks as one padded batch; the one-chunk trace
    # (as opensearch-py-ml traces the published model) runs them one by one.
    assert model.kind.batched is (variant == "batched")


def test_real_architecture_short_context_is_one_chunk(real: dict[str, Any]) -> None:
    context = " ".join(SENTENCES[:3])
    expected, rules, _ = reference(real["folder"], QUESTION, context)
    assert len(rules) == 1
    assert [h["position"] for h in predict(real["one_chunk"], QUESTION, context)] == expected


def test_real_architecture_can_select_nothing(real: dict[str, Any]) -> None:
    expected, rules, _ = reference(real["silent_folder"], QUESTION, CONTEXT)
    assert expected == [] and set(rules) == {"none"}
    assert predict(real["silent"], QUESTION, CONTEXT) == []
