"""Sparse-matrix helpers shared by the neighbourhood and linear models (ItemKNN, EASE).

Kept apart from the models so the weighting formulas are written (and tested) once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.units import SECONDS_PER_DAY

NO_TIME = np.iinfo(np.int64).min
"""``newest`` entry of a user without interactions."""


def interaction_matrix(
    data: Dataset, *, binary: bool, half_life_days: float | None
) -> sp.csr_array:
    r"""Users x items float32 matrix of (optionally recency-decayed) interactions.

    With decay factor :math:`d(t) = 2^{-(t_u - t)/h}` (1 when no half-life :math:`h` is set,
    :math:`t_u` the user's newest training timestamp):

    - ``binary``: :math:`x_{ui} = \max_{(u,i,t)} d(t)`, the decay of the pair's most recent
      interaction (so 1 per pair without recency);
    - otherwise: :math:`x_{ui} = \sum_{(u,i,t)} w\,d(t)`, the decayed interaction weights summed.
    """
    inter = data.interactions
    newest = newest_times(inter, data.n_users)
    users, items, w = _decayed_entries(inter, newest, binary, half_life_days)
    return _combine(users, items, w, (data.n_users, data.n_items), binary=binary)


def newest_times(inter: Interactions, n_users: int) -> np.ndarray:
    """int64 newest timestamp of each user (``NO_TIME`` for users without interactions)."""
    newest = np.full(n_users, NO_TIME, np.int64)
    np.maximum.at(newest, inter.user_nums.astype(np.int64), inter.timestamps)
    return newest


def fold_in_profiles(
    profiles: sp.csr_array,
    newest: np.ndarray,
    batch: Interactions,
    shape: tuple[int, int],
    *,
    binary: bool,
    half_life_days: float | None,
) -> tuple[sp.csr_array, np.ndarray]:
    r"""Add a batch to an :func:`interaction_matrix` without the older interactions.

    ``profiles`` and ``newest`` (:func:`newest_times`) describe the interactions seen so far;
    ``batch`` is over the grown vocabularies of ``shape``. A touched user's newest time becomes
    :math:`t'_u = \max(t_u, \max t_{batch})`, their old entries are rescaled by
    :math:`2^{-(t'_u - t_u)/h}` (the decay is measured from :math:`t'_u` now) and the batch's
    decayed entries are merged as in ``interaction_matrix`` (max per pair when ``binary``, sum
    otherwise). The result equals ``interaction_matrix`` of all interactions up to float32
    rounding; rows of users without batch interactions are returned bit-identical.

    Returns:
        The grown profile matrix and the grown ``newest`` array.
    """
    grown = np.full(shape[0], NO_TIME, np.int64)
    grown[: len(newest)] = newest
    np.maximum.at(grown, batch.user_nums.astype(np.int64), batch.timestamps)
    old = profiles.tocoo()
    old_w = old.data.astype(np.float64)
    if half_life_days is not None and old.nnz:
        # only rows with entries have a real (not NO_TIME) newest time: no overflow
        shift_days = (grown[old.row] - newest[old.row]) / SECONDS_PER_DAY
        old_w = old_w * np.exp2(-shift_days / half_life_days)
    users, items, w = _decayed_entries(batch, grown, binary, half_life_days)
    mat = _combine(
        np.concatenate([old.row.astype(np.int64), users]),
        np.concatenate([old.col.astype(np.int64), items]),
        np.concatenate([old_w, w]),
        shape,
        binary=binary,
    )
    return mat, grown


def add_interactions(
    mat: sp.csr_array, batch: Interactions, shape: tuple[int, int], *, binary: bool
) -> sp.csr_array:
    """An :func:`interaction_matrix` without recency, grown to ``shape`` with ``batch`` added:
    1 per pair when ``binary``, else the summed weights (rows without batch entries keep
    their values bit for bit)."""
    old = mat.tocoo()
    w = np.ones(len(batch)) if binary else batch.weights.astype(np.float64)
    return _combine(
        np.concatenate([old.row.astype(np.int64), batch.user_nums.astype(np.int64)]),
        np.concatenate([old.col.astype(np.int64), batch.item_nums.astype(np.int64)]),
        np.concatenate([old.data.astype(np.float64), w]),
        shape,
        binary=binary,
    )


def _decayed_entries(
    inter: Interactions, newest: np.ndarray, binary: bool, half_life_days: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, w) per interaction: 1 or its weight, times the decay from ``newest``."""
    users = inter.user_nums.astype(np.int64)
    items = inter.item_nums.astype(np.int64)
    w = np.ones(len(inter)) if binary else inter.weights.astype(np.float64)
    if half_life_days is not None and len(inter):
        # age from the user's own newest interaction: ranks as a global reference would (a
        # constant factor per user) without underflowing to 0 for long-inactive users
        age_days = (newest[users] - inter.timestamps) / SECONDS_PER_DAY
        w = w * np.exp2(-age_days / half_life_days)
    return users, items, w


def _combine(
    users: np.ndarray, items: np.ndarray, w: np.ndarray, shape: tuple[int, int], *, binary: bool
) -> sp.csr_array:
    """Float32 CSR of the entries: the largest per pair when ``binary``, else their sum."""
    if binary and len(w):
        # keep one entry per (user, item): the largest, i.e. most recent, decay factor
        key = users * shape[1] + items
        order = np.lexsort((w, key))
        last = np.r_[key[order][1:] != key[order][:-1], True]
        pick = order[last]
        users, items, w = users[pick], items[pick], w[pick]
    mat = sp.csr_array((w.astype(np.float32), (users, items)), shape=shape, dtype=np.float32)
    mat.sum_duplicates()
    return mat


def grow_csr(mat: sp.csr_array, shape: tuple[int, int]) -> sp.csr_array:
    """``mat`` with empty rows and columns appended up to ``shape`` (entries unchanged)."""
    extra = shape[0] - mat.shape[0]
    indptr = np.concatenate([mat.indptr, np.full(extra, mat.indptr[-1], mat.indptr.dtype)])
    return sp.csr_array((mat.data, mat.indices, indptr), shape=shape)


def fitted_columns(rows: sp.csr_array, n_fitted: int) -> sp.csr_array:
    """Profile rows restricted to the items the weights were fitted on (the first ones)."""
    return rows[:, :n_fitted] if rows.shape[1] > n_fitted else rows


def pad_unfitted(scores: np.ndarray, n_items: int) -> np.ndarray:
    """Score rows over all ``n_items``: NaN for items added after the fit (never recommended)."""
    if scores.shape[1] == n_items:
        return scores
    out = np.full((scores.shape[0], n_items), np.nan, np.float32)
    out[:, : scores.shape[1]] = scores
    return out


def tfidf_weight(x: sp.csr_array) -> sp.csr_array:
    r"""TF-IDF weighting of a users x items matrix, items as documents and users as terms.

    :math:`\tilde x_{ui} = \sqrt{x_{ui}}\;\log(N / n_u)`, with :math:`N` the number of items and
    :math:`n_u` the number of items user :math:`u` touched: heavy users say less about which items
    belong together.
    """
    idf = _user_idf(x)
    out = x.tocoo()
    out.data = (np.sqrt(out.data) * idf[out.row]).astype(np.float32)
    return out.tocsr()


def bm25_weight(x: sp.csr_array, k1: float, b: float) -> sp.csr_array:
    r"""Okapi BM25 weighting of a users x items matrix, items as documents and users as terms.

    :math:`\tilde x_{ui} = \frac{x_{ui}(k_1+1)}{k_1\,(1 - b + b\,L_i/\bar L) + x_{ui}}\;
    \log(N / n_u)`, with :math:`L_i` the item's total weight and :math:`\bar L` its mean over items.
    """
    idf = _user_idf(x)
    out = x.tocoo()
    length = np.asarray(x.sum(axis=0)).ravel()
    mean_length = length[length > 0].mean() if (length > 0).any() else 1.0
    norm = (1.0 - b) + b * length / mean_length
    data = out.data * (k1 + 1.0) / (k1 * norm[out.col] + out.data) * idf[out.row]
    out.data = data.astype(np.float32)
    return out.tocsr()


def _user_idf(x: sp.csr_array) -> np.ndarray:
    counts = np.diff(x.indptr).astype(np.float64)
    idf: np.ndarray = np.log(x.shape[1] / np.maximum(counts, 1.0))
    return idf
