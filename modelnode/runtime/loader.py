"""``load(spec)``: artifact folder -> tokenizer + backend + kind -> warm-up -> batched model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelnode import errors
from modelnode.runtime.api import ModelSpec, PredictInput, TextDocsInput
from modelnode.runtime.backends import Backend
from modelnode.runtime.batcher import BatchConfig, Batcher
from modelnode.runtime.kinds import Kind
from modelnode.runtime.kinds.highlighter import question_answering_factory
from modelnode.runtime.kinds.sparse import sparse_encoding_factory, sparse_tokenize_factory
from modelnode.runtime.kinds.text_embedding import text_embedding_factory
from modelnode.runtime.kinds.text_similarity import text_similarity_factory
from modelnode.runtime.tensors import ModelTensors
from modelnode.runtime.tokenize import HashTokenizer, HFTokenizer

if TYPE_CHECKING:
    from tokenizers import Tokenizer as RawTokenizer

log = logging.getLogger(__name__)

_MODEL_SUFFIX = {"ONNX": ".onnx", "TORCH_SCRIPT": ".pt"}


class BatchedModel:
    """A deployed model: predictions go through its batcher and worker thread."""

    def __init__(self, function_name: str, kind: Kind[Any], batching: BatchConfig | None = None) -> None:
        self.function_name = function_name
        self.kind = kind
        self.batcher = Batcher(kind, batching, name=function_name.lower())

    @property
    def healthy(self) -> bool:
        return self.batcher.alive

    async def predict(self, inp: PredictInput) -> list[ModelTensors]:
        if isinstance(inp, TextDocsInput) and not inp.text_docs:
            self.kind.validate(inp)
            return []
        return await self.batcher.submit(inp)

    def close(self) -> None:
        self.batcher.close()


@dataclass
class LoadContext:
    """What a kind factory may ask for; each part is made on first use, so a kind without a
    network (SPARSE_TOKENIZE) never looks for a model file."""

    spec: ModelSpec
    model_format: str
    _backend: Backend | None = None
    _hf_tokenizer: RawTokenizer | None = field(default=None, repr=False)

    @property
    def model_config(self) -> Mapping[str, Any]:
        return self.spec.model_config

    @property
    def fake(self) -> bool:
        return self.spec.backend == "fake"

    def tokenizer(self) -> HFTokenizer | HashTokenizer:
        max_length = self.spec.model_config.get("model_max_length")
        if self.fake and self.file("tokenizer.json") is None:
            return HashTokenizer(max_length=max_length)
        return HFTokenizer(self.hf_tokenizer(), model_max_length=max_length)

    def hf_tokenizer(self) -> RawTokenizer:
        """The artifact's tokenizer.json as a raw ``tokenizers.Tokenizer``, parsed once per load.

        Shared: ``tokenizer()`` hands this object to ``HFTokenizer``, which resets its padding and
        truncation (not its vocabulary or decoding); a kind needing other settings takes a copy."""
        if self._hf_tokenizer is None:
            path = self.file("tokenizer.json")
            if path is None:
                raise errors.ModelLoadError(f"the artifact has no tokenizer.json (looked in {self.spec.artifact_dir})")
            from tokenizers import Tokenizer as _HF

            self._hf_tokenizer = _HF.from_file(str(path))
        return self._hf_tokenizer

    def file(self, name: str) -> Path | None:
        path = Path(self.spec.artifact_dir) / name
        return path if path.is_file() else None

    def backend(self, fake: Callable[[], Backend]) -> Backend:
        """The network: onnxruntime or torch by model_format, or ``fake()`` with the fake backend."""
        if self._backend is None:
            self._backend = fake() if self.fake else _real_backend(self.spec, self.model_format)
        return self._backend

    def close(self) -> None:
        _close_quietly(self._backend)


# function_name -> factory(ctx) -> (kind, warm-up input). Each kind module owns its factory.
KindFactory = Callable[[LoadContext], tuple[Kind[Any], PredictInput]]


KINDS: dict[str, KindFactory] = {
    "TEXT_EMBEDDING": text_embedding_factory,
    "SPARSE_ENCODING": sparse_encoding_factory,
    "SPARSE_TOKENIZE": sparse_tokenize_factory,
    "TEXT_SIMILARITY": text_similarity_factory,
    "QUESTION_ANSWERING": question_answering_factory,
}


def load(spec: ModelSpec, *, batching: BatchConfig | None = None) -> BatchedModel:
    function_name = spec.function_name.upper()
    factory = KINDS.get(function_name)
    if factory is None:
        raise errors.IllegalArgument(
            f"function_name [{spec.function_name}] cannot be deployed by this runtime; supported: {', '.join(KINDS)}"
        )
    model_format = spec.model_format.upper()
    if model_format not in _MODEL_SUFFIX:
        raise errors.IllegalArgument(f"model_format [{spec.model_format}] is not ONNX or TORCH_SCRIPT")
    if spec.backend not in ("auto", "fake"):
        raise errors.IllegalArgument(f"unknown inference backend [{spec.backend}]; use auto or fake")

    ctx = LoadContext(spec, model_format)
    try:
        kind, warmup = factory(ctx)
        kind.run([warmup])  # run, not validate: the warm-up of an asymmetric model has no content_type
    except (errors.MissingDependency, errors.ModelLoadError, errors.IllegalArgument):
        ctx.close()
        raise
    except Exception as exc:
        ctx.close()
        raise errors.ModelLoadError(f"Failed to load the {model_format} model for {function_name}: {exc}") from exc
    log.info("loaded %s %s model from %s (backend %s)", model_format, function_name, spec.artifact_dir, spec.backend)
    return BatchedModel(function_name, kind, batching)


def _real_backend(spec: ModelSpec, model_format: str) -> Backend:
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
