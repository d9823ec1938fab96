from __future__ import annotations

import numpy as np
import pytest

from tailor.models.base import TOP_N_KERNEL_MAX, top_n


@pytest.mark.parametrize("n", [1, 3, 10, 25, TOP_N_KERNEL_MAX + 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_n_matches_stable_argsort_with_ties_and_infinities(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    scores = rng.integers(0, 6, size=(40, 150)).astype(dtype)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    idx, vals = top_n(scores, n)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    finite = np.isfinite(vals)
    # ties keep the lower column first; -inf fillers may come in any order
    np.testing.assert_array_equal(np.where(finite, idx, -1), np.where(finite, expected, -1))
    np.testing.assert_array_equal(vals, np.take_along_axis(scores, expected, axis=1))


def test_top_n_edge_cases() -> None:
    scores = np.array([[1.0, np.nan, 3.0], [2.0, 2.0, 2.0]], np.float32)
    idx, vals = top_n(scores, 5)  # n larger than the row: the whole row, sorted
    assert idx[1].tolist() == [0, 1, 2] and vals.shape == (2, 3)
    assert idx[0][:2].tolist() == [2, 0]
    f_order = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert top_n(f_order, 2)[0].tolist() == [[3, 2], [3, 2], [3, 2]]


def test_small_blocks_take_numpy_and_equal_the_kernel() -> None:
    """A small block (Popularity.top_items, a few users) is ranked without numba, same ties."""
    from tailor.models._topn import top_n_rows

    rng = np.random.default_rng(3)
    for n in (1, 5, 40):
        row = rng.integers(0, 6, size=(1, 50)).astype(np.float32)  # many ties
        row[0, 7] = -np.inf
        idx, vals = top_n(row, n)
        k_idx, k_vals = top_n_rows(np.ascontiguousarray(row), n)
        np.testing.assert_array_equal(idx, k_idx)
        np.testing.assert_array_equal(vals, k_vals)
