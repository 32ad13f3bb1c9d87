"""TEXT_EMBEDDING through ``runtime.load`` with the fake backend: real tokenizer, pooling, batching
and output shapes around a hash "network"."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode import errors
from modelnode.runtime import ModelSpec, ModelTensors, TextDocsInput, load, pooling
from modelnode.runtime.backends.fake import token_vectors
from modelnode.runtime.kinds.text_embedding import ASYMMETRIC_NEEDS_CONTENT_TYPE, SYMMETRIC_GOT_CONTENT_TYPE
from modelnode.runtime.loader import BatchedModel
from modelnode.runtime.tokenize import HFTokenizer

DIM = 8
CONFIG = {"embedding_dimension": DIM, "pooling_mode": "MEAN", "normalize_result": True}
ASYMMETRIC = {**CONFIG, "query_prefix": "query : ", "passage_prefix": "passage : "}


@pytest.fixture
def deploy(artifact_dir: Path) -> Iterator[Any]:
    models: list[BatchedModel] = []

    def deploy_(model_config: Mapping[str, Any] = CONFIG, model_format: str = "ONNX", **spec: Any) -> BatchedModel:
        spec.setdefault("backend", "fake")
        model = load(ModelSpec(artifact_dir, model_format, "TEXT_EMBEDDING", model_config, **spec))
        models.append(model)  # type: ignore[arg-type]
        return model  # type: ignore[return-value]

    yield deploy_
    for model in models:
        model.close()


def predict(model: Any, *texts: str, content_type: str | None = None) -> list[ModelTensors]:
    return asyncio.run(model.predict(TextDocsInput(tuple(texts), content_type)))


def embedding(model: Any, text: str, content_type: str | None = None) -> np.ndarray:
    return predict(model, text, content_type=content_type)[0][-1].data


def test_onnx_returns_one_pooled_normalised_tensor_per_doc(deploy, artifact_dir: Path) -> None:
    out = predict(deploy(), "today is sunny", "hello")
    assert len(out) == 2
    for tensors in out:
        assert [t.name for t in tensors] == ["sentence_embedding"]
        assert tensors[0].data.shape == (DIM,)
        assert tensors[0].data_type == "FLOAT32"
        assert np.linalg.norm(tensors[0].data) == pytest.approx(1.0, abs=1e-6)
    # The pipeline is real: mean of the doc's token vectors (no pads), normalised.
    ids = HFTokenizer(artifact_dir / "tokenizer.json")(["today is sunny"])["input_ids"]
    expected = pooling.l2_normalize(token_vectors(ids, DIM).mean(axis=1))[0]
    np.testing.assert_allclose(out[0][0].data, expected, rtol=1e-6, atol=1e-7)


def test_torchscript_sentence_transformers_returns_four_tensors_cut_to_each_doc(deploy) -> None:
    out = predict(deploy(model_format="TORCH_SCRIPT"), "today is sunny", "hello")
    for tensors, seq in zip(out, (5, 3), strict=True):  # [CLS] ... [SEP], no batch padding
        assert [(t.name, t.data.shape, t.data_type) for t in tensors] == [
            ("input_ids", (seq,), "INT64"),
            ("attention_mask", (seq,), "INT64"),
            ("token_embeddings", (seq, DIM), "FLOAT32"),
            ("sentence_embedding", (DIM,), "FLOAT32"),
        ]
        assert tensors[1].data.all()


def test_torchscript_huggingface_transformers_is_pooled_like_onnx(deploy) -> None:
    config = {**CONFIG, "framework_type": "huggingface_transformers"}
    hf = embedding(deploy(config, model_format="TORCH_SCRIPT"), "today is sunny")
    np.testing.assert_allclose(hf, embedding(deploy(), "today is sunny"), rtol=1e-6)


def test_normalize_result_false_keeps_the_raw_pool(deploy) -> None:
    raw = embedding(deploy({**CONFIG, "normalize_result": False}), "today is sunny")
    assert np.linalg.norm(raw) != pytest.approx(1.0)


@pytest.mark.parametrize("model_format", ["ONNX", "TORCH_SCRIPT"])
def test_a_doc_gives_the_same_vector_alone_and_in_a_padded_batch(deploy, model_format: str) -> None:
    model = deploy(model_format=model_format)
    texts = ["hello", "today is sunny it is a bright day", "the stock market fell", "world"]
    batch = [tensors[-1].data for tensors in predict(model, *texts)]
    for text, vector in zip(texts, batch, strict=True):
        np.testing.assert_allclose(vector, embedding(model, text), atol=1e-6)


def test_many_docs_are_chunked_and_come_back_in_order(deploy) -> None:
    model = deploy()
    texts = [" ".join(["long"] * (i % 7) + ["hello"]) for i in range(100)]  # > max_batch_docs, mixed lengths
    out = predict(model, *texts)
    singles = {t: embedding(model, t) for t in set(texts)}
    for text, tensors in zip(texts, out, strict=True):
        np.testing.assert_allclose(tensors[0].data, singles[text], atol=1e-6)


def test_empty_request_returns_nothing(deploy) -> None:
    assert predict(deploy()) == []


def test_asymmetric_model_requires_a_content_type(deploy) -> None:
    with pytest.raises(errors.IllegalArgument) as info:
        predict(deploy(ASYMMETRIC), "today is sunny")
    assert info.value.reason == ASYMMETRIC_NEEDS_CONTENT_TYPE
    assert info.value.status == 400


def test_symmetric_model_refuses_a_content_type(deploy) -> None:
    with pytest.raises(errors.IllegalArgument) as info:
        predict(deploy(), "today is sunny", content_type="query")
    assert info.value.reason == SYMMETRIC_GOT_CONTENT_TYPE


def test_unknown_content_type_is_refused(deploy) -> None:
    with pytest.raises(errors.IllegalArgument, match="QUERY"):
        predict(deploy(ASYMMETRIC), "today is sunny", content_type="document")


def test_prefixes_are_prepended_per_content_type(deploy) -> None:
    asym, sym = deploy(ASYMMETRIC), deploy()
    for content_type, prefix in (("query", "query : "), ("PASSAGE", "passage : ")):
        np.testing.assert_allclose(
            embedding(asym, "today is sunny", content_type), embedding(sym, prefix + "today is sunny"), atol=1e-6
        )


def test_a_missing_prefix_means_no_prefix(deploy) -> None:
    only_passage = deploy({**CONFIG, "passage_prefix": "passage : "})
    np.testing.assert_allclose(
        embedding(only_passage, "today is sunny", "query"), embedding(deploy(), "today is sunny"), atol=1e-6
    )


def test_non_string_docs_are_refused(deploy) -> None:
    with pytest.raises(errors.IllegalArgument, match="strings"):
        asyncio.run(deploy().predict(TextDocsInput((None,))))  # type: ignore[arg-type]


def test_closed_model_is_unhealthy_and_refuses_predicts(deploy) -> None:
    model = deploy()
    assert model.healthy
    model.close()
    assert not model.healthy
    with pytest.raises(errors.ServiceUnavailable):
        predict(model, "today is sunny")


def test_fake_backend_without_tokenizer_json_uses_the_hash_tokenizer(tmp_path: Path) -> None:
    model = load(ModelSpec(tmp_path, "ONNX", "TEXT_EMBEDDING", CONFIG, backend="fake"))
    try:
        assert embedding(model, "Today is sunny").shape == (DIM,)
    finally:
        model.close()


# --- load errors ---------------------------------------------------------------------------------


def spec(folder: Path, model_format: str = "ONNX", **kw: Any) -> ModelSpec:
    return ModelSpec(folder, model_format, kw.pop("function_name", "TEXT_EMBEDDING"), kw.pop("config", CONFIG), **kw)


def test_unsupported_function_is_named(artifact_dir: Path) -> None:
    with pytest.raises(errors.IllegalArgument, match="METRICS_CORRELATION"):
        load(spec(artifact_dir, function_name="METRICS_CORRELATION"))


def test_missing_model_file(artifact_dir: Path) -> None:
    with pytest.raises(errors.ModelLoadError, match=r"no \.pt model file"):
        load(spec(artifact_dir, "TORCH_SCRIPT"))


def test_two_model_files(artifact_dir: Path) -> None:
    (artifact_dir / "other.onnx").write_bytes(b"x")
    with pytest.raises(errors.ModelLoadError, match="multiple models"):
        load(spec(artifact_dir))


def test_missing_tokenizer(artifact_dir: Path) -> None:
    (artifact_dir / "tokenizer.json").unlink()
    with pytest.raises(errors.ModelLoadError, match=r"tokenizer\.json"):
        load(spec(artifact_dir))


def test_corrupt_onnx_file(artifact_dir: Path) -> None:
    with pytest.raises(errors.ModelLoadError, match="Failed to load the ONNX model"):
        load(spec(artifact_dir))


def test_unknown_pooling_mode(artifact_dir: Path) -> None:
    with pytest.raises(errors.ModelLoadError, match="pooling_mode"):
        load(spec(artifact_dir, config={"pooling_mode": "MEDIAN"}, backend="fake"))


def test_torchscript_without_torch_asks_for_the_extra(artifact_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (artifact_dir / "model.pt").write_bytes(b"placeholder")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(errors.MissingDependency, match=r"pip install 'modelnode\[torch\]'"):
        load(spec(artifact_dir, "TORCH_SCRIPT"))


def test_cuda_without_a_cuda_onnxruntime_says_what_to_install(artifact_dir: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime here has CUDA")
    with pytest.raises(errors.MissingDependency, match="onnxruntime-gpu"):
        load(spec(artifact_dir, device="cuda:0"))
