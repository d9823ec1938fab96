"""The top-n kernels: ``top_n_rows`` behind ``base.top_n``, and :func:`masked_top_n`, the one
mask + top-n step every recommendation list goes through.

For the small n of recommendation lists, a per-row insertion into a sorted buffer of size n reads
each score once and rarely moves anything, which is several times faster than ``argpartition``
followed by a sort. Reference: ``argsort(-row, kind="stable")[:n]``, used by the tests.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from tailor.models import base as _base


@numba.njit(cache=True)
def top_n_rows(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries per row, best first.

    Ties keep the lower column first; NaN counts as ``-inf``; ``n`` must not exceed the number
    of columns. Each row costs O(n_cols) plus O(n) per insertion, so keep ``n`` small.
    """
    n_rows, n_cols = scores.shape
    idx = np.empty((n_rows, n), np.int64)
    val = np.empty((n_rows, n), scores.dtype)
    for r in range(n_rows):
        row = scores[r]
        top_i = idx[r]
        top_v = val[r]
        count = 0
        for j in range(n_cols):
            # The insertion below is written out again in _masked_rows on purpose: moving it
            # into a shared @njit helper measured about 20 % slower in the kernel's hot loop.
            # Change both copies together.
            v = row[j]
            if v != v:  # NaN
                v = -np.inf
            if count < n:
                p = count
                count += 1
            elif v > top_v[n - 1]:
                p = n - 1
            else:
                continue
            while p > 0 and top_v[p - 1] < v:
                top_v[p] = top_v[p - 1]
                top_i[p] = top_i[p - 1]
                p -= 1
            top_v[p] = v
            top_i[p] = j
    return idx, val


def masked_top_n(
    scores: np.ndarray,
    n: int,
    *,
    allowed: np.ndarray | None = None,
    banned: Any = None,
    missing: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """THE mask + top-n step: the ``n`` best allowed, finite, non-banned scores of each row.

    Every list tailor produces goes through here (``RecommenderBase.recommend``, the pipeline's
    batch and single-user paths, similar items), so the rules are written once:

    - non-finite scores (NaN, ``+-inf``) are never listed;
    - ``allowed``: boolean mask over the columns (candidates, availability, category, a caller's
      predicate); False columns are never listed;
    - ``banned``: columns never listed for one row (the user's seen items, an exclude list):
      a sparse CSR matrix with one row per ``scores`` row, a sequence of such matrices, or a 1-D
      integer array of columns banned for every row;
    - ``missing``: a score that means "no evidence" (a model's ``no_evidence_score``, e.g.
      ItemKNN's 0 for items no neighbour of the history reaches) is never listed either, so
      a list runs short (and is backfilled) instead of being padded with ties in item order;
    - order: best first, ties by lower column (item number); deterministic.

    ``scores`` is not modified. Returns ``(idx, vals)`` of shape ``(rows, min(n, cols))``: the
    columns (int64) and their scores, best first; slots past a row's last candidate hold
    ``-1`` and ``-inf`` (keep ``np.isfinite(vals)``).
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError("scores must be a 2-D array (rows x items)")
    n_rows, n_cols = scores.shape
    width = min(int(n), n_cols)
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if width <= 0:
        return np.empty((n_rows, 0), np.int64), np.empty((n_rows, 0), scores.dtype)
    mats: list[Any] = []
    if banned is not None:
        if isinstance(banned, np.ndarray) or (
            isinstance(banned, list | tuple) and all(np.isscalar(b) for b in banned)
        ):
            cols = np.asarray(banned, dtype=np.int64).ravel()
            allowed = np.ones(n_cols, bool) if allowed is None else np.array(allowed, bool)
            allowed[cols[(cols >= 0) & (cols < n_cols)]] = False
        else:
            mats = [banned] if hasattr(banned, "indptr") else [b for b in banned if b is not None]
    for mat in mats:
        if mat.shape[0] != n_rows:
            raise ValueError(f"banned has {mat.shape[0]} rows, scores {n_rows}")
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=np.bool_)
        if allowed.shape != (n_cols,):
            raise ValueError(f"allowed must be a boolean mask of {n_cols} columns")
    if width > KERNEL_MAX_N or scores.size <= _base.NUMPY_MAX_CELLS:
        return _masked_numpy(scores, width, allowed, mats, missing)
    while len(mats) > 2:  # the kernel takes two; more are rare (merge them)
        mats = [mats[0] + mats[1], *mats[2:]]
    ptrs = [_csr_parts(m) for m in mats] + [(_EMPTY, _EMPTY)] * (2 - len(mats))
    return _masked_rows(
        np.ascontiguousarray(scores),
        width,
        _NO_MASK if allowed is None else allowed,
        ptrs[0][0],
        ptrs[0][1],
        ptrs[1][0],
        ptrs[1][1],
        np.nan if missing is None else float(missing),
    )


KERNEL_MAX_N = 100
"""List lengths up to this use the one-pass kernel; longer ones mask a copy and partition."""
_EMPTY = np.empty(0, np.int64)
_NO_MASK = np.empty(0, np.bool_)


def _csr_parts(mat: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mat.indptr, np.int64), np.asarray(mat.indices, np.int64)


def _masked_numpy(
    scores: np.ndarray,
    width: int,
    allowed: np.ndarray | None,
    mats: list[Any],
    missing: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    from tailor.models.base import top_n

    work = np.array(scores, copy=True, order="C")
    work[~np.isfinite(work)] = -np.inf
    if missing is not None:
        work[work == missing] = -np.inf
    if allowed is not None:
        work[:, ~allowed] = -np.inf
    for mat in mats:
        indptr, indices = _csr_parts(mat)
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        work[rows, indices] = -np.inf
    idx, vals = top_n(work, width)
    idx = np.where(np.isfinite(vals), idx, -1)
    return idx, vals


@numba.njit(cache=True)
def _masked_rows(
    scores: np.ndarray,
    n: int,
    allowed: np.ndarray,
    ban1_ptr: np.ndarray,
    ban1_idx: np.ndarray,
    ban2_ptr: np.ndarray,
    ban2_idx: np.ndarray,
    missing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``top_n_rows`` that skips non-finite, disallowed, banned and ``missing``-valued columns
    (one pass; ``missing`` NaN: none)."""
    n_rows, n_cols = scores.shape
    idx = np.full((n_rows, n), -1, np.int64)
    val = np.full((n_rows, n), -np.inf, scores.dtype)
    has_allowed = allowed.shape[0] > 0
    has_ban1 = ban1_ptr.shape[0] > 0
    has_ban2 = ban2_ptr.shape[0] > 0
    banned = np.zeros(n_cols, np.bool_)
    for r in range(n_rows):
        if has_ban1:
            for k in range(ban1_ptr[r], ban1_ptr[r + 1]):
                c = ban1_idx[k]
                if 0 <= c < n_cols:
                    banned[c] = True
        if has_ban2:
            for k in range(ban2_ptr[r], ban2_ptr[r + 1]):
                c = ban2_idx[k]
                if 0 <= c < n_cols:
                    banned[c] = True
        row = scores[r]
        top_i = idx[r]
        top_v = val[r]
        count = 0
        for j in range(n_cols):
            v = row[j]
            if count == n and not v > top_v[n - 1]:  # the common case: not good enough
                continue
            if not (-np.inf < v < np.inf):  # NaN and infinities are never listed
                continue
            if v == missing:  # always False for missing = NaN
                continue
            if has_allowed and not allowed[j]:
                continue
            if banned[j]:
                continue
            # the same insertion as top_n_rows, kept inline: a shared helper was 20 % slower
            if count < n:
                p = count
                count += 1
            elif v > top_v[n - 1]:
                p = n - 1
            else:
                continue
            while p > 0 and top_v[p - 1] < v:
                top_v[p] = top_v[p - 1]
                top_i[p] = top_i[p - 1]
                p -= 1
            top_v[p] = v
            top_i[p] = j
        if has_ban1:
            for k in range(ban1_ptr[r], ban1_ptr[r + 1]):
                c = ban1_idx[k]
                if 0 <= c < n_cols:
                    banned[c] = False
        if has_ban2:
            for k in range(ban2_ptr[r], ban2_ptr[r + 1]):
                c = ban2_idx[k]
                if 0 <= c < n_cols:
                    banned[c] = False
    return idx, val
