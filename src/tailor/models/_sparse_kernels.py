"""Numba kernels for the neighbourhood models: scoring sparse profiles, and top-k of CSR rows.

The two products compute dense score rows :math:`S_{r\\cdot} = \\sum_k x_{rk} W_{k\\cdot}` for
the CSR rows ``x``. They replace scipy's products, which for sparse @ sparse build a sparse
result only to densify it. They run on one thread on purpose: on a shared machine (or beside
BLAS, implicit or a server's request threads) a parallel loop waits for its slowest thread, and
it was slower than one thread in our measurements. Reference: scipy's ``x @ W`` (the tests).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def csr_times_dense(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray
) -> np.ndarray:
    """Dense float32 ``x @ dense`` for CSR ``x`` (indptr, indices, data)."""
    n_rows = len(indptr) - 1
    out = np.zeros((n_rows, dense.shape[1]), np.float32)
    for r in range(n_rows):
        row = out[r]
        for p in range(indptr[r], indptr[r + 1]):
            w = data[p]
            src = dense[indices[p]]
            for j in range(dense.shape[1]):
                row[j] += w * src[j]
    return out


@numba.njit(cache=True, fastmath=True)
def csr_times_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    w_indptr: np.ndarray,
    w_indices: np.ndarray,
    w_data: np.ndarray,
    n_cols: int,
) -> np.ndarray:
    """Dense float32 ``x @ w`` for CSR ``x`` and CSR ``w`` with ``n_cols`` columns."""
    n_rows = len(indptr) - 1
    out = np.zeros((n_rows, n_cols), np.float32)
    for r in range(n_rows):
        row = out[r]
        for p in range(indptr[r], indptr[r + 1]):
            w = data[p]
            k = indices[p]
            for q in range(w_indptr[k], w_indptr[k + 1]):
                row[w_indices[q]] += w * w_data[q]
    return out


@numba.njit(cache=True)
def csr_row_top_k(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest entries of each CSR row, as a new CSR (indptr, indices, data).

    Within a row the kept entries are sorted by value, descending; ties keep the lower column.
    One pass per row with insertion into a sorted buffer of size ``k``.
    """
    n_rows = len(indptr) - 1
    out_ptr = np.zeros(n_rows + 1, np.int64)
    for r in range(n_rows):
        out_ptr[r + 1] = out_ptr[r] + min(indptr[r + 1] - indptr[r], k)
    cols = np.empty(out_ptr[n_rows], np.int64)
    vals = np.empty(out_ptr[n_rows], data.dtype)
    for r in range(n_rows):
        base = out_ptr[r]
        size = out_ptr[r + 1] - base
        filled = 0
        for p in range(indptr[r], indptr[r + 1]):
            v = data[p]
            j = indices[p]
            if filled < size:
                pos = filled
                filled += 1
            else:
                last = base + size - 1
                if v > vals[last] or (v == vals[last] and j < cols[last]):
                    pos = size - 1
                else:
                    continue
            while pos > 0 and (
                vals[base + pos - 1] < v or (vals[base + pos - 1] == v and cols[base + pos - 1] > j)
            ):
                vals[base + pos] = vals[base + pos - 1]
                cols[base + pos] = cols[base + pos - 1]
                pos -= 1
            vals[base + pos] = v
            cols[base + pos] = j
    return out_ptr, cols, vals
