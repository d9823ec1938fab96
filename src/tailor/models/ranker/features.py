"""The ranker's features: what is known about a user, an item and the pair, vectorised.

Everything here is numpy over item and user numbers; a block of candidates is a set of aligned
arrays (``rows`` into the block's users, ``items``), never a loop over users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.units import SECONDS_PER_DAY

PAIR_FEATURES = ("bought_count", "days_since_bought", "bought_before", "category_share")
ITEM_FEATURES = (
    "item_users",
    "item_recent_users",
    "item_week_users",
    "item_trend",
    "item_age_days",
    "item_idle_days",
    "price",
)
"""Columns of the ranker's ``item_stats`` array, in this order."""
USER_FEATURES = ("user_interactions", "user_items", "user_idle_days", "user_repeat_share")
NO_PRICE = -1.0
"""``price`` of an item without one (a sentinel: saved arrays must be finite)."""
NO_CATEGORY = -1
WEEK_DAYS = 7.0


def model_features(names: tuple[str, ...]) -> tuple[str, ...]:
    """Per candidate model: its score, its rank among the user's candidates, and the score
    relative to the user's best."""
    keys = [name.replace("-", "_") for name in names]
    return tuple(f"{k}_{part}" for k in keys for part in ("score", "rank", "relative"))


def feature_names(models: tuple[str, ...]) -> tuple[str, ...]:
    """Every feature, in the column order of :func:`build_features`."""
    return model_features(models) + PAIR_FEATURES + ITEM_FEATURES + USER_FEATURES


def own_history(inter: Interactions, shape: tuple[int, int]) -> tuple[sp.csr_array, sp.csr_array]:
    """Users x items: how often each user interacted with each item (float32), and when last
    (int64 seconds)."""
    users = inter.user_nums.astype(np.int64)
    items = inter.item_nums.astype(np.int64)
    counts = sp.csr_array((np.ones(len(users), np.float32), (users, items)), shape=shape)
    counts.sum_duplicates()
    last = np.full(len(users), 0, np.int64)
    if len(users):
        key = users * shape[1] + items
        order = np.lexsort((inter.timestamps, key))
        tail = np.r_[key[order][1:] != key[order][:-1], True]
        pick = order[tail]
        latest = sp.csr_array((inter.timestamps[pick], (users[pick], items[pick])), shape=shape)
        latest.sort_indices()
        counts.sort_indices()
        last = latest.data
    out = sp.csr_array((last.astype(np.int64), counts.indices, counts.indptr), shape=shape)
    return counts, out


def add_history(
    counts: sp.csr_array, last: sp.csr_array, batch: Interactions, shape: tuple[int, int]
) -> tuple[sp.csr_array, sp.csr_array]:
    """:func:`own_history` of the old interactions plus ``batch`` (over grown vocabularies)."""
    from tailor.models._matrices import grow_csr

    new_counts, new_last = own_history(batch, shape)
    merged = sp.csr_array(grow_csr(counts, shape) + new_counts)
    merged.sort_indices()
    old, new = grow_csr(last, shape).tocoo(), new_last.tocoo()
    rows = np.r_[old.row, new.row].astype(np.int64)
    cols = np.r_[old.col, new.col].astype(np.int64)
    times = np.r_[old.data, new.data].astype(np.int64)
    key = rows * shape[1] + cols
    order = np.lexsort((times, key))
    pick = order[np.r_[key[order][1:] != key[order][:-1], True]] if len(key) else order
    newest = sp.csr_array((times[pick], (rows[pick], cols[pick])), shape=shape)
    newest.sort_indices()  # the same pairs as ``merged``, so the data line up
    return merged, sp.csr_array((newest.data, merged.indices, merged.indptr), shape=shape)


def item_stats(
    counts: sp.csr_array,
    last: sp.csr_array,
    first_seen: np.ndarray,
    reference: int,
    trend_days: float,
    prices: np.ndarray,
) -> np.ndarray:
    """float32 (items, len(ITEM_FEATURES)): popularity, its recent trend, age and price.

    ``item_users`` counts distinct users; ``item_recent_users`` those whose last interaction
    with the item is within ``trend_days`` of ``reference`` (``item_week_users``: 7 days);
    ``item_trend`` is the recent rate over the whole log's rate (1 = steady, above 1 = rising,
    smoothed by one user).
    """
    n_items = counts.shape[1]
    cols = counts.indices
    users = np.bincount(cols, minlength=n_items).astype(np.float64)
    recent_mask = last.data >= reference - trend_days * SECONDS_PER_DAY
    recent = np.bincount(cols[recent_mask], minlength=n_items).astype(np.float64)
    week_mask = last.data >= reference - WEEK_DAYS * SECONDS_PER_DAY
    week = np.bincount(cols[week_mask], minlength=n_items).astype(np.float64)
    latest = np.full(n_items, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(latest, cols, last.data)
    seen = latest > np.iinfo(np.int64).min
    known_first = first_seen[seen] if len(first_seen) else first_seen
    span_days = (
        max((reference - known_first.min()) / SECONDS_PER_DAY, trend_days)
        if seen.any()
        else trend_days
    )
    expected = users * trend_days / span_days
    age = np.where(seen, (reference - first_seen) / SECONDS_PER_DAY, 0.0)
    idle = np.where(seen, (reference - latest) / SECONDS_PER_DAY, 0.0)
    out = np.column_stack(
        [users, recent, week, (recent + 1.0) / (expected + 1.0), age, idle, prices]
    ).astype(np.float32)
    return out


def first_times(inter: Interactions, n_items: int) -> np.ndarray:
    """int64 earliest interaction time per item (0 for items without one)."""
    first = np.full(n_items, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, inter.item_nums.astype(np.int64), inter.timestamps)
    first[first == np.iinfo(np.int64).max] = 0
    return first


def catalog_columns(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The items' ``price`` (float64, :data:`NO_PRICE` where unknown) and ``category`` codes
    (int64, :data:`NO_CATEGORY` where unknown) from the dataset's item features, if any."""
    n = data.n_items
    prices = np.full(n, NO_PRICE)
    codes = np.full(n, NO_CATEGORY, np.int64)
    table = data.item_features
    if table is None:
        return prices, codes
    if "price" in table.columns:
        values = pd.to_numeric(table["price"], errors="coerce").to_numpy(np.float64)[:n]
        ok = np.isfinite(values) & (values >= 0)
        prices[: len(values)][ok] = values[ok]
    if "category" in table.columns:
        cats = table["category"].to_numpy()[:n]
        known = pd.notna(cats)
        codes[: len(cats)][known] = pd.factorize(cats[known].astype(str), sort=True)[0]
    return prices, codes


@dataclass(frozen=True)
class UserBlock:
    """Per-user aggregates of a block of users, from their own-history rows."""

    counts: sp.csr_array
    last: sp.csr_array
    interactions: np.ndarray
    items: np.ndarray
    last_time: np.ndarray

    @classmethod
    def of(cls, counts: sp.csr_array, last: sp.csr_array, user_nums: np.ndarray) -> UserBlock:
        rows_c, rows_l = counts[user_nums], last[user_nums]
        n_items = np.diff(rows_c.indptr)
        total = np.asarray(rows_c.sum(axis=1)).ravel()
        newest = np.zeros(len(user_nums), np.int64)
        has = n_items > 0
        if has.any():
            starts = rows_l.indptr[:-1][has]
            newest[has] = np.maximum.reduceat(rows_l.data, starts)
        return cls(rows_c, rows_l, total, n_items, newest)


def build_features(
    rows: np.ndarray,
    items: np.ndarray,
    model_columns: np.ndarray,
    block: UserBlock,
    stats: np.ndarray,
    categories: np.ndarray,
    reference: int,
) -> np.ndarray:
    """float32 (len(rows), n_features) in :func:`feature_names` order; NaN marks a missing
    value (LightGBM's missing-value branch), never a wrong one.

    Args:
        rows, items: the candidates (row into the block's users, item number).
        model_columns: (len(rows), 3 * n_models) candidate-model scores, ranks, relatives.
        block: the users' own histories.
        stats: ``item_stats`` (items, len(ITEM_FEATURES)).
        categories: item category codes (NO_CATEGORY where unknown).
        reference: "now" in seconds (the cut when training, the fit's last time when serving).
    """
    bought = _lookup(block.counts, rows, items).astype(np.float64)
    last = _lookup(block.last, rows, items)
    before = bought > 0
    since = np.where(before, (reference - last) / SECONDS_PER_DAY, np.nan)
    share = _category_share(rows, items, block, categories)
    item_cols = stats[items].astype(np.float64)
    price_col = ITEM_FEATURES.index("price")
    item_cols[:, price_col] = np.where(
        item_cols[:, price_col] >= 0, item_cols[:, price_col], np.nan
    )
    n_int, n_items = block.interactions[rows], block.items[rows].astype(np.float64)
    idle = np.where(n_items > 0, (reference - block.last_time[rows]) / SECONDS_PER_DAY, np.nan)
    repeat_share = np.where(n_int > 0, 1.0 - n_items / np.maximum(n_int, 1.0), np.nan)
    return np.column_stack(
        [
            model_columns,
            bought,
            since,
            before.astype(np.float64),
            share,
            item_cols,
            n_int,
            n_items,
            idle,
            repeat_share,
        ]
    ).astype(np.float32)


def _lookup(mat: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``mat[rows, cols]`` for aligned arrays, 0 where absent (sorted CSR indices)."""
    out = np.zeros(len(rows), mat.dtype)
    if not mat.nnz or not len(rows):
        return out
    # a pair's position: search each row's sorted column slice through one global key
    n_cols = mat.shape[1]
    row_of = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr))
    keys = row_of * n_cols + mat.indices.astype(np.int64)
    want = rows.astype(np.int64) * n_cols + cols.astype(np.int64)
    pos = np.searchsorted(keys, want)
    pos = np.minimum(pos, len(keys) - 1)
    hit = keys[pos] == want
    out[hit] = mat.data[pos[hit]]
    return out


def _category_share(
    rows: np.ndarray, items: np.ndarray, block: UserBlock, categories: np.ndarray
) -> np.ndarray:
    """Share of each user's distinct items in the candidate's category (NaN: unknown)."""
    out = np.full(len(rows), np.nan)
    cat = categories[items]
    known = cat >= 0
    n_cats = int(categories.max()) + 1 if len(categories) else 0
    if n_cats == 0 or not known.any():
        return out
    hist = block.counts.tocoo()
    hist_cat = categories[hist.col]
    keep = hist_cat >= 0
    per_user = sp.csr_array(
        (np.ones(int(keep.sum())), (hist.row[keep], hist_cat[keep])),
        shape=(block.counts.shape[0], n_cats),
    )
    per_user.sum_duplicates()
    per_user.sort_indices()
    hits = _lookup(per_user, rows[known], cat[known])
    out[known] = hits / np.maximum(block.items[rows[known]], 1)
    return out
