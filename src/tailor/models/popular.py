"""Popularity: the most popular items, optionally time-decayed, globally or per category."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from typing_extensions import override

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.models._params import Dense, ParamSpec
from tailor.models.base import FitOptions, ModelConfig, RecommenderBase, top_n

SECONDS_PER_DAY = 86_400.0


class PopularityConfig(ModelConfig):
    """Hyperparameters of :class:`Popularity`."""

    measure: Literal["users", "count", "weight"] = "users"
    """What popularity counts: distinct users, interactions, or summed interaction weights."""
    half_life_days: float | None = None
    """If set, an interaction ``d`` days older than the newest one counts ``0.5 ** (d / h)``."""


class Popularity(RecommenderBase[PopularityConfig]):
    r"""Recommend the most popular items the user has not seen.

    Score of item :math:`i`: :math:`s_i = \sum_{(u,i,t) \in D} w(u,i,t)\,2^{-(t_{max}-t)/h}`, where
    :math:`w` is 1 per distinct user (``users``), 1 per interaction (``count``) or the interaction
    weight (``weight``), and the decay factor is 1 when no half-life :math:`h` is set. Every user
    gets the same ranking; ``top_items(category=...)`` gives it per catalog category. It is also
    the serving fallback.

    Stability: stable.
    """

    config_class: ClassVar = PopularityConfig
    name: ClassVar[str] = "popularity"
    params_spec: ClassVar[ParamSpec] = {
        "item_scores": Dense("f", ("items",)),
        "item_categories": Dense("i", ("items",)),
        "categories": Dense("U", ("categories",)),
    }

    item_scores: np.ndarray
    """float32 popularity of each item."""
    item_categories: np.ndarray
    """int32 category code of each item (-1 when unknown)."""
    categories: np.ndarray
    """Category names, indexed by code."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        inter = data.interactions
        cfg = self.config
        weights = (
            inter.weights.astype(np.float64) if cfg.measure == "weight" else np.ones(len(inter))
        )
        if cfg.half_life_days is not None and len(inter):
            age_days = (inter.timestamps.max() - inter.timestamps) / SECONDS_PER_DAY
            weights = weights * np.exp2(-age_days / cfg.half_life_days)
        if cfg.measure == "users":
            # one contribution per (user, item): the most recent (largest decayed weight) one
            frame = pd.DataFrame({"u": inter.user_nums, "i": inter.item_nums, "w": weights})
            per_pair = frame.groupby(["u", "i"], sort=False)["w"].max()
            items, weights = per_pair.index.get_level_values("i").to_numpy(), per_pair.to_numpy()
        else:
            items = inter.item_nums
        self.item_scores = np.bincount(items, weights, minlength=data.n_items).astype(np.float32)
        self._fit_categories(data)

    def _fit_categories(self, data: Dataset) -> None:
        feats = data.item_features
        if feats is None or Columns.CATEGORY not in feats.columns:
            self.item_categories = np.full(data.n_items, -1, np.int32)
            self.categories = np.array([], dtype=str)
            return
        codes, names = pd.factorize(feats[Columns.CATEGORY].astype("string"), sort=True)
        self.item_categories = codes.astype(np.int32)
        self.categories = np.asarray(names, dtype=str)

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(user_nums), len(self.item_scores)))

    def top_items(self, n: int = 10, category: str | None = None) -> pd.DataFrame:
        """The ``n`` most popular items (item_id, score), optionally within one category.

        An unknown category gives an empty frame.
        """
        self._require_fitted()
        scores = self.item_scores.copy()
        if category is not None:
            code = np.flatnonzero(self.categories == category)
            scores[self.item_categories != (code[0] if len(code) else -2)] = -np.inf
        idx, vals = top_n(scores[None, :], n)
        keep = np.isfinite(vals[0]) & (vals[0] > 0)
        return pd.DataFrame(
            {Columns.ITEM_ID: self.items.id_of(idx[0][keep]), Columns.SCORE: vals[0][keep]}
        )

    @override
    def _get_params(self) -> dict[str, np.ndarray]:
        return {
            "item_scores": self.item_scores,
            "item_categories": self.item_categories,
            "categories": self.categories,
        }

    @override
    def _set_params(self, params: Mapping[str, np.ndarray]) -> None:
        self.item_scores = params["item_scores"]
        self.item_categories = params["item_categories"]
        self.categories = params["categories"]
