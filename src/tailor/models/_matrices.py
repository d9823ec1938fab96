"""Sparse-matrix helpers shared by the neighbourhood and linear models (ItemKNN, EASE).

Kept apart from the models so the weighting formulas are written (and tested) once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from tailor.data.dataset import Dataset

SECONDS_PER_DAY = 86_400.0


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
    n = len(inter)
    users = inter.user_nums.astype(np.int64)
    items = inter.item_nums.astype(np.int64)
    w = np.ones(n) if binary else inter.weights.astype(np.float64)
    if half_life_days is not None and n:
        # age from the user's own newest interaction: ranks as a global reference would (a
        # constant factor per user) without underflowing to 0 for long-inactive users
        newest = np.full(data.n_users, np.iinfo(np.int64).min, np.int64)
        np.maximum.at(newest, users, inter.timestamps)
        age_days = (newest[users] - inter.timestamps) / SECONDS_PER_DAY
        w = w * np.exp2(-age_days / half_life_days)
    if binary and n:
        # keep one entry per (user, item): the largest, i.e. most recent, decay factor
        key = users * data.n_items + items
        order = np.lexsort((w, key))
        last = np.r_[key[order][1:] != key[order][:-1], True]
        pick = order[last]
        users, items, w = users[pick], items[pick], w[pick]
    mat = sp.csr_array(
        (w.astype(np.float32), (users, items)),
        shape=(data.n_users, data.n_items),
        dtype=np.float32,
    )
    mat.sum_duplicates()
    return mat


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
    return np.log(x.shape[1] / np.maximum(counts, 1.0))


def csr_params(prefix: str, mat: sp.csr_array) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for params.npz (keys ``prefix_data`` ... ``prefix_shape``)."""
    return {
        f"{prefix}_data": mat.data,
        f"{prefix}_indices": mat.indices,
        f"{prefix}_indptr": mat.indptr,
        f"{prefix}_shape": np.asarray(mat.shape, np.int64),
    }


def csr_from_params(prefix: str, params: Mapping[str, np.ndarray]) -> sp.csr_array:
    """Inverse of :func:`csr_params`."""
    shape = tuple(int(s) for s in params[f"{prefix}_shape"])
    return sp.csr_array(
        (params[f"{prefix}_data"], params[f"{prefix}_indices"], params[f"{prefix}_indptr"]),
        shape=shape,
    )
