"""The runtime's public types. Implementation lives in backends/, kinds/, batcher.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelnode.runtime.tensors import ModelTensors


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a model; nothing here needs the network."""

    artifact_dir: Path  # the unpacked, verified zip: one .pt/.onnx (or none), tokenizer.json, ...
    model_format: str  # "TORCH_SCRIPT" | "ONNX"
    function_name: str  # "TEXT_EMBEDDING", ...
    model_config: Mapping[str, Any] = field(default_factory=dict)  # ML Commons model_config
    backend: str = "auto"  # "auto" picks by model_format; "fake" = deterministic test network
    device: str = "cpu"


@dataclass(frozen=True)
class TextDocsInput:
    """TEXT_EMBEDDING / SPARSE_* input (ML Commons' TextDocsMLInput)."""

    text_docs: tuple[str, ...]
    content_type: str | None = None  # "query" | "passage" for asymmetric models
    # SPARSE_*: key the weights by token text ("WORD", ML Commons' default) or id ("TOKEN_ID").
    sparse_embedding_format: str = "WORD"


@dataclass(frozen=True)
class TextSimilarityInput:
    """TEXT_SIMILARITY (cross-encoder) input: one query scored against each doc."""

    query_text: str
    text_docs: tuple[str, ...]


@dataclass(frozen=True)
class QuestionAnsweringInput:
    """QUESTION_ANSWERING input; with model_type sentence_highlighting, the semantic highlighter."""

    question: str
    context: str


PredictInput = TextDocsInput | TextSimilarityInput | QuestionAnsweringInput


class DeployedModel(Protocol):
    function_name: str

    @property
    def healthy(self) -> bool:
        """False once closed or if its inference worker died (``/health`` reports it)."""
        ...

    async def predict(self, inp: PredictInput) -> list[ModelTensors]: ...

    def close(self) -> None: ...


def load(spec: ModelSpec) -> DeployedModel:
    """Blocking (run it in a worker thread): load the artifact, warm it up, start its batcher.

    Raises ``IllegalArgument`` for a function/format this runtime cannot serve, ``MissingDependency``
    when an optional extra (torch) is needed, ``ModelLoadError`` for anything else that fails.
    """
    from modelnode.runtime import loader  # the implementation imports these types

    return loader.load(spec)
