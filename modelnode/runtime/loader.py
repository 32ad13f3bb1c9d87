"""``load(spec)``: artifact folder -> tokenizer + backend + kind -> warm-up -> batched model."""

from __future__ import annotations

import logging
from pathlib import Path

from modelnode import errors
from modelnode.runtime.api import ModelSpec, TextDocsInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.batcher import BatchConfig, Batcher
from modelnode.runtime.kinds import Kind
from modelnode.runtime.kinds.text_embedding import TextEmbedding
from modelnode.runtime.tensors import ModelTensors
from modelnode.runtime.tokenize import HashTokenizer, HFTokenizer, Tokenizer

log = logging.getLogger(__name__)

SUPPORTED_FUNCTIONS = ("TEXT_EMBEDDING",)
_MODEL_SUFFIX = {"ONNX": ".onnx", "TORCH_SCRIPT": ".pt"}


class BatchedModel:
    """A deployed model: predictions go through its batcher and worker thread."""

    def __init__(self, function_name: str, kind: Kind[TextDocsInput], batching: BatchConfig | None = None) -> None:
        self.function_name = function_name
        self.kind = kind
        self.batcher = Batcher(kind, batching, name=function_name.lower())

    @property
    def healthy(self) -> bool:
        return self.batcher.alive

    async def predict(self, inp: TextDocsInput) -> list[ModelTensors]:
        if not inp.text_docs:
            self.kind.validate(inp)
            return []
        return await self.batcher.submit(inp)

    def close(self) -> None:
        self.batcher.close()


def load(spec: ModelSpec, *, batching: BatchConfig | None = None) -> BatchedModel:
    function_name = spec.function_name.upper()
    if function_name not in SUPPORTED_FUNCTIONS:
        raise errors.IllegalArgument(
            f"function_name [{spec.function_name}] cannot be deployed by this runtime yet; "
            f"supported: {', '.join(SUPPORTED_FUNCTIONS)}"
        )
    model_format = spec.model_format.upper()
    if model_format not in _MODEL_SUFFIX:
        raise errors.IllegalArgument(f"model_format [{spec.model_format}] is not ONNX or TORCH_SCRIPT")
    if spec.backend not in ("auto", "fake"):
        raise errors.IllegalArgument(f"unknown inference backend [{spec.backend}]; use auto or fake")

    backend: Backend | None = None
    try:
        tokenizer = _tokenizer(spec)
        backend = _backend(spec, model_format)
        kind = TextEmbedding(tokenizer, backend, model_format=model_format, model_config=spec.model_config)
        max_length = spec.model_config.get("model_max_length")
        # ML Commons warms up with a full-length input when it knows the length.
        kind.run([TextDocsInput(("sentence " * int(max_length) if max_length else "warm up sentence",))])
    except (errors.MissingDependency, errors.ModelLoadError):
        _close_quietly(backend)
        raise
    except Exception as exc:
        _close_quietly(backend)
        raise errors.ModelLoadError(f"Failed to load the {model_format} model: {exc}") from exc
    log.info("loaded %s %s model from %s (backend %s)", model_format, function_name, spec.artifact_dir, spec.backend)
    return BatchedModel(function_name, kind, batching)


def _tokenizer(spec: ModelSpec) -> Tokenizer:
    path = Path(spec.artifact_dir) / "tokenizer.json"
    max_length = spec.model_config.get("model_max_length")
    if path.is_file():
        return HFTokenizer(path, model_max_length=max_length)
    if spec.backend == "fake":
        return HashTokenizer(max_length=max_length)
    raise errors.ModelLoadError(f"the artifact has no tokenizer.json (looked in {spec.artifact_dir})")


def _backend(spec: ModelSpec, model_format: str) -> Backend:
    framework = str(spec.model_config.get("framework_type") or "SENTENCE_TRANSFORMERS").upper()
    if spec.backend == "fake":
        from modelnode.runtime.backends.fake import FakeBackend

        st_dict = model_format == "TORCH_SCRIPT" and framework != "HUGGINGFACE_TRANSFORMERS"
        return FakeBackend(spec.model_config, sentence_transformers_dict=st_dict)
    model_path = find_model_file(Path(spec.artifact_dir), model_format)
    if model_format == "ONNX":
        from modelnode.runtime.backends.onnx import OnnxBackend

        return OnnxBackend(model_path, device=spec.device)
    from modelnode.runtime.backends.torchscript import TorchScriptBackend

    return TorchScriptBackend(model_path, device=spec.device)


def find_model_file(artifact_dir: Path, model_format: str) -> Path:
    """The single ``.onnx``/``.pt`` at the top of the artifact folder, as ML Commons requires."""
    suffix = _MODEL_SUFFIX[model_format]
    if not artifact_dir.is_dir():
        raise errors.ModelLoadError(f"artifact folder {artifact_dir} does not exist")
    found = sorted(p for p in artifact_dir.iterdir() if p.is_file() and p.suffix.lower() == suffix)
    if not found:
        raise errors.ModelLoadError(f"the artifact has no {suffix} model file for model_format {model_format}")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise errors.ModelLoadError(f"found multiple models in the artifact ({names}); expected exactly one {suffix}")
    return found[0]


def _close_quietly(backend: Backend | None) -> None:
    if backend is not None:
        try:
            backend.close()
        except Exception:  # the load error is the one to report
            log.debug("closing a half-loaded backend failed", exc_info=True)
