"""Popularity: the most popular items, optionally time-decayed, globally or per category."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from typing_extensions import override

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.models._matrices import NO_TIME, grow_csr
from tailor.models._params import Dense, ParamSpec, Sparse
from tailor.models.base import FitOptions, FoldIn, ModelConfig, RecommenderBase, top_n
from tailor.units import SECONDS_PER_DAY


class PopularityConfig(ModelConfig):
    """Hyperparameters of :class:`Popularity`.

    The defaults (distinct users, no decay) are also every fallback's (``tailor fit`` writes
    ``Popularity()`` as ``popularity/``; serving, ``tailor recommend`` and evaluation answer
    unknown users with it), so they stay plain counts. For a shop's cold-start list a recent
    trend is better: ``half_life_days=7`` won on average over the benchmark data sets
    (``bench/accuracy/defaults.py``, docs/benchmarks.md: Online Retail validation NDCG@10 0.072
    vs 0.035, ML-100K 0.060 vs 0.087)."""

    measure: Literal["users", "count", "weight"] = "users"
    """What popularity counts: distinct users, interactions, or summed interaction weights."""
    half_life_days: float | None = None
    """If set, an interaction ``d`` days older than the newest one counts ``0.5 ** (d / h)``
    (recent trends); None counts every interaction alike."""


class Popularity(RecommenderBase[PopularityConfig]):
    r"""Recommend the most popular items the user has not seen.

    Score of item :math:`i`: :math:`s_i = \sum_{(u,i,t) \in D} w(u,i,t)\,2^{-(t_{max}-t)/h}`, where
    :math:`w` is 1 per distinct user (``users``), 1 per interaction (``count``) or the interaction
    weight (``weight``), and the decay factor is 1 when no half-life :math:`h` is set. Every user
    gets the same ranking; ``top_items(category=...)`` gives it per catalog category. It is also
    the serving fallback.

    **Fold-in** (``partial_fit``): the scores become those of a fit on all interactions so far
    (the fitted ones and every batch): with a half-life, older contributions are rescaled by
    :math:`2^{-(t'_{max} - t_{max})/h}` when the batch holds newer interactions; ``users``
    counts a (user, item) pair once, by its latest interaction (the model keeps each pair's
    latest time, ``pair_times``, only in that mode with a half-life). Up to float32 rounding the
    result equals a fit on the union (exactly for counts without a half-life; tested). New items
    get the category code -1 (unknown) until the next fit with a catalog.

    Stability: stable.
    """

    config_class: ClassVar = PopularityConfig
    name: ClassVar[str] = "popularity"
    params_spec: ClassVar[ParamSpec] = {
        "item_scores": Dense("f", ("items",)),
        "item_categories": Dense("i", ("items",)),
        "categories": Dense("U", ("categories",)),
        "newest": Dense("i", (1,)),
        "pair_times": Sparse("i", ("users", "items")),
    }

    item_scores: np.ndarray
    """float32 popularity of each item."""
    item_categories: np.ndarray
    """int32 category code of each item (-1 when unknown)."""
    categories: np.ndarray
    """Category names, indexed by code."""
    newest: np.ndarray
    """int64 array of one value: the newest interaction time (the origin of the decay; the
    smallest int64 when there were none)."""
    pair_times: sp.csr_array
    """users x items int64 latest interaction time of each pair: kept for ``partial_fit`` with
    ``measure="users"`` and a half-life, empty otherwise."""

    @property
    @override
    def uses_weights(self) -> bool:
        return self.config.measure == "weight"

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        inter = data.interactions
        self.newest = np.array([inter.timestamps.max(initial=NO_TIME)], np.int64)
        self.pair_times = sp.csr_array((data.n_users, data.n_items), dtype=np.int64)
        if self._keeps_pair_times:
            self.pair_times = _latest_times(
                inter.user_nums, inter.item_nums, inter.timestamps, (data.n_users, data.n_items)
            )
            self.item_scores = self._decayed_pair_sums(data.n_items)
        else:
            _, items, weights = self._contributions(inter)
            self.item_scores = np.bincount(items, weights, minlength=data.n_items).astype(
                np.float32
            )
        self._fit_categories(data)

    @property
    def _keeps_pair_times(self) -> bool:
        return self.config.measure == "users" and self.config.half_life_days is not None

    def _contributions(self, inter: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, items, float64 weights) each interaction adds, decayed from ``newest``; for
        ``users`` one entry per distinct pair (its largest weight)."""
        cfg = self.config
        weights = (
            inter.weights.astype(np.float64) if cfg.measure == "weight" else np.ones(len(inter))
        )
        if cfg.half_life_days is not None and len(inter):
            age_days = (self.newest[0] - inter.timestamps) / SECONDS_PER_DAY
            weights = weights * np.exp2(-age_days / cfg.half_life_days)
        if cfg.measure != "users":
            return inter.user_nums, inter.item_nums, weights
        # one contribution per (user, item): the most recent (largest decayed weight) one
        frame = pd.DataFrame({"u": inter.user_nums, "i": inter.item_nums, "w": weights})
        per_pair = frame.groupby(["u", "i"], sort=False)["w"].max()
        index = per_pair.index
        return (
            index.get_level_values("u").to_numpy(),
            index.get_level_values("i").to_numpy(),
            per_pair.to_numpy(),
        )

    def _decayed_pair_sums(self, n_items: int) -> np.ndarray:
        """Per item: the sum over its pairs of :math:`2^{-(t_{max} - t_{ui})/h}` (float32)."""
        times = self.pair_times.tocoo()
        h = float(self.config.half_life_days or 1.0)
        decay = np.exp2(-((self.newest[0] - times.data) / SECONDS_PER_DAY) / h)
        return np.bincount(times.col, decay, minlength=n_items).astype(np.float32)

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        batch = fold.batch
        inter = batch.interactions
        n_items = batch.n_items
        categories = np.full(n_items, -1, np.int32)
        categories[: fold.n_items] = self.item_categories
        self.item_categories = categories
        old = self.newest[0]
        self.newest = np.array([max(old, inter.timestamps.max(initial=NO_TIME))], np.int64)
        shape = (batch.n_users, n_items)
        if self._keeps_pair_times:
            both = grow_csr(self.pair_times, shape).tocoo()
            self.pair_times = _latest_times(
                np.concatenate([both.row, inter.user_nums]),
                np.concatenate([both.col, inter.item_nums]),
                np.concatenate([both.data, inter.timestamps]),
                shape,
            )
            self.item_scores = self._decayed_pair_sums(n_items)
            return
        self.pair_times = sp.csr_array(shape, dtype=np.int64)
        scores = np.zeros(n_items, np.float64)
        scores[: fold.n_items] = self.item_scores
        h = self.config.half_life_days
        if h is not None and old != NO_TIME and self.newest[0] > old:
            scores *= np.exp2(-((self.newest[0] - old) / SECONDS_PER_DAY) / h)
        users, items, weights = self._contributions(inter)
        if self.config.measure == "users":  # pairs seen before count once already
            known = _holds(fold.seen, users, items)
            items, weights = items[~known], weights[~known]
        scores += np.bincount(items, weights, minlength=n_items)
        self.item_scores = scores.astype(np.float32)

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
        self.require_fitted()
        scores = self.item_scores.copy()
        if category is not None:
            code = np.flatnonzero(self.categories == category)
            scores[self.item_categories != (code[0] if len(code) else -2)] = -np.inf
        idx, vals = top_n(scores[None, :], n)
        keep = np.isfinite(vals[0]) & (vals[0] > 0)
        return pd.DataFrame(
            {Columns.ITEM_ID: self.items.id_of(idx[0][keep]), Columns.SCORE: vals[0][keep]}
        )


def _latest_times(
    users: np.ndarray, items: np.ndarray, times: np.ndarray, shape: tuple[int, int]
) -> sp.csr_array:
    """users x items int64 CSR of each pair's latest time."""
    key = users.astype(np.int64) * shape[1] + items.astype(np.int64)
    order = np.lexsort((times, key))
    last = order[np.r_[key[order][1:] != key[order][:-1], True]] if len(key) else order
    return sp.csr_array(
        (times[last].astype(np.int64), (users[last], items[last])), shape=shape, dtype=np.int64
    )


def _holds(mat: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether ``mat`` (CSR) has an entry at each (row, col); False outside its shape."""
    out = np.zeros(len(rows), bool)
    inside = np.flatnonzero((rows < mat.shape[0]) & (cols < mat.shape[1]))
    if not len(inside):
        return out
    n_cols = np.int64(mat.shape[1])
    touched = np.unique(rows[inside]).astype(np.int64)
    sub = mat[touched]
    entry_keys = np.repeat(touched, np.diff(sub.indptr)) * n_cols + sub.indices
    query = rows[inside].astype(np.int64) * n_cols + cols[inside]
    out[inside] = np.isin(query, entry_keys)
    return out
