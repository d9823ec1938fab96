"""masked_top_n: the one mask + top-n step, against a plain numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailor.models import base
from tailor.models._topn import KERNEL_MAX_N, masked_top_n


@pytest.fixture(autouse=True, params=["kernel", "numpy"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both implementations (small blocks take numpy in production)."""
    monkeypatch.setattr(base, "NUMPY_MAX_CELLS", 0 if request.param == "kernel" else 10**9)
    return str(request.param)


def _reference(
    scores: np.ndarray, n: int, allowed: np.ndarray | None, banned: list[set[int]]
) -> list[list[int]]:
    out = []
    for r, row in enumerate(scores):
        cols = [
            j
            for j in np.argsort(-row, kind="stable")  # ties: lower column first
            if np.isfinite(row[j]) and (allowed is None or allowed[j]) and j not in banned[r]
        ]
        out.append(cols[:n])
    return out


@pytest.mark.parametrize("n", [1, 5, 30, KERNEL_MAX_N + 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference_with_ties_masks_and_non_finite(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    scores = rng.integers(0, 5, size=(30, 160)).astype(dtype)  # many ties
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[rng.random(scores.shape) < 0.02] = np.inf
    allowed = rng.random(160) < 0.8
    seen = sp.random_array((30, 160), density=0.2, random_state=1, format="csr")
    extra = sp.random_array((30, 160), density=0.05, random_state=2, format="csr")
    before = scores.copy()
    idx, vals = masked_top_n(scores, n, allowed=allowed, banned=[seen, extra])
    np.testing.assert_array_equal(scores, before)  # the input is not modified
    banned = [set(seen[[r]].indices) | set(extra[[r]].indices) for r in range(30)]
    expected = _reference(scores, n, allowed, banned)
    for r in range(30):
        got = idx[r][np.isfinite(vals[r])].tolist()
        assert got == expected[r]
        assert (idx[r][~np.isfinite(vals[r])] == -1).all()
        np.testing.assert_array_equal(vals[r][: len(got)], scores[r, got])


def test_banned_columns_for_every_row_and_shapes() -> None:
    scores = np.array([[3.0, 2.0, 2.0, 1.0], [0.0, 5.0, 5.0, 5.0]], np.float32)
    idx, vals = masked_top_n(scores, 3, banned=np.array([1]))
    assert idx.tolist() == [[0, 2, 3], [2, 3, 0]]
    idx, vals = masked_top_n(scores, 10)  # n above the columns: every column, sorted
    assert idx.shape == (2, 4) and idx[1].tolist() == [1, 2, 3, 0]
    idx, vals = masked_top_n(scores, 2, allowed=np.array([False, False, False, True]))
    assert idx.tolist() == [[3, -1], [3, -1]] and np.isneginf(vals[:, 1]).all()
    assert masked_top_n(scores, 0)[0].shape == (2, 0)
    broadcast = np.broadcast_to(np.arange(4, dtype=np.float32), (3, 4))  # Popularity's rows
    assert masked_top_n(broadcast, 2)[0].tolist() == [[3, 2]] * 3


@pytest.mark.parametrize("n", [3, KERNEL_MAX_N + 5])
def test_missing_scores_are_never_listed(n: int) -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 3, size=(20, 150)).astype(np.float32)  # a third are exactly 0
    idx, vals = masked_top_n(scores, n, missing=0.0)
    expected = _reference(np.where(scores == 0, np.nan, scores), n, None, [set()] * 20)
    for r in range(20):
        assert idx[r][np.isfinite(vals[r])].tolist() == expected[r]
    # without it, zeros pad the lists in column order
    assert (masked_top_n(scores, 149)[1] == 0).any()
