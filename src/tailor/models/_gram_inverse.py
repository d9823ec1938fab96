r"""EASE's inverse Gram matrix :math:`P = (G + \lambda I)^{-1}`, kept in memory so that
``partial_fit`` can move the item-item weights :math:`B` with a batch instead of refitting them.

A batch changes the Gram matrix :math:`G = X^\top X` only through the rows of the users in it:
:math:`\Delta G = X_T'^\top X_T' - X_T^\top X_T` (their rows after and before), a symmetric
update of rank at most twice the number of users whose row changed. The Woodbury identity turns
it into an update of :math:`P` in :math:`O(n^2 r)`, against :math:`O(n^3)` for a new inverse;
:math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}\,P)` follows in :math:`O(n^2)`.

:math:`P` is not saved (it is as large as :math:`B`): :func:`inverse_from_weights` rebuilds it
from the saved :math:`B` and the Gram matrix of the saved interactions in :math:`O(n^2)`, since
:math:`(G + \lambda I)(I - B) = \mathrm{diag}(1/\mathrm{diag}\,P)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg import blas

from tailor.errors import ConfigError
from tailor.models._matrices import grow_csr

SOLVE_SHARE = 0.25
r"""A fold whose :math:`U` has more columns (changed rows, before and after) than this share of
the items solves :math:`P` anew instead: Woodbury costs about :math:`2n^2k` float32 operations
plus :math:`2k^2n` float64 ones for :math:`Z`, a new float32 Cholesky inverse about :math:`n^3`.
Measured at :math:`n = 4070` on one BLAS thread: the new inverse 0.85 CPU s, Woodbury 0.82 s
at :math:`k = 1000` and 2.7 s at :math:`k = 2000` (docs/streaming.md, "Throughput")."""

SYMMETRY_TOLERANCE = 1e-3
"""Largest relative asymmetry of a :math:`P` rebuilt from :math:`B`: above it the weights were
not fitted on that Gram matrix (e.g. frozen by an older fold-in), and :math:`P` is solved anew."""
SYMMETRY_PROBES = 64
"""Rows of a rebuilt :math:`P` compared with its columns."""


def gram(x: sp.csr_array) -> sp.csr_array:
    """:math:`X^\\top X` (float64, sparse)."""
    xt = sp.csr_array(x.T, dtype=np.float64)
    return sp.csr_array(xt @ xt.T)


def solve_inverse(g: sp.csr_array, regularization: float) -> np.ndarray:
    r""":math:`(G + \lambda I)^{-1}` (float32) from a float32 Cholesky factorisation, as ``fit``
    solves it (``ease_weights``): half the time of float64 and the fit's own precision."""
    a = g.toarray().astype(np.float32)
    a[np.diag_indices_from(a)] += regularization
    chol, info = scipy.linalg.lapack.spotrf(a, lower=True, overwrite_a=True)
    if info == 0:
        inv, info = scipy.linalg.lapack.spotri(chol, lower=True, overwrite_c=True)
    if info != 0:
        raise ConfigError(f"EASE: X'X + {regularization} I is not positive definite ({info})")
    upper = np.triu_indices_from(inv, k=1)
    inv[upper] = inv.T[upper]  # spotri fills the lower triangle only
    return np.ascontiguousarray(inv, dtype=np.float32)


def inverse_from_weights(
    weights: np.ndarray, g: sp.csr_array, regularization: float
) -> np.ndarray | None:
    r""":math:`P` (float32) of the weights :math:`B` fitted on the Gram matrix ``g``:
    :math:`P = (I - B)\,\mathrm{diag}(p)` with :math:`1/p_j = G_{jj} + \lambda -
    \sum_{i \ne j} G_{ji} B_{ij}`. None when the result is not symmetric (``B`` was not fitted
    on ``g``)."""
    coo = g.tocoo()
    explained = np.bincount(
        coo.row, coo.data * weights[coo.col, coo.row], minlength=len(weights)
    )  # sum_i G_ji B_ij
    p = 1.0 / (g.diagonal() + regularization - explained)
    out = np.empty(weights.shape, np.float32)
    np.multiply(weights, -p[None, :], out=out, casting="same_kind")
    out[np.diag_indices_from(out)] = p
    # P is symmetric: compare some rows with their columns (a foreign B fails everywhere)
    probe = np.unique(np.linspace(0, len(p) - 1, min(len(p), SYMMETRY_PROBES)).astype(np.int64))
    scale = float(np.abs(p).max()) if len(p) else 0.0
    if len(p) and float(np.abs(out[probe] - out[:, probe].T).max()) > SYMMETRY_TOLERANCE * scale:
        return None
    return out


def grow(p: np.ndarray, n: int, regularization: float) -> np.ndarray:
    r""":math:`P` over ``n`` items: an item without interactions adds a row and column of
    :math:`G` that are zero, so :math:`P` gains :math:`1/\lambda` on the diagonal."""
    m = len(p)
    if n == m:
        return p
    out = np.zeros((n, n), np.float32)
    out[:m, :m] = p
    out[np.arange(m, n), np.arange(m, n)] = 1.0 / regularization
    return out


def update(p: np.ndarray, new_rows: sp.csr_array, old_rows: sp.csr_array) -> None:
    r"""Replace, in place, :math:`P = (G + \lambda I)^{-1}` by the inverse after the rows
    ``old_rows`` of :math:`X` became ``new_rows`` (same users, in the same order):

    .. math:: P' = P - W (C + U^\top W)^{-1} W^\top,\quad U = [X_T'^\top, X_T^\top],\;
              W = P U,\; C = \mathrm{diag}(I, -I)

    (the Woodbury identity for :math:`G' = G + U C U^\top`). Rows that did not change and
    empty rows are left out of :math:`U`."""
    new, old = changed_rows(new_rows, old_rows)
    if not new.shape[0] + old.shape[0]:
        return
    ut = sp.csr_array(sp.vstack([new, old]), dtype=np.float32)  # U transposed: 2r x n
    sign = np.r_[np.ones(new.shape[0]), -np.ones(old.shape[0])]
    wt = np.asarray(ut @ p)  # (P U)^T, P being symmetric
    small = np.diag(sign) + np.asarray(ut @ wt.T, dtype=np.float64)
    # the small inverse (2r x 2r) once rather than a solve per column of W, in float64
    z = (np.linalg.inv(small) @ wt.astype(np.float64)).astype(np.float32)
    # P -= W Z in place: BLAS updates a Fortran-ordered array without a copy, and P being
    # symmetric, a C-ordered P is that of P^T (P^T -= Z^T W^T, the same correction)
    target = p.T if p.flags.c_contiguous else p
    if not target.flags.f_contiguous:
        raise ValueError("the kept inverse must be a contiguous array")
    blas.sgemm(-1.0, z, wt, beta=1.0, c=target, trans_a=True, overwrite_c=True)


def changed_rows(
    new_rows: sp.csr_array, old_rows: sp.csr_array
) -> tuple[sp.csr_array, sp.csr_array]:
    """The rows that differ, after and before, each without its empty rows: the columns of
    :math:`U` in :func:`update`."""
    changed = np.flatnonzero(np.asarray(abs(new_rows - old_rows).sum(axis=1)).ravel() > 0)
    new, old = new_rows[changed], old_rows[changed]
    return new[np.diff(new.indptr) > 0], old[np.diff(old.indptr) > 0]


def weights_of(p: np.ndarray) -> np.ndarray:
    r"""float32 :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}\,P)` with a zero diagonal."""
    out = np.empty(p.shape, np.float32)
    np.multiply(p, -1.0 / p.diagonal()[None, :], out=out, casting="same_kind")
    out[np.diag_indices_from(out)] = 0.0
    return out


def folded_inverse(
    p: np.ndarray | None,
    weights: np.ndarray,
    old_x: sp.csr_array,
    new_x: sp.csr_array,
    touched: np.ndarray,
    regularization: float,
) -> np.ndarray:
    r""":math:`P` after a batch moved the rows ``touched`` of :math:`X` from ``old_x`` to
    ``new_x`` (which may have more users and items: those new to the model).

    ``p`` is the inverse before the batch; None rebuilds it from ``weights`` and the Gram matrix
    of ``old_x`` (:func:`inverse_from_weights`), or, when the weights do not cover ``old_x``'s
    items or were not fitted on it, solves the inverse of ``new_x`` anew (a refit of
    :math:`B`, :math:`O(n^3)`, once). So does a change of rank above ``SOLVE_SHARE`` of the
    items, where the new inverse is the cheaper of the two."""
    old_rows = grow_csr(old_x, new_x.shape)[touched]
    new, old = changed_rows(new_x[touched], old_rows)
    if new.shape[0] + old.shape[0] > SOLVE_SHARE * new_x.shape[1]:
        return solve_inverse(gram(new_x), regularization)
    if p is None:
        if len(weights) == old_x.shape[1]:
            p = inverse_from_weights(weights, gram(old_x), regularization)
        if p is None:
            return solve_inverse(gram(new_x), regularization)
    p = grow(p, new_x.shape[1], regularization)
    update(p, new_x[touched], old_rows)
    return p


@dataclass
class PendingFold:
    """Fold-ins not yet applied to :math:`B` (``partial_fit(..., defer_weights=True)``): the
    matrix :math:`B` was last folded on (a model's profiles or pair times, replaced, never
    changed in place, by ``partial_fit``) and the users changed since, each once."""

    base: sp.csr_array
    users: np.ndarray

    def add(self, touched: np.ndarray) -> None:
        """Record more changed users (sorted, distinct)."""
        self.users = np.union1d(self.users, touched).astype(np.int64)
