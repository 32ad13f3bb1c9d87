from __future__ import annotations

import numpy as np
import pytest

from modelnode.runtime import pooling

# 2 docs, seq 3, hidden 2. Doc 0 has 2 real tokens and 1 pad; doc 1 has 3 real tokens.
TOKENS = np.array(
    [
        [[1.0, 2.0], [3.0, -4.0], [100.0, 100.0]],  # the pad row must never count
        [[0.0, 1.0], [2.0, 3.0], [4.0, -5.0]],
    ],
    dtype=np.float32,
)
MASK = np.array([[1, 1, 0], [1, 1, 1]], dtype=np.int64)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("MEAN", [[2.0, -1.0], [2.0, -1 / 3]]),
        ("MEAN_SQRT_LEN", [[4 / np.sqrt(2), -2 / np.sqrt(2)], [6 / np.sqrt(3), -1 / np.sqrt(3)]]),
        ("MAX", [[3.0, 2.0], [4.0, 3.0]]),
        # weights 1, 2 (pad weight 0) and 1, 2, 3
        ("WEIGHTEDMEAN", [[(1 + 6) / 3, (2 - 8) / 3], [(0 + 4 + 12) / 6, (1 + 6 - 15) / 6]]),
        ("CLS", [[1.0, 2.0], [0.0, 1.0]]),
        ("LASTTOKEN", [[3.0, -4.0], [4.0, -5.0]]),
    ],
)
def test_pooling_against_hand_computed_values(mode: str, expected: list[list[float]]) -> None:
    out = pooling.pool(mode, TOKENS, MASK)
    assert out.shape == (2, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.array(expected), rtol=1e-6)


def test_default_mode_is_mean_and_aliases_are_accepted() -> None:
    np.testing.assert_array_equal(pooling.pool(None, TOKENS, MASK), pooling.mean(TOKENS, MASK))
    assert pooling.normalize_mode("weighted_mean") == "WEIGHTEDMEAN"
    assert pooling.normalize_mode("cls") == "CLS"
    with pytest.raises(ValueError, match="unknown pooling_mode"):
        pooling.normalize_mode("median")


def test_last_token_handles_left_padding() -> None:
    mask = np.array([[0, 1, 1]])
    np.testing.assert_array_equal(pooling.last_token(TOKENS[:1], mask), [[100.0, 100.0]])


def test_max_keeps_all_pad_rows_finite() -> None:
    out = pooling.max_(TOKENS, np.zeros_like(MASK))
    assert np.all(out == np.float32(-1e9))


def test_none_passes_pooled_output_and_refuses_token_embeddings() -> None:
    pooled = np.ones((2, 4), dtype=np.float32)
    assert pooling.pool("NONE", pooled, MASK) is pooled
    with pytest.raises(ValueError, match="already pooled"):
        pooling.pool("NONE", TOKENS, MASK)


def test_l2_normalize() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = pooling.l2_normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32
