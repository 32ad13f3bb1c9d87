"""Pooling and normalisation as plain numpy functions, shared by every backend.

Each pool takes token embeddings ``(batch, seq, hidden)`` and the attention mask ``(batch, seq)``
and returns ``(batch, hidden)``, matching ML Commons' ONNX / Hugging Face translators (which follow
sentence-transformers): padding never contributes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POOLING_MODES = ("MEAN", "MEAN_SQRT_LEN", "MAX", "WEIGHTEDMEAN", "CLS", "LASTTOKEN", "NONE")


def _mask3(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.float32)[:, :, None]  # (batch, seq, 1)


def mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = _mask3(mask)
    summed = (tokens * m).sum(axis=1)  # (batch, hidden)
    counts = np.clip(m.sum(axis=1), 1e-9, None)  # (batch, 1)
    return summed / counts


def mean_sqrt_len(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = _mask3(mask)
    summed = (tokens * m).sum(axis=1)  # (batch, hidden)
    counts = np.clip(m.sum(axis=1), 1e-9, None)  # (batch, 1)
    return summed / np.sqrt(counts)


def max_(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Pads become -1e9 (not -inf) as in ML Commons, so an all-pad row stays finite.
    masked = np.where(mask[:, :, None] > 0, tokens, np.float32(-1e9))  # (batch, seq, hidden)
    return masked.max(axis=1)


def weighted_mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    positions = np.arange(1, tokens.shape[1] + 1, dtype=np.float32)  # (seq,) weights 1..n
    w = _mask3(mask) * positions[None, :, None]  # (batch, seq, 1)
    return (tokens * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)


def cls(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return tokens[:, 0]  # (batch, hidden)


def last_token(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Index of the last non-pad token, whichever side the padding is on.
    seq = mask.shape[1]
    last = seq - 1 - np.argmax(mask[:, ::-1] > 0, axis=1)  # (batch,)
    return tokens[np.arange(tokens.shape[0]), last]


def none(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model already pooled: ``tokens`` is ``(batch, hidden)``."""
    if tokens.ndim != 2:
        raise ValueError(f"pooling_mode NONE needs an already pooled (batch, hidden) output, got {tokens.shape}")
    return tokens


POOLERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "MEAN": mean,
    "MEAN_SQRT_LEN": mean_sqrt_len,
    "MAX": max_,
    "WEIGHTEDMEAN": weighted_mean,
    "CLS": cls,
    "LASTTOKEN": last_token,
    "NONE": none,
}


def normalize_mode(mode: str | None) -> str:
    """ML Commons' PoolingMode names, upper-cased; ``None`` means MEAN. Accepts WEIGHTED_MEAN too."""
    name = (mode or "MEAN").upper()
    name = {"WEIGHTED_MEAN": "WEIGHTEDMEAN", "LAST_TOKEN": "LASTTOKEN"}.get(name, name)
    if name not in POOLERS:
        raise ValueError(f"unknown pooling_mode [{mode}]; expected one of {', '.join(POOLING_MODES)}")
    return name


def pool(mode: str | None, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(batch, seq, hidden)`` + ``(batch, seq)`` -> ``(batch, hidden)`` float32."""
    return POOLERS[normalize_mode(mode)](tokens, mask).astype(np.float32, copy=False)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows to unit L2 norm, ``(batch, hidden)``; a zero row stays zero (torch's F.normalize)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)  # (batch, 1)
    return (x / np.maximum(norms, eps)).astype(np.float32, copy=False)
