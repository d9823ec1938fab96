r"""Top-N accuracy metrics over the full candidate set, as vectorised matrix reductions.

Every function takes the *gain matrix* of a batch of users: row ``u`` holds, for positions
:math:`j = 1..K` of the user's recommendation list, the relevance :math:`g_{uj}` of the item
recommended there (0 when it is not relevant, or when the list is shorter than :math:`j`), and
returns one value per user. No sampled negatives: a list is judged against all of the user's
held-out items, whatever the rest of the catalogue is.

Conventions shared by every metric (stated once here, repeated in each docstring):

* **relevant** means relevance :math:`> 0`; :math:`R_u` is the number of the user's relevant
  items. Users with :math:`R_u = 0` are excluded by the runner (and counted in
  ``n_users_without_relevant``); the functions return 0 for them.
* **fewer than K recommendations**: missing positions have gain 0, the denominator does not
  shrink (Precision@K still divides by K), as in trec_eval and ranx.
* **users without any recommendation** have an all-zero row and score 0 on every metric.
* **ties**: positions are the order of the list as given (rank, else score descending, ties by
  file order); the metric never re-breaks ties.
* **repeated items**: an item repeated in one list is relevant only at its first position.

Stability: stable.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from tailor.types import NPMatrix, NPVector

Gain: TypeAlias = Literal["linear", "exponential"]
MapDenominator: TypeAlias = Literal["min", "relevant"]


def discounts(width: int) -> NPVector:
    r"""Position discounts :math:`1 / \log_2(j + 1)` for :math:`j = 1..width`."""
    return 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))


def gain_values(relevance: NPMatrix, gain: Gain = "linear") -> NPMatrix:
    r"""Relevance turned into gain: linear :math:`g = rel` (Järvelin & Kekäläinen 2002, ranx
    ``ndcg``) or exponential :math:`g = 2^{rel} - 1` (Burges et al. 2005, ranx ``ndcg_burges``).

    With binary relevance (all 1) both give :math:`g = 1`.
    """
    if gain == "linear":
        return relevance
    if gain == "exponential":
        return np.exp2(relevance) - 1.0
    raise ValueError(f"unknown gain {gain!r}; use 'linear' or 'exponential'")


def dcg(gains: NPMatrix, k: int) -> NPVector:
    r"""Discounted cumulative gain :math:`DCG_u@K = \sum_{j=1}^{K} g_{uj} / \log_2(j+1)`."""
    width = min(k, gains.shape[1])
    return gains[:, :width] @ discounts(width)


def ndcg(gains: NPMatrix, ideal: NPMatrix, k: int) -> NPVector:
    r"""Normalised DCG: :math:`NDCG_u@K = DCG_u@K / IDCG_u@K`.

    :math:`IDCG_u@K` is the DCG of the user's relevant items sorted by gain, descending (``ideal``
    holds those gains, zero-padded). Graded relevance enters through the gains (see
    :func:`gain_values`); binary relevance is all gains 1, so
    :math:`IDCG_u@K = \sum_{j=1}^{\min(R_u, K)} 1/\log_2(j+1)`.

    Edge cases: :math:`R_u = 0` gives 0 (IDCG is 0); fewer than K recommendations or none at all
    only lower DCG; ties are not re-broken. Range [0, 1].
    """
    ideal_dcg = dcg(ideal, k)
    out = np.zeros(len(gains))
    np.divide(dcg(gains, k), ideal_dcg, out=out, where=ideal_dcg > 0)
    return out


def hits_at(hits: NPMatrix, k: int) -> NPVector:
    """Number of relevant items among the first ``k`` positions of each list."""
    return hits[:, : min(k, hits.shape[1])].sum(axis=1, dtype=np.float64)


def precision(hits: NPMatrix, k: int) -> NPVector:
    r"""Precision@K :math:`= |\{j \le K : rel_{uj} > 0\}| / K`.

    Edge cases: a list shorter than K still divides by K (ranx, trec_eval); no recommendations
    gives 0; :math:`R_u < K` caps the attainable value at :math:`R_u / K`.
    """
    return hits_at(hits, k) / k


def recall(hits: NPMatrix, n_relevant: NPVector, k: int) -> NPVector:
    r"""Recall@K :math:`= |\{j \le K : rel_{uj} > 0\}| / R_u`.

    Edge cases: :math:`R_u = 0` gives 0; fewer than K or no recommendations only lower the
    numerator. Range [0, 1].
    """
    out = np.zeros(len(hits))
    np.divide(hits_at(hits, k), n_relevant, out=out, where=n_relevant > 0)
    return out


def hit_rate(hits: NPMatrix, k: int) -> NPVector:
    r"""HitRate@K :math:`= 1` if any of the first K positions is relevant, else 0.

    Edge cases: no recommendations or :math:`R_u = 0` gives 0.
    """
    return (hits_at(hits, k) > 0).astype(np.float64)


def reciprocal_rank(hits: NPMatrix, k: int) -> NPVector:
    r"""Reciprocal rank@K :math:`= 1 / p_u` where :math:`p_u` is the first relevant position,
    or 0 when none of the first K positions is relevant. Its mean over users is MRR@K.

    Edge cases: no recommendations or :math:`R_u = 0` gives 0.
    """
    top = hits[:, : min(k, hits.shape[1])] > 0
    first = top.argmax(axis=1)
    found = top[np.arange(len(top)), first] if len(top) and top.shape[1] else np.zeros(0, bool)
    return np.where(found, 1.0 / (first + 1.0), 0.0)


def average_precision(
    hits: NPMatrix, n_relevant: NPVector, k: int, denominator: MapDenominator = "min"
) -> NPVector:
    r"""Average precision@K; its mean over users is MAP@K.

    .. math:: AP_u@K = \frac{1}{D_u} \sum_{j=1}^{K} P_u@j \cdot [rel_{uj} > 0]

    with :math:`D_u = \min(R_u, K)` (``denominator="min"``, the default: a perfect list scores 1
    even when the user has more than K relevant items) or :math:`D_u = R_u`
    (``denominator="relevant"``: trec_eval's and ranx's ``map@k``, which cannot reach 1 when
    :math:`R_u > K`).

    Edge cases: :math:`R_u = 0` gives 0; a list shorter than K contributes only its own
    positions; no recommendations gives 0.
    """
    width = min(k, hits.shape[1])
    top = hits[:, :width].astype(np.float64)
    precision_at_j = np.cumsum(top, axis=1) / np.arange(1, width + 1)
    total = (precision_at_j * top).sum(axis=1)
    denom = np.minimum(n_relevant, k) if denominator == "min" else n_relevant
    out = np.zeros(len(hits))
    np.divide(total, denom, out=out, where=denom > 0)
    return out


def accuracy_at(
    gains: NPMatrix,
    ideal: NPMatrix,
    n_relevant: NPVector,
    ks: list[int],
    denominator: MapDenominator = "min",
) -> dict[str, NPVector]:
    """Every accuracy metric at every k in ``ks``, sharing one cumulative sum per quantity.

    The same definitions as :func:`ndcg`, :func:`precision`, :func:`recall`,
    :func:`average_precision`, :func:`reciprocal_rank` and :func:`hit_rate` (tests check they
    agree); this only avoids recomputing prefix sums for each k.

    Returns:
        ``{"ndcg@k": ..., "precision@k": ..., ...}`` per-user arrays.
    """
    width = min(max(ks), gains.shape[1])
    top = gains[:, :width]
    hit = np.asfortranarray(top > 0)
    cum_hits = _prefix_sums(hit)
    cum_ap = _prefix_sums(np.where(hit, cum_hits / np.arange(1, width + 1), 0.0))
    # no hit: first = inf, so mrr is 0 at every k, also at k beyond the lists' width
    first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.inf)
    out: dict[str, NPVector] = {}
    for k in ks:
        col = min(k, width) - 1
        n_hits = cum_hits[:, col]
        out[f"ndcg@{k}"] = ndcg(top, ideal, k)
        out[f"precision@{k}"] = n_hits / k
        out[f"recall@{k}"] = np.divide(
            n_hits, n_relevant, out=np.zeros(len(top)), where=n_relevant > 0
        )
        denom = np.minimum(n_relevant, k) if denominator == "min" else n_relevant
        out[f"map@{k}"] = np.divide(cum_ap[:, col], denom, out=np.zeros(len(top)), where=denom > 0)
        out[f"mrr@{k}"] = np.where(first <= k, 1.0 / first, 0.0)
        out[f"hit_rate@{k}"] = (n_hits > 0).astype(np.float64)
    return out


def _prefix_sums(matrix: np.ndarray) -> np.ndarray:
    """Cumulative sums along rows, column by column (fast for many short rows)."""
    out = np.asfortranarray(matrix, dtype=np.float64).copy(order="F")
    for j in range(1, out.shape[1]):
        out[:, j] += out[:, j - 1]
    return out


def rmse(predicted: NPVector, actual: NPVector) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac{1}{n}\sum_r (\hat y_r - y_r)^2}`.

    Edge cases: empty input raises ValueError; NaN predictions (pairs a model cannot score) must
    be dropped or filled by the caller, since one NaN makes the result NaN.
    """
    err = _errors(predicted, actual)
    return float(np.sqrt(np.mean(err**2)))


def mae(predicted: NPVector, actual: NPVector) -> float:
    r"""Mean absolute error :math:`\frac{1}{n}\sum_r |\hat y_r - y_r|`.

    Edge cases: as :func:`rmse`.
    """
    return float(np.mean(np.abs(_errors(predicted, actual))))


def _errors(predicted: NPVector, actual: NPVector) -> NPVector:
    pred = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(actual, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError("predicted and actual must have the same length")
    if pred.size == 0:
        raise ValueError("no ratings to compare")
    return pred - true


METRIC_NAMES = ("ndcg", "precision", "recall", "map", "mrr", "hit_rate")
"""The accuracy metrics, in report order; keys are ``f"{name}@{k}"``."""
