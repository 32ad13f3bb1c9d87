from __future__ import annotations

import numpy as np

from modelnode.runtime import pooling
from modelnode.runtime.backends.fake import FakeBackend, token_vectors


def test_same_token_same_vector_in_any_batch() -> None:
    a = token_vectors(np.array([[5, 7, 0]]), 16)  # (1, 3, 16)
    b = token_vectors(np.array([[9, 9], [7, 5]]), 16)  # (2, 2, 16)
    np.testing.assert_array_equal(a[0, 0], b[1, 1])
    np.testing.assert_array_equal(a[0, 1], b[1, 0])
    assert not np.allclose(a[0, 0], a[0, 1])
    assert a.dtype == np.float32
    assert np.all((a >= -1) & (a < 1))


def test_vectors_are_fixed_across_runs() -> None:
    # Pinned, so a change to the hash (which would change every fake embedding) is deliberate.
    v = token_vectors(np.array([[101]]), 4)[0, 0]
    np.testing.assert_allclose(v, [0.14652741, -0.92944026, -0.63508046, 0.66366434], rtol=1e-6)


def test_onnx_style_returns_token_embeddings_with_configured_dim() -> None:
    backend = FakeBackend({"embedding_dimension": 8}, sentence_transformers_dict=False)
    out = backend.run({"input_ids": np.array([[1, 2, 3]]), "attention_mask": np.array([[1, 1, 1]])})
    assert list(out) == ["last_hidden_state"]
    assert out["last_hidden_state"].shape == (1, 3, 8)


def test_default_dim_is_384() -> None:
    assert FakeBackend({}, sentence_transformers_dict=False).dim == 384


def test_sentence_transformers_style_returns_the_traced_dict_pooled_per_config() -> None:
    backend = FakeBackend(
        {"embedding_dimension": 8, "pooling_mode": "CLS", "normalize_result": True}, sentence_transformers_dict=True
    )
    ids, mask = np.array([[1, 2, 3], [4, 5, 0]]), np.array([[1, 1, 1], [1, 1, 0]])
    out = backend.run({"input_ids": ids, "attention_mask": mask})
    assert list(out) == ["input_ids", "attention_mask", "token_embeddings", "sentence_embedding"]
    expected = pooling.l2_normalize(token_vectors(ids, 8)[:, 0])
    np.testing.assert_allclose(out["sentence_embedding"], expected)
    np.testing.assert_allclose(np.linalg.norm(out["sentence_embedding"], axis=1), 1.0, rtol=1e-6)
