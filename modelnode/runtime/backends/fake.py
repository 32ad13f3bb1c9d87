"""Deterministic stand-in for a network, so everything around it (tokenizer, pooling, batching,
output shapes) runs for real in tests without reading model weights.

Each token id maps to a fixed pseudo-random vector (same id -> same vector, any batch, any run).
For ONNX (and TorchScript Hugging Face models) it returns the token embeddings, as an exported
transformer does. For TorchScript sentence-transformers it returns the 4-key dict a traced
SentenceTransformer returns, pooled and normalised per ``model_config``, as the real one does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelnode.runtime import pooling

_SEED = np.uint64(0x5EED_0F_FA_CE)


def token_vectors(ids: np.ndarray, dim: int) -> np.ndarray:
    """``(batch, seq)`` int ids -> ``(batch, seq, dim)`` float32 in [-1, 1), a pure function of the id
    (splitmix64 of ``id * dim + j``; uint64 array arithmetic wraps silently by design)."""
    x = ids.astype(np.uint64)[..., None] * np.uint64(dim) + np.arange(dim, dtype=np.uint64) + _SEED
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    unit = (x >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)  # 24 bits -> [0, 1)
    return unit * 2 - 1


class FakeBackend:
    input_names = ("input_ids", "attention_mask")

    def __init__(self, model_config: Mapping[str, Any], *, sentence_transformers_dict: bool) -> None:
        self.dim = int(model_config.get("embedding_dimension") or 384)
        self._st_dict = sentence_transformers_dict
        mode = pooling.normalize_mode(model_config.get("pooling_mode"))
        self._pooling = "MEAN" if mode == "NONE" else mode  # a fake "network" has no pooled head
        self._normalize = bool(model_config.get("normalize_result", False))

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids, mask = feed["input_ids"], feed["attention_mask"]  # (batch, seq)
        tokens = token_vectors(ids, self.dim)  # (batch, seq, dim)
        if not self._st_dict:
            return {"last_hidden_state": tokens}
        sentence = pooling.pool(self._pooling, tokens, mask)  # (batch, dim)
        if self._normalize:
            sentence = pooling.l2_normalize(sentence)
        return {"input_ids": ids, "attention_mask": mask, "token_embeddings": tokens, "sentence_embedding": sentence}

    def close(self) -> None:
        pass
