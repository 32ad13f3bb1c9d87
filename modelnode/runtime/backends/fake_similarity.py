"""Deterministic stand-in for a cross-encoder network (TEXT_SIMILARITY), for tests.

It takes what an exported ``BertForSequenceClassification`` takes and returns what it returns,
``{"logits": (batch, 1) float32}``. The logit is a pure function of each row's unpadded tokens,
so a pair scores the same alone or inside any padded batch:

- with ``token_type_ids`` (declared by default, as bert declares it): 10 x the cosine between
  the mean hash vector of the first segment (type 0: ``[CLS] query [SEP]``) and of the second
  (type 1: ``doc [SEP]``), so a doc equal to the query scores high and an unrelated one near 0;
- without (``input_names=("input_ids", "attention_mask")``, as distilbert-style models): 10 x the
  mean of the first hash component over all tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

from modelnode.runtime import pooling
from modelnode.runtime.backends.fake import token_vectors

DIM = 16
SCALE = np.float32(10.0)
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class FakeSimilarityBackend:
    def __init__(self, input_names: tuple[str, ...] = BERT_INPUTS) -> None:
        self.input_names = input_names
        self.calls: deque[dict[str, np.ndarray]] = deque(maxlen=64)  # the latest feeds, for tests

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls.append(dict(feed))
        ids, mask = feed["input_ids"], feed["attention_mask"].astype(np.float32)  # (batch, seq)
        vectors = token_vectors(ids, DIM)  # (batch, seq, DIM)
        if "token_type_ids" not in self.input_names:
            first = (vectors[..., 0] * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)  # (batch,)
            return {"logits": (SCALE * first)[:, None].astype(np.float32)}
        second = (feed["token_type_ids"] == 1) * mask  # (batch, seq)
        query = pooling.mean(vectors, mask - second)  # (batch, DIM): the mean over the first segment
        doc = pooling.mean(vectors, second)  # (batch, DIM)
        norms = np.linalg.norm(query, axis=1) * np.linalg.norm(doc, axis=1)
        cosine = (query * doc).sum(axis=1) / np.maximum(norms, 1e-12)  # (batch,)
        return {"logits": (SCALE * cosine)[:, None].astype(np.float32)}

    def close(self) -> None:
        pass
