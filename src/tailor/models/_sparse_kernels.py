"""Numba kernels that score a batch of sparse user profiles against item-item matrices.

Both compute dense score rows :math:`S_{r\\cdot} = \\sum_k x_{rk} W_{k\\cdot}` for the CSR rows
``x``, one row per thread. They replace scipy's products, which are single-threaded and, for
sparse @ sparse, build a sparse result only to densify it. Reference: ``x @ W`` in scipy, used by
the tests.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, parallel=True, fastmath=True)
def csr_times_dense(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray
) -> np.ndarray:
    """Dense float32 ``x @ dense`` for CSR ``x`` (indptr, indices, data)."""
    n_rows = len(indptr) - 1
    out = np.zeros((n_rows, dense.shape[1]), np.float32)
    for r in numba.prange(n_rows):
        row = out[r]
        for p in range(indptr[r], indptr[r + 1]):
            w = data[p]
            src = dense[indices[p]]
            for j in range(dense.shape[1]):
                row[j] += w * src[j]
    return out


@numba.njit(cache=True, parallel=True, fastmath=True)
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
    for r in numba.prange(n_rows):
        row = out[r]
        for p in range(indptr[r], indptr[r + 1]):
            w = data[p]
            k = indices[p]
            for q in range(w_indptr[k], w_indptr[k + 1]):
                row[w_indices[q]] += w * w_data[q]
    return out
