"""Build ML Commons semantic-highlighter (QUESTION_ANSWERING) artifacts. TORCH_SCRIPT only, as
opensearch-py-ml's ``SemanticHighlighterModel``.

Two kinds of source:

- a ready TorchScript zip (ML Commons' toy test highlighter, ``../shared/models``): repackaged
  as it is, model file renamed ``<model>.pt``; the token limits in its own config.json
  (``token_max_length``, ``token_overlap_stride``, ...) move into config.json's ``all_config``.
- a Hugging Face BERT folder (config.json + model.safetensors + tokenizer.json): BERT with the
  highlighter head, traced. The head is opensearch-py-ml's: token states -> per-sentence mean
  (tokens grouped by ``sentence_ids``, -100 ignored, ids taken relative to the row's smallest)
  -> linear 2-class -> softmax -> keep sentences with p >= 0.5, else the most likely one if its
  p >= 0.05 -> the kept sentence ids (plus the row's offset). Weights under ``bert.`` and
  ``classifier.`` (the layout of the published checkpoint) or a bare BERT (the classifier is
  then initialised from ``seed``).

The traced module takes ``input_ids, attention_mask, token_type_ids, sentence_ids`` (positional)
and returns one index tensor per row. With ``dynamic_batch=False`` (the default, as
opensearch-py-ml) it is traced with one chunk and returns a 1-tuple, so it only serves one chunk
per call, as the published artifact; with ``dynamic_batch=True`` it returns a list as long as the
batch, so the runtime can batch chunks.

Zip: ``<model>.pt`` + the tokenizer files (``tokenizer.json`` with truncation and padding removed:
the runtime sets its own) + ``LICENSE`` when the source has one. config.json: ``function_name:
QUESTION_ANSWERING``, ``model_config: {model_type: sentence_highlighting, framework_type:
huggingface_transformers[, all_config]}``.

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
    BuiltArtifact,
    WeightSource,
    _deterministic_zip,
    _dump_config,
    _on_fresh_thread,
)
from modelnode.artifacts.repository import artifact_stem

FUNCTION_NAME = "QUESTION_ANSWERING"
MODEL_FORMAT = "TORCH_SCRIPT"
MODEL_TYPE = "sentence_highlighting"
HIGHLIGHTER = "amazon/sentence-highlighting/opensearch-semantic-highlighter-v1"
DESCRIPTION = "A semantic highlighter model that identifies relevant sentences in a document given a query."
IGNORE = -100

SOURCES: dict[str, WeightSource] = {
    HIGHLIGHTER: WeightSource(
        None,
        "models/tiny-sentence-highlighter-torchscript.zip",
        marker="",
        stand_in="ML Commons' toy test highlighter (selects the first two sentences); the interface is real, "
        "the relevance is not",
    ),
}
# Keys of a toy zip's config.json that are tokenization settings (ML Commons' QAConstants).
_ALL_CONFIG_KEYS = ("token_max_length", "token_overlap_stride", "with_overflowing_tokens", "padding")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
# A question and a context of a few sentences of different lengths, for tracing.
_TRACE_QUESTION = "Which river runs through the old town?"
_TRACE_SENTENCES = (
    "The old town sits on a hill.",
    "A narrow river runs through it, under seven bridges.",
    "Markets open on Saturdays.",
)


# --- entry points ---------------------------------------------------------------------------------


def build_kind(
    source: Path, out_dir: Path, *, entry: catalog.PretrainedModel, version: str, model_format: str
) -> BuiltArtifact:
    """QUESTION_ANSWERING's entry point for ``build_repository``."""
    weight_source = SOURCES.get(entry.name)
    note = f"Weights: {weight_source.stand_in}." if weight_source and weight_source.stand_in else None
    description = " ".join(d for d in (entry.description or DESCRIPTION, note) if d)
    if model_format.upper() != MODEL_FORMAT:
        raise errors.IllegalArgument(f"the semantic highlighter is built as TORCH_SCRIPT only, not {model_format}")
    if Path(source).is_file():
        return repackage_zip(source, out_dir, name=entry.name, version=version, description=description)
    return build_highlighter(source, out_dir, name=entry.name, version=version, description=description)


def repackage_zip(
    source_zip: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    description: str = DESCRIPTION,
) -> BuiltArtifact:
    """A ready TorchScript highlighter zip (one ``.pt``, tokenizer files, optional config.json
    with token limits) in the official layout."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source_zip) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        models = [n for n in names if n.lower().endswith(".pt")]
        if len(models) != 1:
            raise errors.IllegalArgument(f"{source_zip} must hold exactly one .pt model file, found {models}")
        if "tokenizer.json" not in names:
            raise errors.IllegalArgument(f"{source_zip} has no tokenizer.json")
        entries: list[tuple[str, Path | bytes]] = [(f"{_model_stem(name)}.pt", zf.read(models[0]))]
        entries += [(f, zf.read(f)) for f in (*_TOKENIZER_FILES, "LICENSE") if f in names]
        inner = json.loads(zf.read("config.json")) if "config.json" in names else {}
    all_config = {k: inner[k] for k in _ALL_CONFIG_KEYS if k in inner}
    zip_path = out / f"{artifact_stem(name, version, MODEL_FORMAT)}.zip"
    _deterministic_zip(zip_path, entries)
    return _write_config(zip_path, out / "config.json", name, version, description, all_config)


def build_highlighter(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    description: str = DESCRIPTION,
    token_max_length: int | None = None,
    token_overlap_stride: int | None = None,
    dynamic_batch: bool = False,
    seed: int = 0,
) -> BuiltArtifact:
    """Trace BERT + the highlighter head from a Hugging Face BERT folder (see the module doc).
    ``token_max_length``/``token_overlap_stride`` go into ``all_config`` when given (the runtime's
    defaults are ML Commons': 512/128)."""
    source, out = Path(source_dir), Path(out_dir)
    if not (source / "config.json").is_file() or not (source / "tokenizer.json").is_file():
        raise errors.IllegalArgument(f"{source} is not a Hugging Face BERT folder with config.json and tokenizer.json")
    torch, _ = _require_deps()
    module = load_highlighter(source, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{artifact_stem(name, version, MODEL_FORMAT)}.zip"
    with tempfile.TemporaryDirectory(prefix="modelnode-build-") as tmp:
        model_path = Path(tmp) / f"{_model_stem(name)}.pt"
        traced = trace_highlighter(module, source / "tokenizer.json", dynamic_batch=dynamic_batch)
        torch.jit.save(traced, str(model_path))
        entries: list[tuple[str, Path | bytes]] = [(model_path.name, model_path)]
        entries.append(("tokenizer.json", _plain_tokenizer_json(source / "tokenizer.json")))
        entries += [(f, source / f) for f in _TOKENIZER_FILES[1:] if (source / f).is_file()]
        license_file = next((p for p in (source / "LICENSE", source / "LICENSE.txt") if p.is_file()), None)
        if license_file is not None:
            entries.append(("LICENSE", license_file))
        _deterministic_zip(zip_path, entries)
    all_config = {
        k: v
        for k, v in (("token_max_length", token_max_length), ("token_overlap_stride", token_overlap_stride))
        if v is not None
    }
    return _write_config(zip_path, out / "config.json", name, version, description, all_config)


# --- the head ------------------------------------------------------------------------------------


def load_highlighter(source_dir: str | os.PathLike[str], *, seed: int = 0) -> Any:
    """BERT + highlighter head (an ``nn.Module`` in eval mode) with the folder's weights.

    ``forward(input_ids, attention_mask, token_type_ids, sentence_ids)`` returns a list with one
    int64 tensor of selected sentence ids per row. ``module.probabilities(...)`` gives the
    per-sentence relevance instead (for tests)."""
    torch, transformers = _require_deps()
    source = Path(source_dir)
    config = transformers.BertConfig.from_pretrained(str(source), local_files_only=True)
    weights_file = source / "model.safetensors"
    if not weights_file.is_file():
        raise errors.IllegalArgument(f"{source} has no model.safetensors (other weight formats are not read)")
    from safetensors.torch import load_file

    state = load_file(str(weights_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bert = transformers.BertModel(config, add_pooling_layer=False)
    prefixed = any(k.startswith("bert.") for k in state)
    bert_state = {k.removeprefix("bert."): v for k, v in state.items() if not prefixed or k.startswith("bert.")}
    bert_state = {k: v for k, v in bert_state.items() if not k.startswith(("pooler.", "classifier."))}
    missing, unexpected = bert.load_state_dict(bert_state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise errors.IllegalArgument(
            f"{weights_file} does not hold this BERT's weights: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    classifier = torch.nn.Linear(config.hidden_size, 2)
    if "classifier.weight" in state:
        classifier.load_state_dict({"weight": state["classifier.weight"], "bias": state["classifier.bias"]})
    else:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            classifier.weight.normal_(0.0, config.initializer_range, generator=generator)
            classifier.bias.zero_()
    return _head_module(torch, bert, classifier).eval()


def _head_module(torch: Any, bert: Any, classifier: Any) -> Any:
    @torch.jit.script
    def select(probs: torch.Tensor, present: torch.Tensor, offsets: torch.Tensor) -> list[torch.Tensor]:
        # probs, present (rows, slots); offsets (rows,). Keep p >= 0.5; if none, the most likely
        # sentence when its p >= 0.05. Returns the kept slots + the row's offset, per row.
        out: list[torch.Tensor] = []
        for r in range(probs.shape[0]):
            p, ok = probs[r], present[r]
            keep = ok & (p >= 0.5)
            if not bool(keep.any()) and bool(ok.any()):
                best = int(torch.argmax(torch.where(ok, p, torch.full_like(p, -1.0))))
                if float(p[best]) >= 0.05:
                    keep[best] = True
            out.append(torch.nonzero(keep).reshape(-1) + offsets[r])
        return out

    class SentenceHighlighterHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.classifier = classifier

        def probabilities(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, sentence_ids: Any) -> Any:
            """``(probs, present, offsets)``: p(relevant) per sentence slot ``(rows, seq)`` (slot j =
            sentence ``offsets[r] + j``), whether the slot has tokens, and each row's offset."""
            hidden = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            valid = sentence_ids != IGNORE  # (rows, seq)
            big = torch.full_like(sentence_ids, 2**40)
            offsets = torch.where(valid, sentence_ids, big).min(dim=1).values  # (rows,)
            offsets = torch.where(valid.any(dim=1), offsets, torch.zeros_like(offsets))
            # Sentence slots relative to the row's first sentence; a row has fewer sentences than tokens.
            local = torch.where(valid, sentence_ids - offsets[:, None], torch.zeros_like(sentence_ids))
            local = local.clamp(max=sentence_ids.shape[1] - 1)
            weight = valid.to(hidden.dtype)  # (rows, seq)
            index = local.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])  # (rows, seq, hidden)
            sums = torch.zeros_like(hidden).scatter_add(1, index, hidden * weight.unsqueeze(-1))
            counts = torch.zeros_like(weight).scatter_add(1, local, weight)  # (rows, slots)
            means = sums / counts.clamp(min=1).unsqueeze(-1)  # (rows, slots, hidden)
            probs = torch.softmax(self.classifier(means), dim=-1)[..., 1]  # (rows, slots)
            return probs, counts > 0, offsets

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, sentence_ids: Any) -> Any:
            probs, present, offsets = self.probabilities(input_ids, attention_mask, token_type_ids, sentence_ids)
            return select(probs, present, offsets)

    head = SentenceHighlighterHead()
    head.select = select  # the scripted selection, for trace_highlighter
    return head


def trace_inputs(tokenizer_json: str | os.PathLike[str], *, rows: int) -> tuple[Any, ...]:
    """``(input_ids, attention_mask, token_type_ids, sentence_ids)`` for tracing: the trace
    question and context, ``rows`` rows of different lengths, right-padded."""
    torch, _ = _require_deps()
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_truncation()
    tok.no_padding()
    features: list[tuple[list[int], list[int], list[int]]] = []
    for r in range(rows):
        sentences = _TRACE_SENTENCES[: len(_TRACE_SENTENCES) - r] or _TRACE_SENTENCES[:1]
        enc = tok.encode(_TRACE_QUESTION, " ".join(sentences))
        sentence_ids, start = [], 0
        bounds = []
        for s in sentences:
            bounds.append((start, start + len(s)))
            start += len(s) + 1
        for seq, (cs, _) in zip(enc.sequence_ids, enc.offsets, strict=True):
            sid = next((i for i, (a, b) in enumerate(bounds) if a <= cs < b), IGNORE) if seq == 1 else IGNORE
            sentence_ids.append(sid)
        features.append((enc.ids, enc.type_ids, sentence_ids))
    seq_len = max(len(f[0]) for f in features)
    ids = torch.zeros((rows, seq_len), dtype=torch.long)
    mask = torch.zeros((rows, seq_len), dtype=torch.long)
    types = torch.zeros((rows, seq_len), dtype=torch.long)
    sids = torch.full((rows, seq_len), IGNORE, dtype=torch.long)
    for r, (i, t, s) in enumerate(features):
        n = len(i)
        ids[r, :n], mask[r, :n] = torch.tensor(i), 1
        types[r, :n], sids[r, :n] = torch.tensor(t), torch.tensor(s)
    return ids, mask, types, sids


def trace_highlighter(module: Any, tokenizer_json: str | os.PathLike[str], *, dynamic_batch: bool = False) -> Any:
    """TorchScript of ``load_highlighter``'s module.

    ``dynamic_batch=False``: ``torch.jit.trace`` of the whole module with one row, as
    opensearch-py-ml traces it; the per-row list becomes a fixed 1-tuple. ``dynamic_batch=True``:
    BERT up to the probabilities is traced (with a padded batch of two rows), the selection is
    scripted around it, so the module returns a list as long as the batch."""
    torch, _ = _require_deps()
    inputs = trace_inputs(tokenizer_json, rows=2 if dynamic_batch else 1)
    select = module.select

    class OneTuple(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = module

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, sentence_ids: Any) -> Any:
            return tuple(self.head(input_ids, attention_mask, token_type_ids, sentence_ids))

    class Probabilities(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = module

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, sentence_ids: Any) -> Any:
            return self.head.probabilities(input_ids, attention_mask, token_type_ids, sentence_ids)

    class PerRow(torch.nn.Module):
        def __init__(self, core: Any) -> None:
            super().__init__()
            self.core = core

        # Unannotated arguments are Tensors to TorchScript.
        def forward(self, input_ids, attention_mask, token_type_ids, sentence_ids):  # type: ignore[no-untyped-def]
            probs, present, offsets = self.core(input_ids, attention_mask, token_type_ids, sentence_ids)
            return select(probs, present, offsets)

    # The tracer warns about data-dependent shapes and its own limits; none of it is actionable here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not dynamic_batch:
            return _on_fresh_thread(lambda: torch.jit.trace(OneTuple().eval(), inputs, strict=False))
        core = _on_fresh_thread(lambda: torch.jit.trace(Probabilities().eval(), inputs))
        return torch.jit.script(PerRow(core).eval())


# --- helpers --------------------------------------------------------------------------------------


def _require_deps() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise errors.MissingDependency(
            f"building a highlighter needs torch and transformers ({exc.name} is missing): "
            "pip install 'modelnode[build]'"
        ) from exc
    return torch, transformers


def _model_stem(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _plain_tokenizer_json(path: Path) -> bytes:
    """tokenizer.json without truncation and padding: the runtime sets both from the model config."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["truncation"] = None
    data["padding"] = None
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _write_config(
    zip_path: Path, config_path: Path, name: str, version: str, description: str, all_config: dict[str, Any]
) -> BuiltArtifact:
    model_config: dict[str, Any] = {"model_type": MODEL_TYPE, "framework_type": "huggingface_transformers"}
    if all_config:
        model_config["all_config"] = json.dumps(all_config)  # a JSON string, as ML Commons stores it
    size = zip_path.stat().st_size
    config = {
        "name": name,
        "version": version,
        "description": description,
        "model_format": MODEL_FORMAT,
        "function_name": FUNCTION_NAME,
        "model_content_size_in_bytes": size,
        "model_content_hash_value": sha256_file(zip_path),
        "model_config": model_config,
    }
    _dump_config(config_path, config)
    return BuiltArtifact(zip_path, config_path, config["model_content_hash_value"], size, name, version, MODEL_FORMAT)
