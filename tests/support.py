"""Test helpers: where shared data lives, a fake-artifact repository, polling helpers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from modelnode import catalog

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MODELNODE_SHARED", REPO_ROOT.parent / "shared"))
BERT_IDF_ZIP = SHARED / "models" / "opensearch-bert-uncased-idf.zip"

MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"


def bert_tokenizer_json() -> bytes:
    with zipfile.ZipFile(BERT_IDF_ZIP) as z:
        return z.read("tokenizer.json")


def fake_artifact_zip(model_format: str, *, stem: str = "model", extra: dict[str, bytes] | None = None) -> bytes:
    """A structurally valid artifact whose model file is a placeholder: the fake backend never
    reads it, while tokenizer.json is bert-base-uncased's real one."""
    ext = ".pt" if model_format == "TORCH_SCRIPT" else ".onnx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(stem + ext, b"placeholder weights for the fake backend")
        z.writestr("tokenizer.json", bert_tokenizer_json())
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def text_embedding_config(
    name: str,
    version: str,
    model_format: str,
    data: bytes,
    *,
    dim: int = 384,
    pooling: str = "MEAN",
    normalize: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "description": "fake artifact for contract tests",
        "model_format": model_format,
        "function_name": "TEXT_EMBEDDING",
        "model_content_size_in_bytes": len(data),
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
        "model_config": {
            "model_type": "bert",
            "embedding_dimension": dim,
            "framework_type": "sentence_transformers",
            "pooling_mode": pooling,
            "normalize_result": normalize,
            "all_config": json.dumps({"model_type": "bert", "hidden_size": dim}),
            "additional_config": {"space_type": "l2"},
        },
    }


def publish(root: Path, name: str, version: str, model_format: str, data: bytes, config: dict[str, Any]) -> None:
    """Lay an artifact out as the official host does."""
    folder = root / name / version / model_format.lower()
    folder.mkdir(parents=True, exist_ok=True)
    entry = catalog.find(name)
    stem = (
        entry.artifact_stem(version, model_format)
        if entry
        else f"{name.split('/', 1)[1].replace('/', '_')}-{version}-{model_format.lower()}"
    )
    (folder / f"{stem}.zip").write_bytes(data)
    (folder / "config.json").write_text(json.dumps(config))


SPARSE = "amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-distill"
SPARSE_TOKENIZER = "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1"
CROSS_ENCODER = "huggingface/cross-encoders/ms-marco-MiniLM-L-6-v2"
HIGHLIGHTER = "amazon/sentence-highlighting/opensearch-semantic-highlighter-v1"


def plain_config(
    name: str,
    version: str,
    model_format: str,
    function_name: str,
    data: bytes,
    model_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": "fake artifact for contract tests",
        "model_format": model_format,
        "function_name": function_name,
        "model_content_size_in_bytes": len(data),
        "model_content_hash_value": hashlib.sha256(data).hexdigest(),
    }
    if model_config is not None:
        config["model_config"] = model_config
    return config


def build_fake_repository(root: Path) -> Path:
    """One model of each kind, with placeholder networks (the fake backend) and real tokenizers.
    The sparse tokenizer is real through and through: it has no network."""
    for version in ("1.0.1", "1.0.2"):
        for fmt in ("TORCH_SCRIPT", "ONNX"):
            data = fake_artifact_zip(fmt)
            publish(root, MINILM, version, fmt, data, text_embedding_config(MINILM, version, fmt, data))
    data = fake_artifact_zip("TORCH_SCRIPT")
    publish(
        root,
        SPARSE,
        "1.0.0",
        "TORCH_SCRIPT",
        data,
        plain_config(SPARSE, "1.0.0", "TORCH_SCRIPT", "SPARSE_ENCODING", data),
    )
    data = BERT_IDF_ZIP.read_bytes()
    publish(
        root,
        SPARSE_TOKENIZER,
        "1.0.1",
        "TORCH_SCRIPT",
        data,
        plain_config(SPARSE_TOKENIZER, "1.0.1", "TORCH_SCRIPT", "SPARSE_TOKENIZE", data),
    )
    for fmt in ("TORCH_SCRIPT", "ONNX"):
        data = fake_artifact_zip(fmt)
        publish(
            root, CROSS_ENCODER, "1.0.2", fmt, data, plain_config(CROSS_ENCODER, "1.0.2", fmt, "TEXT_SIMILARITY", data)
        )
    data = fake_artifact_zip("TORCH_SCRIPT")
    publish(
        root,
        HIGHLIGHTER,
        "1.0.0",
        "TORCH_SCRIPT",
        data,
        plain_config(
            HIGHLIGHTER,
            "1.0.0",
            "TORCH_SCRIPT",
            "QUESTION_ANSWERING",
            data,
            {"model_type": "sentence_highlighting", "framework_type": "huggingface_transformers"},
        ),
    )
    return root


def wait_task(client: Any, task_id: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Poll GET task until it leaves CREATED/RUNNING, as opensearch-py-ml does."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/_plugins/_ml/tasks/{task_id}")
        assert r.status_code == 200, r.text
        task = r.json()
        if task["state"] not in ("CREATED", "RUNNING"):
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {task['state']} after {timeout}s")
        time.sleep(0.02)


def wait_model_state(client: Any, model_id: str, states: tuple[str, ...], *, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        model = client.get(f"/_plugins/_ml/models/{model_id}").json()
        if model.get("model_state") in states:
            return model
        if time.monotonic() > deadline:
            raise AssertionError(f"model {model_id} is {model.get('model_state')}, wanted {states}")
        time.sleep(0.02)


def assert_error(response: Any, status: int, error_type: str | None = None, reason_part: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    err = body["error"]
    assert err["root_cause"][0]["type"] == err["type"]
    assert err["root_cause"][0]["reason"] == err["reason"]
    if error_type is not None:
        assert err["type"] == error_type, body
    if reason_part is not None:
        assert reason_part in err["reason"], body
