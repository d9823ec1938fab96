"""RecencyEASE: EASE made time-aware for temporal splits (recent profiles, recent trends)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs
from tailor.models._deferred import DeferredWeightsModel
from tailor.models._gram_inverse import PendingFold
from tailor.models._matrices import fitted_columns, grow_csr, pad_unfitted
from tailor.models._params import Dense, ParamSpec, Sparse
from tailor.models._sparse_kernels import csr_times_dense
from tailor.models.base import FitOptions, FoldIn, ModelConfig
from tailor.models.ease import check_memory, ease_weights, similar_by_weights
from tailor.units import SECONDS_PER_DAY


class RecencyEASEConfig(ModelConfig):
    """Hyperparameters of :class:`RecencyEASE`. Defaults: the best on average over the benchmark
    data sets (``bench/accuracy/defaults.py``, docs/benchmarks.md): recency-weighted profiles and
    a small long-term trend blend; set ``profile_half_life=None, popularity_weight=0`` for plain
    EASE."""

    regularization: float = Field(450.0, gt=0.0)
    """L2 penalty :math:`\\lambda` on the item-item weights."""
    gram_half_life_days: float | None = Field(None, gt=0.0)
    """If set, a (user, item) pair last seen ``d`` days before the newest training interaction
    enters the Gram matrix with weight ``0.5 ** (d / h)``: recent co-occurrences count more."""
    profile_half_life: float | None = Field(10.0, gt=0.0)
    """If set, the ``k``-th most recent distinct item of a user (``k = 0`` the latest) weighs
    ``floor + (1 - floor) * 0.5 ** (k / h)`` in the profile that is scored: a user's next items
    follow their latest ones."""
    profile_floor: float = Field(0.01, ge=0.0, le=1.0)
    """Weight that every profile item keeps however old (only with ``profile_half_life``)."""
    popularity_weight: float = Field(0.026, ge=0.0)
    """Weight :math:`\\gamma` of the recent-popularity term blended into the normalised scores."""
    popularity_half_life_days: float = Field(55.0, gt=0.0)
    """Half-life of the recent-popularity term: a user's interaction ``d`` days before the newest
    one counts ``0.5 ** (d / h)``."""
    memory_budget_gb: float | None = Field(None, gt=0.0)
    """Memory the dense fit may use; None: half of the memory available (as for EASE)."""


class RecencyEASE(DeferredWeightsModel[RecencyEASEConfig]):
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

    **Fold-in** (``partial_fit``): :math:`B` moves with the batch as a fit on the union would
    move it. The model keeps :math:`P = (G + \lambda I)^{-1}` in memory (float32, not saved:
    rebuilt from :math:`B` and the saved pairs in :math:`O(n^2)` by the first fold-in after a
    load) and applies the batch users' change of :math:`X_g` as a Woodbury update, about
    :math:`4 n^2 r` operations for :math:`r` users whose pairs changed (``_gram_inverse``); items
    new to the model join :math:`P` and :math:`B` (a row and column each), so they are scored
    from their co-occurrences and the trend at once. Without ``gram_half_life_days`` the result
    is a fit on the union's :math:`B` up to float32 rounding. With it the kept Gram measures the
    decay from the clock it was solved at (the fit's :math:`t_{max}`), which equals a fit on the
    union with :math:`\lambda\,2^{-2\Delta/h_g}`, :math:`\Delta` the newest pair's time past
    that clock; once :math:`\Delta > h_g/2`, and at the first fold-in after a load (the clock is
    not saved), :math:`P` is solved anew at the newest time (:math:`O(n^3)`, as a fit of
    :math:`B`). The trend :math:`q` is recomputed from every pair's latest time, exactly as a fit
    on the union. New users and items join the vocabularies and the batch's pairs join
    ``seen``. For the users in the batch the positional profile is recomputed over all their
    distinct items, old and new, by the pairs' latest times (ties: batch rows are newer than
    fitted ones, fitted pairs keep their fitted order), so a new user with interactions on known
    items gets personalised recommendations at once. Users not in the batch keep their profiles;
    their scores move with :math:`B` and the trend. ``partial_fit(frame, defer_weights=True)``
    applies all of this but :math:`B` (new items score NaN until it is refreshed), and
    ``refresh_weights()`` later folds the union of the deferred batches' users into :math:`B`
    with one update (``SupportsDeferredWeights``; ``tailor stream`` refreshes every
    ``weights_refresh_s``): the same :math:`B` as folding each batch in at once, up to float32
    rounding (with a decayed Gram, the clock rule above is applied at the refresh).

    Stability: experimental.
    """

    config_class: ClassVar = RecencyEASEConfig
    name: ClassVar[str] = "recency-ease"
    params_spec: ClassVar[ParamSpec] = {  # partial_fit keeps the fitted weight size
        "weights": Dense("f", ("fitted<=items", "fitted")),
        "trend": Dense("f", ("fitted",)),
        "profiles": Sparse("f", ("users", "items")),
        "profile_times": Sparse("i", ("users", "items")),
    }

    weights: np.ndarray
    """float32 items x items matrix :math:`B` with a zero diagonal."""
    profiles: sp.csr_array
    """users x items float32 profile weights :math:`p_{ui}`."""
    profile_times: sp.csr_array
    """users x items int64 latest interaction time of each profile pair (for ``partial_fit``)."""
    trend: np.ndarray
    """float32 :math:`\\gamma q / \\max q` per item (zeros when :math:`\\gamma = 0`)."""
    _inverse: np.ndarray | None = None
    """float32 :math:`P = (G + \\lambda I)^{-1}` kept between fold-ins (never saved)."""
    _clock: int | None = None
    """The time :math:`t_{max}` that the kept Gram's decay is measured from (decayed Gram)."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        check_memory(data.n_items, cfg.memory_budget_gb)
        self.weights = ease_weights(
            decayed_pairs(data, cfg.gram_half_life_days), cfg.regularization
        )
        self.profiles = positional_profiles(data, cfg.profile_half_life, cfg.profile_floor)
        users, items, times, _ = latest_pairs(data.interactions, data.n_items)
        self.profile_times = _csr(data, users, items, times, np.int64)
        self.trend = np.zeros(data.n_items, np.float32)
        if cfg.popularity_weight > 0:
            self.trend = trend_of(self.profile_times, data.n_items, cfg)
        self._inverse, self._pending = None, None
        self._clock = int(times.max()) if len(times) else None

    @override
    def _state_loaded(self) -> None:
        self._inverse, self._pending = None, None  # P is rebuilt by the next fold
        self._clock = None  # unknown: a decayed Gram is solved anew by the next partial_fit

    def refresh_weights(self) -> None:
        """Fold every deferred batch into :math:`B` at once (:meth:`_fold_weights` from the
        pair times :math:`B` was last folded on, over the union of the changed users)."""
        pending = self._pending
        if pending is None:
            return
        self._fold_weights(pending.base, pending.users)
        self._pending = None
        if len(self.trend) != len(self.weights):  # new items joined B: the trend covers them
            self._update_trend()

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """Recompute the batch users' positional profiles, fold the batch into :math:`B` (unless
        deferred) and recompute the trend (see the class docstring)."""
        cfg = self.config
        before = self.profile_times
        self.profiles, self.profile_times = fold_in_positional(
            self.profiles,
            self.profile_times,
            fold.batch.interactions,
            (fold.batch.n_users, fold.batch.n_items),
            cfg.profile_half_life,
            cfg.profile_floor,
        )
        touched = fold.touched_users
        if len(touched):
            if self._pending is None:
                self._pending = PendingFold(before, touched)
            else:
                self._pending.add(touched)
            if not self._defer:
                self.refresh_weights()
        self._update_trend()

    def _update_trend(self) -> None:
        """The trend over the items of :math:`B` from every pair's latest time."""
        cfg = self.config
        self.trend = np.zeros(len(self.weights), np.float32)
        if cfg.popularity_weight > 0:
            self.trend = trend_of(self.profile_times, len(self.weights), cfg)

    def _fold_weights(self, before: sp.csr_array, touched: np.ndarray) -> None:
        r""":math:`B` after the batch: the Woodbury update of the kept inverse
        (``_gram_inverse``) by the touched users' rows of :math:`X_g` before and after, over
        every item. A decayed Gram keeps the clock it was solved at; once the newest pair is
        more than half a half-life past it, :math:`P` is solved anew at the newest time."""
        from tailor.models import _gram_inverse as gi

        cfg = self.config
        if not len(touched):
            return
        half_life = cfg.gram_half_life_days
        newest = int(self.profile_times.data.max())
        if half_life is not None and (
            self._clock is None or newest - self._clock > half_life / 2 * SECONDS_PER_DAY
        ):
            self._clock = newest
            x = pair_weights(self.profile_times, half_life, newest)
            self._inverse = gi.solve_inverse(gi.gram(x), cfg.regularization)
        else:
            self._inverse = gi.folded_inverse(
                self._inverse,
                self.weights,
                pair_weights(before, half_life, self._clock),
                pair_weights(self.profile_times, half_life, self._clock),
                touched,
                cfg.regularization,
            )
        self.weights = gi.weights_of(self._inverse)

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        rows = fitted_columns(self.profiles[user_nums], len(self.weights))
        scores = csr_times_dense(rows.indptr, rows.indices, rows.data, self.weights)
        scale = np.abs(scores).max(axis=1, keepdims=True)
        scores /= np.where(scale > 0, scale, 1.0)
        scores += self.trend[None, :]
        return pad_unfitted(scores, self.profiles.shape[1])

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of an ad-hoc history (``SupportsHistory``), oldest item first: the positional
        profile of :func:`positional_profiles` (the last item ``k = 0``; a repeated item takes
        its last position), then the scoring of ``score_rows``. ``weights`` are ignored, as
        ``fit`` ignores interaction weights."""
        from tailor.models._history import check_history, positional_row

        self.require_fitted()
        cfg = self.config
        nums, _ = check_history(item_nums, weights, len(self.items))
        row = positional_row(nums, len(self.items), cfg.profile_half_life, cfg.profile_floor)
        row = fitted_columns(row, len(self.weights))
        scores = csr_times_dense(row.indptr, row.indices, row.data, self.weights)
        scale = np.abs(scores).max(axis=1, keepdims=True)
        scores /= np.where(scale > 0, scale, 1.0)
        scores += self.trend[None, :]
        out: np.ndarray = pad_unfitted(scores, len(self.items))[0]
        return out

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's distinct items oldest first (``SupportsHistory``): by profile weight
        (a smaller weight is older), then by time, then item number; ``score_history`` of
        them rebuilds the positional profile."""
        from tailor.models._history import csr_row

        self.require_fitted()
        items, weights = csr_row(self.profiles, user_num)
        _, times = csr_row(self.profile_times, user_num)
        return items[np.lexsort((items, times, weights))], None

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """Items with the largest weights :math:`B_{ij}` from each query item :math:`i`.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_by_weights(self, self.weights, item_ids, n)


def latest_pairs(inter: Interactions, n_items: int) -> tuple[np.ndarray, ...]:
    """Distinct (user, item) pairs with the time and row of their latest interaction.

    Returns int64 arrays ``users, items, times, rows``; among equal times the later row wins.
    """
    users = inter.user_nums.astype(np.int64)
    items = inter.item_nums.astype(np.int64)
    row = np.arange(len(inter))
    key = users * n_items + items
    order = np.lexsort((row, inter.timestamps, key))
    last = np.r_[key[order][1:] != key[order][:-1], True] if len(inter) else np.zeros(0, bool)
    pick = order[last]
    return users[pick], items[pick], inter.timestamps[pick], row[pick]


def trend_of(pair_times: sp.csr_array, n_items: int, cfg: RecencyEASEConfig) -> np.ndarray:
    r""":math:`\gamma q / \max q` over the first ``n_items`` items, from each distinct pair's
    latest time: :math:`q_j = \sum_{u \ni j} 2^{-(t_{max} - t_{uj})/h_q}` with :math:`t_{max}`
    the newest pair of all (float32; zeros when no pair counts)."""
    times = pair_times.tocoo()
    keep = times.col < n_items
    cols, stamps = times.col[keep], times.data[keep].astype(np.float64)
    if not len(stamps):
        return np.zeros(n_items, np.float32)
    age_days = (stamps.max() - stamps) / SECONDS_PER_DAY
    q: np.ndarray = np.bincount(
        cols, np.exp2(-age_days / cfg.popularity_half_life_days), minlength=n_items
    )
    top = float(q.max())
    if top <= 0:
        return np.zeros(n_items, np.float32)
    trend: np.ndarray = (cfg.popularity_weight * q / top).astype(np.float32)
    return trend


def decayed_pairs(data: Dataset, half_life_days: float | None) -> sp.csr_array:
    r"""Users x items :math:`2^{-(t_{max} - t_{ui})/h}` per distinct pair (1 without ``h``).

    :math:`t_{ui}` is the pair's latest interaction, :math:`t_{max}` the newest training
    interaction of all users: a global clock, so old co-occurrences and old popularity fade.
    """
    users, items, times, _ = latest_pairs(data.interactions, data.n_items)
    weights = np.ones(len(users))
    if half_life_days is not None and len(users):
        weights = np.exp2(-(times.max() - times) / SECONDS_PER_DAY / half_life_days)
    return _csr(data, users, items, weights)


def pair_weights(
    times: sp.csr_array, half_life_days: float | None, clock: int | None
) -> sp.csr_array:
    r""":math:`X_g` from the pairs' latest ``times``: :math:`2^{-(c - t_{ui})/h}` with :math:`c`
    the ``clock`` (1 per pair without a half-life), float64."""
    out = sp.csr_array(times, dtype=np.float64, copy=True)
    if half_life_days is None or clock is None:
        out.data[:] = 1.0
    else:
        out.data = np.exp2(
            -(clock - times.data.astype(np.float64)) / SECONDS_PER_DAY / half_life_days
        )
    return out


def positional_profiles(data: Dataset, half_life: float | None, floor: float) -> sp.csr_array:
    r"""Users x items profile weights :math:`f + (1-f)\,2^{-k/h}` by recency rank :math:`k`.

    :math:`k` counts a user's distinct items from the most recently touched one (:math:`k = 0`);
    a pair's time is its latest interaction, ties broken by row order (later rows are newer).
    Without a half-life every seen pair weighs 1.
    """
    u, i, times, rows = latest_pairs(data.interactions, data.n_items)
    weights = _positional_weights(u, (-rows, -times, u), half_life, floor)
    return _csr(data, u, i, weights)


def fold_in_positional(
    profiles: sp.csr_array,
    times: sp.csr_array,
    batch: Interactions,
    shape: tuple[int, int],
    half_life: float | None,
    floor: float,
) -> tuple[sp.csr_array, sp.csr_array]:
    r"""Add a batch to :func:`positional_profiles` (and the pairs' latest ``times``).

    Each touched user's pairs, fitted and new, are merged (a pair's time is its latest
    interaction's) and ranked newest first again; among equal times batch rows are newer than
    fitted pairs (they come later), batch rows keep their order and fitted pairs their fitted
    order, which their profile weights record (a larger weight is newer). That is the ranking
    ``positional_profiles`` gives all the interactions, so the result equals it up to float32
    rounding. Rows of users without batch interactions are returned bit-identical.

    Returns:
        The grown profile and time matrices (same sparsity structure).
    """
    profiles, times = grow_csr(profiles, shape), grow_csr(times, shape)
    touched = np.unique(batch.user_nums).astype(np.int64)
    old_p, old_t = profiles[touched], times[touched]
    bu, bi, bt, brow = latest_pairs(batch, shape[1])
    u = np.concatenate([np.repeat(touched, np.diff(old_p.indptr)), bu])
    i = np.concatenate([old_p.indices.astype(np.int64), bi])
    t = np.concatenate([old_t.data.astype(np.int64), bt])
    src = np.r_[np.zeros(old_p.nnz), np.ones(len(bu))]  # 1: from the batch
    tie = np.r_[old_p.data.astype(np.float64), brow.astype(np.float64)]
    # one entry per pair: the latest by (time, batch after fitted, order within its source)
    key = u * shape[1] + i
    order = np.lexsort((tie, src, t, key))
    pick = order[np.r_[key[order][1:] != key[order][:-1], True]] if len(key) else order
    u, i, t, src, tie = u[pick], i[pick], t[pick], src[pick], tie[pick]
    weights = _positional_weights(u, (-tie, -src, -t, u), half_life, floor)
    all_rows = np.repeat(np.arange(shape[0]), np.diff(profiles.indptr))
    keep = ~np.isin(all_rows, touched)  # untouched users' entries, copied unchanged
    rows = all_rows[keep]
    cols = profiles.indices[keep].astype(np.int64)
    new_rows, new_cols = np.concatenate([rows, u]), np.concatenate([cols, i])
    out_p = _matrix(new_rows, new_cols, np.r_[profiles.data[keep], weights], shape, np.float32)
    out_t = _matrix(new_rows, new_cols, np.r_[times.data[keep], t], shape, np.int64)
    return out_p, out_t


def _positional_weights(
    users: np.ndarray, newest_first: tuple[np.ndarray, ...], half_life: float | None, floor: float
) -> np.ndarray:
    r""":math:`f + (1-f)\,2^{-k/h}` per pair, with ``k`` its rank in the user's pairs sorted by
    ``np.lexsort(newest_first)`` (whose last key must be ``users``); 1 without a half-life."""
    if half_life is None or not len(users):
        return np.ones(len(users))
    newest = np.lexsort(newest_first)
    starts = np.searchsorted(users[newest], users[newest], side="left")
    rank = np.empty(len(users))
    rank[newest] = np.arange(len(users)) - starts
    return floor + (1.0 - floor) * np.exp2(-rank / half_life)


def _csr(
    data: Dataset,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    dtype: type = np.float32,
) -> sp.csr_array:
    return _matrix(users, items, weights, (data.n_users, data.n_items), dtype)


def _matrix(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    dtype: type,
) -> sp.csr_array:
    mat = sp.csr_array((values.astype(dtype), (users, items)), shape=shape, dtype=dtype)
    mat.sum_duplicates()
    return mat
