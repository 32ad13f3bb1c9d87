"""Deterministic stand-in for a neural sparse network (SPARSE_ENCODING), so tokenizer, batching,
post-processing and the REST shapes run for real in tests without model weights.

It returns what a traced opensearch-py-ml ``NeuralSparseModel`` returns: ``{"output": (batch,
vocab) float32}``. Each token id present in a document (attention mask 1) gets a fixed weight in
[0.25, 2.0), a pure function of the id; every other entry, the special-token ids and the padding
are 0. So a text gives the same weights alone or inside a padded batch, in any run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from modelnode.runtime.backends.fake import token_vectors


def token_weight(ids: np.ndarray) -> np.ndarray:
    """int ids (any shape) -> float32 weights in [0.25, 2.0), same shape, a pure function of the id."""
    unit = (token_vectors(np.asarray(ids, dtype=np.int64), 1)[..., 0] + 1) / 2  # [0, 1)
    return (np.float32(0.25) + np.float32(1.75) * unit).astype(np.float32)


class FakeSparseBackend:
    input_names = ("input_ids", "attention_mask")

    def __init__(self, vocab_size: int, special_ids: Iterable[int] = ()) -> None:
        if vocab_size <= 0:
            raise ValueError("vocab_size must be positive")
        self.vocab_size = vocab_size
        self._special = np.asarray(sorted({i for i in special_ids if 0 <= i < vocab_size}), dtype=np.int64)

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids, mask = feed["input_ids"], feed["attention_mask"]  # (batch, seq)
        out = np.zeros((ids.shape[0], self.vocab_size), dtype=np.float32)  # (batch, vocab)
        rows, cols = np.nonzero(mask)
        token_ids = ids[rows, cols]
        keep = (token_ids >= 0) & (token_ids < self.vocab_size)
        rows, token_ids = rows[keep], token_ids[keep]
        out[rows, token_ids] = token_weight(token_ids)
        out[:, self._special] = 0.0
        return {"output": out}

    def close(self) -> None:
        pass
