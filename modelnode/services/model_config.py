"""ML Commons' model_config: normalised from an artifact's config.json or validated from a request."""

from __future__ import annotations

import json
from typing import Any

from modelnode.catalog import POOLING_MODES
from modelnode.errors import IllegalArgument

FRAMEWORK_TYPES = ("SENTENCE_TRANSFORMERS", "HUGGINGFACE_TRANSFORMERS", "HUGGINGFACE_TRANSFORMERS_NEURON")
# Order as ML Commons' TextEmbeddingModelConfig.toXContent writes them.
_TEXT_EMBEDDING_KEYS = (
    "model_type",
    "embedding_dimension",
    "framework_type",
    "all_config",
    "additional_config",
    "pooling_mode",
    "normalize_result",
    "model_max_length",
    "query_prefix",
    "passage_prefix",
)


def normalize(raw: Any, function_name: str, *, strict: bool) -> dict[str, Any] | None:
    """Return the stored form. ``strict`` = a user-supplied config (url / local upload), where ML
    Commons' parser rejects missing required fields; pretrained configs are taken as published."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise IllegalArgument("[model_config] must be an object")
    cfg = dict(raw)
    if isinstance(cfg.get("all_config"), dict):  # some hand-written configs inline it
        cfg["all_config"] = json.dumps(cfg["all_config"])
    for key in ("framework_type", "pooling_mode"):
        if isinstance(cfg.get(key), str):
            cfg[key] = cfg[key].upper()
    if function_name == "TEXT_EMBEDDING":
        if strict:
            for key, msg in (
                ("model_type", "model type is null"),
                ("embedding_dimension", "embedding dimension is null"),
                ("framework_type", "framework type is null"),
            ):
                if cfg.get(key) is None:
                    raise IllegalArgument(msg)
        fw = cfg.get("framework_type")
        if fw is not None and fw not in FRAMEWORK_TYPES:
            raise IllegalArgument(f"Wrong framework type [{fw}]; use one of {', '.join(FRAMEWORK_TYPES)}")
        pm = cfg.get("pooling_mode")
        if pm is not None and pm not in POOLING_MODES:
            raise IllegalArgument(f"Wrong pooling method [{pm}]; use one of {', '.join(sorted(POOLING_MODES))}")
        dim = cfg.get("embedding_dimension")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0):
            raise IllegalArgument("[embedding_dimension] must be a positive integer")
        out = {k: cfg[k] for k in _TEXT_EMBEDDING_KEYS if cfg.get(k) is not None}
        if out.get("normalize_result") is False:
            out.pop("normalize_result")  # ML Commons omits it when false
        return out
    if function_name == "QUESTION_ANSWERING":
        return {k: cfg[k] for k in ("model_type", "framework_type", "all_config") if cfg.get(k) is not None}
    return {k: v for k, v in cfg.items() if v is not None}
