"""Numba kernels of :class:`tailor.models.mf_sgd.SGDMF`: one SGD epoch per loss.

Every kernel walks the training examples in the order given by ``order`` (a permutation drawn by
the caller from a seeded numpy Generator), updates the factor arrays in place, and is
single-threaded, so the same inputs give the same factors bit for bit on a given machine.
Arithmetic is float32; only the loss accumulators are float64. ``item_trainable`` freezes item
rows (fold-in). The bodies mirror the update rules in ``SGDMF``'s docstring;
``tests/models/test_mf_sgd.py`` holds a slow pure-Python reference that must agree with them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FASTMATH = {"reassoc", "contract", "nsz"}
"""LLVM may reorder the float32 sums of dot products and updates into SIMD lanes (about 1.5x
faster). The result is still deterministic for a given machine; it differs from a strictly
sequential sum only by rounding. NaN/inf semantics are kept, so divergence is still detected."""


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def rmse_epoch(
    user_nums: np.ndarray,
    item_nums: np.ndarray,
    ratings: np.ndarray,
    weights: np.ndarray,
    order: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    item_trainable: np.ndarray,
    global_mean: float,
    learning_rate: float,
    regularization: float,
    bias_regularization: float,
) -> float:
    """One pass of biased-MF SGD on squared error; returns the weighted sum of squared errors.

    For each example (u, i, r, w): e = r - (mu + b_u + b_i + p_u.q_i), then
    b_u += lr (w e - lb b_u), b_i += lr (w e - lb b_i), p_u += lr (w e q_i - l p_u),
    q_i += lr (w e p_u - l q_i), all from the pre-update values.
    """
    k = user_factors.shape[1]
    mu = np.float32(global_mean)
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    breg = np.float32(bias_regularization)
    total = 0.0
    for idx in order:
        u = user_nums[idx]
        i = item_nums[idx]
        pred = mu + user_bias[u] + item_bias[i]
        for f in range(k):
            pred += user_factors[u, f] * item_factors[i, f]
        err = ratings[idx] - pred
        total += weights[idx] * err * err
        g = weights[idx] * err
        user_bias[u] += lr * (g - breg * user_bias[u])
        if item_trainable[i]:
            item_bias[i] += lr * (g - breg * item_bias[i])
            for f in range(k):
                puf = user_factors[u, f]
                qif = item_factors[i, f]
                user_factors[u, f] = puf + lr * (g * qif - reg * puf)
                item_factors[i, f] = qif + lr * (g * puf - reg * qif)
        else:
            for f in range(k):
                puf = user_factors[u, f]
                user_factors[u, f] = puf + lr * (g * item_factors[i, f] - reg * puf)
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def is_seen(indptr: np.ndarray, indices: np.ndarray, u: int, j: int) -> bool:
    """Whether item ``j`` is in user ``u``'s row of a CSR matrix with sorted indices."""
    lo = indptr[u]
    hi = indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return bool(lo < indptr[u + 1] and indices[lo] == j)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _pair_step(
    u: int,
    i: int,
    j: int,
    g: np.float32,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    item_trainable: np.ndarray,
    lr: np.float32,
    reg: np.float32,
    breg: np.float32,
) -> None:
    """Push s(u,i) up and s(u,j) down with gradient scale ``g`` (shared by BPR and WARP)."""
    if item_trainable[i]:
        item_bias[i] += lr * (g - breg * item_bias[i])
    if item_trainable[j]:
        item_bias[j] += lr * (-g - breg * item_bias[j])
    for f in range(user_factors.shape[1]):
        puf = user_factors[u, f]
        qif = item_factors[i, f]
        qjf = item_factors[j, f]
        user_factors[u, f] = puf + lr * (g * (qif - qjf) - reg * puf)
        if item_trainable[i]:
            item_factors[i, f] = qif + lr * (g * puf - reg * qif)
        if item_trainable[j]:
            item_factors[j, f] = qjf + lr * (-g * puf - reg * qjf)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _item_score(
    u: int, i: int, user_factors: np.ndarray, item_factors: np.ndarray, item_bias: np.ndarray
) -> np.float32:
    """s(u,i) = b_i + p_u.q_i."""
    s = item_bias[i]
    for f in range(user_factors.shape[1]):
        s += user_factors[u, f] * item_factors[i, f]
    return np.float32(s)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def bpr_epoch(
    user_nums: np.ndarray,
    item_nums: np.ndarray,
    weights: np.ndarray,
    order: np.ndarray,
    negatives: np.ndarray,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    item_trainable: np.ndarray,
    learning_rate: float,
    regularization: float,
    bias_regularization: float,
) -> tuple[float, int]:
    """One pass of BPR SGD; returns (weighted sum of -log sigmoid(x_uij), number of updates).

    For each positive (u, i, w) and each pre-drawn negative j of its row in ``negatives`` that
    the user has not seen: x = s(u,i) - s(u,j) with s(u,i) = b_i + p_u.q_i, g = w sigmoid(-x), then
    b_i += lr (g - lb b_i), b_j += lr (-g - lb b_j), p_u += lr (g (q_i - q_j) - l p_u),
    q_i += lr (g p_u - l q_i), q_j += lr (-g p_u - l q_j). Seen negatives are skipped.
    """
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    breg = np.float32(bias_regularization)
    total = 0.0
    count = 0
    for idx in order:
        u = user_nums[idx]
        i = item_nums[idx]
        for s in range(negatives.shape[1]):
            j = negatives[idx, s]
            if is_seen(seen_indptr, seen_indices, u, j):
                continue
            x = _item_score(u, i, user_factors, item_factors, item_bias) - _item_score(
                u, j, user_factors, item_factors, item_bias
            )
            # softplus(-x), overflow-safe; sigmoid(-x) saturates to 0 when exp(x) overflows
            xf = float(x)
            total += weights[idx] * (max(-xf, 0.0) + math.log1p(math.exp(-abs(xf))))
            g = np.float32(weights[idx] / (np.float32(1.0) + np.exp(x)))
            count += 1
            _pair_step(
                u, i, j, g, user_factors, item_factors, item_bias, item_trainable, lr, reg, breg
            )
    return total, count


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def warp_epoch(
    user_nums: np.ndarray,
    item_nums: np.ndarray,
    weights: np.ndarray,
    order: np.ndarray,
    negatives: np.ndarray,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    harmonic: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
    item_trainable: np.ndarray,
    learning_rate: float,
    regularization: float,
    bias_regularization: float,
) -> tuple[float, int]:
    """One pass of WARP SGD; returns (weighted sum of the WARP losses, number of updates).

    For each positive (u, i, w), walk its row of pre-drawn candidates (skipping seen items) until
    one violates the margin, s(u,j) > s(u,i) - 1, after N unseen trials. The rank of i is estimated
    as r = floor((n_items - 1) / N) and weighted by L(r) = ``harmonic[r - 1]`` (the caller's
    table, e.g. normalised harmonic numbers);
    the pair step of BPR is then taken with g = w L(r). No violator: no update.
    """
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    breg = np.float32(bias_regularization)
    n_items = item_factors.shape[0]
    total = 0.0
    count = 0
    for idx in order:
        u = user_nums[idx]
        i = item_nums[idx]
        s_i = _item_score(u, i, user_factors, item_factors, item_bias)
        trials = 0
        for s in range(negatives.shape[1]):
            j = negatives[idx, s]
            if is_seen(seen_indptr, seen_indices, u, j):
                continue
            trials += 1
            s_j = _item_score(u, j, user_factors, item_factors, item_bias)
            if s_j > s_i - np.float32(1.0):
                rank = max((n_items - 1) // trials, 1)
                g = np.float32(weights[idx] * harmonic[rank - 1])
                total += float(g * (np.float32(1.0) - s_i + s_j))
                count += 1
                _pair_step(
                    u, i, j, g, user_factors, item_factors, item_bias, item_trainable, lr, reg, breg
                )
                break
    return total, count
