"""Batching helpers shared by the kinds: length buckets under a token budget, feed trimming, and
splitting flat per-document results back per input."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

S = TypeVar("S", bound=Sequence[Any])


def length_chunks(lengths: np.ndarray, max_items: int, max_tokens: int) -> Iterator[np.ndarray]:
    """Indices in batches of similar length (longest first; ties keep their order: a stable argsort
    of ``-lengths``), each at most ``max_items`` items and ``max_tokens`` padded tokens (but at
    least one item)."""
    order = np.argsort(-lengths, kind="stable")
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, min(max_items, max_tokens // longest))
        yield order[start : start + size]
        start += size


def trim_feed(
    features: Mapping[str, np.ndarray],
    chunk: np.ndarray,
    lengths: np.ndarray,
    names: Container[str] | None = None,
) -> dict[str, np.ndarray]:
    """The rows ``chunk`` of right-padded ``features`` (only ``names``, when given), cut to the
    chunk's longest row: with right padding that drops only padding columns."""
    seq = int(lengths[chunk].max())
    return {n: np.ascontiguousarray(a[chunk, :seq]) for n, a in features.items() if names is None or n in names}


def split_per_input(sizes: Iterable[int], flat: S) -> list[S]:
    """``flat`` (one item per document, inputs one after another) cut into one slice per input of
    ``sizes[i]`` items."""
    results, start = [], 0
    for n in sizes:
        results.append(flat[start : start + n])
        start += n
    return results


def text_docs_cost(max_length: int, docs: Iterable[str]) -> int:
    """Estimated tokens of ``docs``: ~4 characters per token for WordPiece/BPE English, plus the
    special tokens, at most ``max_length`` per doc."""
    return sum(min(max_length, len(doc) // 4 + 2) for doc in docs)
