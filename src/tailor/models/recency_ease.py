"""RecencyEASE: EASE made time-aware for temporal splits (recent profiles, recent trends)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs
from tailor.models._matrices import csr_from_params, csr_params
from tailor.models._similar import similar_items_recs
from tailor.models._sparse_kernels import csr_times_dense
from tailor.models.base import FitOptions, ModelConfig, RecommenderBase
from tailor.models.ease import check_memory, ease_weights

SECONDS_PER_DAY = 86_400.0


class RecencyEASEConfig(ModelConfig):
    """Hyperparameters of :class:`RecencyEASE`."""

    regularization: float = Field(500.0, gt=0.0)
    """L2 penalty :math:`\\lambda` on the item-item weights."""
    gram_half_life_days: float | None = Field(None, gt=0.0)
    """If set, a (user, item) pair last seen ``d`` days before the newest training interaction
    enters the Gram matrix with weight ``0.5 ** (d / h)``: recent co-occurrences count more."""
    profile_half_life: float | None = Field(None, gt=0.0)
    """If set, the ``k``-th most recent distinct item of a user (``k = 0`` the latest) weighs
    ``floor + (1 - floor) * 0.5 ** (k / h)`` in the profile that is scored: a user's next items
    follow their latest ones."""
    profile_floor: float = Field(0.0, ge=0.0, le=1.0)
    """Weight that every profile item keeps however old (only with ``profile_half_life``)."""
    popularity_weight: float = Field(0.0, ge=0.0)
    """Weight :math:`\\gamma` of the recent-popularity term blended into the normalised scores."""
    popularity_half_life_days: float = Field(7.0, gt=0.0)
    """Half-life of the recent-popularity term: a user's interaction ``d`` days before the newest
    one counts ``0.5 ** (d / h)``."""
    memory_budget_gb: float | None = Field(None, gt=0.0)
    """Memory the dense fit may use; None: half of the memory available (as for EASE)."""


class RecencyEASE(RecommenderBase[RecencyEASEConfig]):
    r"""EASE with recency-weighted co-occurrences, recency-weighted profiles and a trend blend.

    Weights: the EASE solution :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}\,P)`,
    :math:`B_{ii} = 0`, :math:`P = (G + \lambda I)^{-1}`, where :math:`G = X_g^\top X_g` and
    :math:`(X_g)_{ui} = 2^{-(t_{max} - t_{ui})/h_g}` (1 without ``gram_half_life_days``), with
    :math:`t_{ui}` the pair's latest interaction time. Prediction:

    .. math::
        \hat r_u = \frac{p_u B}{\max_j |(p_u B)_j|} + \gamma\,\frac{q}{\max_j q_j},\qquad
        p_{ui} = f + (1-f)\,2^{-k_{ui}/h_p},\qquad
        q_j = \sum_{u \ni j} 2^{-(t_{max} - t_{uj})/h_q}

    where :math:`k_{ui}` is the position of item :math:`i` in user :math:`u`'s distinct items,
    newest first (ties in time: later rows are newer), :math:`p_{ui} = 1` without
    ``profile_half_life``, and :math:`q` is the recency-decayed count of distinct users (the
    ``Popularity(half_life_days=h_q)`` score). The row normalisation (skipped for an all-zero row)
    puts the two terms on one scale; it does not change a row's order when :math:`\gamma = 0`.
    With all options off this is plain EASE up to that per-user scale.

    Stability: experimental.
    """

    config_class: ClassVar = RecencyEASEConfig
    name: ClassVar[str] = "recency-ease"

    weights: np.ndarray
    """float32 items x items matrix :math:`B` with a zero diagonal."""
    profiles: sp.csr_array
    """users x items float32 profile weights :math:`p_{ui}`."""
    trend: np.ndarray
    """float32 :math:`\\gamma q / \\max q` per item (zeros when :math:`\\gamma = 0`)."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        check_memory(data.n_items, cfg.memory_budget_gb)
        self.weights = ease_weights(
            decayed_pairs(data, cfg.gram_half_life_days), cfg.regularization
        )
        self.profiles = positional_profiles(data, cfg.profile_half_life, cfg.profile_floor)
        self.trend = np.zeros(data.n_items, np.float32)
        if cfg.popularity_weight > 0:
            recent = decayed_pairs(data, cfg.popularity_half_life_days)
            q = np.asarray(recent.sum(axis=0)).ravel()
            if q.max() > 0:
                self.trend = (cfg.popularity_weight * q / q.max()).astype(np.float32)

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        rows = self.profiles[user_nums]
        scores = csr_times_dense(rows.indptr, rows.indices, rows.data, self.weights)
        scale = np.abs(scores).max(axis=1, keepdims=True)
        scores /= np.where(scale > 0, scale, 1.0)
        scores += self.trend[None, :]
        return scores

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """Items with the largest weights :math:`B_{ij}` from each query item :math:`i`.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_items_recs(self, item_ids, n, lambda nums: self.weights[nums])

    @override
    def _get_params(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "trend": self.trend,
            **csr_params("profiles", self.profiles),
        }

    @override
    def _set_params(self, params: Mapping[str, np.ndarray]) -> None:
        self.weights = params["weights"]
        self.trend = params["trend"]
        self.profiles = csr_from_params("profiles", params)


def latest_pairs(data: Dataset) -> tuple[np.ndarray, ...]:
    """Distinct (user, item) pairs with the time and row of their latest interaction.

    Returns int64 arrays ``users, items, times, rows``; among equal times the later row wins.
    """
    inter = data.interactions
    users = inter.user_nums.astype(np.int64)
    items = inter.item_nums.astype(np.int64)
    row = np.arange(len(inter))
    key = users * data.n_items + items
    order = np.lexsort((row, inter.timestamps, key))
    last = np.r_[key[order][1:] != key[order][:-1], True] if len(inter) else np.zeros(0, bool)
    pick = order[last]
    return users[pick], items[pick], inter.timestamps[pick], row[pick]


def decayed_pairs(data: Dataset, half_life_days: float | None) -> sp.csr_array:
    r"""Users x items :math:`2^{-(t_{max} - t_{ui})/h}` per distinct pair (1 without ``h``).

    :math:`t_{ui}` is the pair's latest interaction, :math:`t_{max}` the newest training
    interaction of all users: a global clock, so old co-occurrences and old popularity fade.
    """
    users, items, times, _ = latest_pairs(data)
    weights = np.ones(len(users))
    if half_life_days is not None and len(users):
        weights = np.exp2(-(times.max() - times) / SECONDS_PER_DAY / half_life_days)
    return _csr(data, users, items, weights)


def positional_profiles(data: Dataset, half_life: float | None, floor: float) -> sp.csr_array:
    r"""Users x items profile weights :math:`f + (1-f)\,2^{-k/h}` by recency rank :math:`k`.

    :math:`k` counts a user's distinct items from the most recently touched one (:math:`k = 0`);
    a pair's time is its latest interaction, ties broken by row order (later rows are newer).
    Without a half-life every seen pair weighs 1.
    """
    u, i, times, rows = latest_pairs(data)
    weights = np.ones(len(u))
    if half_life is not None and len(u):
        # newest first within each user: sort by (user, -time, -row)
        newest = np.lexsort((-rows, -times, u))
        starts = np.searchsorted(u[newest], u[newest], side="left")
        rank = np.empty(len(u))
        rank[newest] = np.arange(len(u)) - starts
        weights = floor + (1.0 - floor) * np.exp2(-rank / half_life)
    return _csr(data, u, i, weights)


def _csr(data: Dataset, users: np.ndarray, items: np.ndarray, weights: np.ndarray) -> sp.csr_array:
    mat = sp.csr_array(
        (weights.astype(np.float32), (users, items)),
        shape=(data.n_users, data.n_items),
        dtype=np.float32,
    )
    mat.sum_duplicates()
    return mat
