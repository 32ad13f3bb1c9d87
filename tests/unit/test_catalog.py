from __future__ import annotations

import pytest

from modelnode import catalog
from modelnode.catalog import FunctionName, ModelFormat, PretrainedModel


def test_catalog_has_the_24_seed_models() -> None:
    counts: dict[FunctionName, int] = {}
    for m in catalog.CATALOG:
        counts[m.function_name] = counts.get(m.function_name, 0) + 1
    assert counts == {
        FunctionName.TEXT_EMBEDDING: 11,
        FunctionName.SPARSE_ENCODING: 8,
        FunctionName.SPARSE_TOKENIZE: 2,
        FunctionName.TEXT_SIMILARITY: 2,
        FunctionName.QUESTION_ANSWERING: 1,
    }


def test_lookup_follows_the_pretrained_list() -> None:
    name = "huggingface/sentence-transformers/all-MiniLM-L6-v2"
    assert catalog.lookup(name, "1.0.2", "TORCH_SCRIPT") is not None
    assert catalog.lookup(name, "1.0.2", "onnx") is not None  # format is case-insensitive
    assert catalog.lookup(name, "1.0.3", "ONNX") is None
    distiluse = "huggingface/sentence-transformers/distiluse-base-multilingual-cased-v1"
    assert catalog.lookup(distiluse, "1.0.2", "ONNX") is None  # TorchScript only
    tas_b = catalog.find("huggingface/sentence-transformers/msmarco-distilbert-base-tas-b")
    assert tas_b is not None and tas_b.pooling_mode == "CLS" and tas_b.normalize_result is False
    assert tas_b.space_type == "innerproduct" and tas_b.latest_version == "1.0.3"


def test_artifact_stem_matches_ml_commons() -> None:
    entry = catalog.find("huggingface/sentence-transformers/all-MiniLM-L6-v2")
    assert entry is not None
    assert entry.artifact_stem("1.0.2", "TORCH_SCRIPT") == "sentence-transformers_all-MiniLM-L6-v2-1.0.2-torch_script"
    sparse = catalog.find("amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v3-gte")
    assert sparse is not None and sparse.sparse_prune_ratio == 0.1
    assert (
        sparse.artifact_stem("1.0.0", "TORCH_SCRIPT")
        == "neural-sparse_opensearch-neural-sparse-encoding-doc-v3-gte-1.0.0-torch_script"
    )


def test_entries_are_validated_on_construction() -> None:
    with pytest.raises(ValueError, match="dimension"):
        PretrainedModel("x", ("1",), (ModelFormat.ONNX,), FunctionName.TEXT_EMBEDDING)
    with pytest.raises(ValueError, match="empty"):
        PretrainedModel("x", (), (ModelFormat.ONNX,), FunctionName.SPARSE_ENCODING)


def test_listing_has_the_official_shape() -> None:
    listing = catalog.listing()
    assert len(listing) == 24
    first = listing[0]
    assert set(first) >= {"name", "version", "format"}
    assert all(f in ("torch_script", "onnx") for e in listing for f in e["format"])
