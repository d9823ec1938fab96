"""First stage: the candidate models, and each user's candidates with their scores and ranks.

A user's candidates are the union of each candidate model's top ``candidates_per_model`` items
not yet bought, the ``popular_candidates`` most recently popular items not yet bought, and every
item of the user's own history (so past purchases can compete). Every candidate gets every
model's score (the models score all items) and its rank among the user's candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.models.base import FitOptions, RecommenderBase
from tailor.models.ranker.config import CANDIDATE_MODELS, RankerConfig


def fit_candidate_models(
    data: Dataset, cfg: RankerConfig, options: FitOptions
) -> dict[str, RecommenderBase[Any]]:
    """Every candidate model fitted on ``data`` (the same vocabularies)."""
    from tailor.models.registry import create_model

    fitted: dict[str, RecommenderBase[Any]] = {}
    for name in CANDIDATE_MODELS:
        model = create_model(name, cfg.submodel_params(name))
        fitted[name] = model.fit(data, FitOptions(threads=options.threads, rng=options.rng))
    return fitted


@dataclass(frozen=True)
class Candidates:
    """Aligned arrays, sorted by (row, item): ``rows`` index the block's users."""

    rows: np.ndarray
    items: np.ndarray
    model_columns: np.ndarray
    """float32 (n, 3 * n_models): each model's score, rank (1 = best among the user's
    candidates) and score over the absolute value of the user's best score of all items (NaN
    where the model cannot score the item)."""


def top_unseen(scores: np.ndarray, seen: sp.csr_array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, items) of each row's ``k`` best finite scores outside ``seen`` (ties: any)."""
    work = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float32, copy=False)
    coo = seen.tocoo()
    work[coo.row, coo.col] = -np.inf
    k = min(k, work.shape[1])
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.argpartition(-work, k - 1, axis=1)[:, :k] if k < work.shape[1] else None
    if idx is None:
        idx = np.broadcast_to(np.arange(work.shape[1]), work.shape)
    rows = np.repeat(np.arange(work.shape[0]), idx.shape[1])
    items = idx.ravel().astype(np.int64)
    keep = work[rows, items] > -np.inf
    return rows[keep], items[keep]


def candidates(
    scores: dict[str, np.ndarray],
    history: sp.csr_array,
    popular: np.ndarray,
    cfg: RankerConfig,
) -> Candidates:
    """The candidates of a block of users from each candidate model's score rows (``scores``,
    block x items, in CANDIDATE_MODELS order; NaN: cannot score), their own-history rows
    (``history``) and ``popular`` (item numbers, most recently popular first)."""
    n_users, n_items = history.shape
    parts_r, parts_i = [], []
    for block in scores.values():
        r, i = top_unseen(block, history, cfg.candidates_per_model)
        parts_r.append(r)
        parts_i.append(i)
    if len(popular) and cfg.popular_candidates:
        top = popular[: cfg.popular_candidates]
        parts_r.append(np.repeat(np.arange(n_users), len(top)))
        parts_i.append(np.tile(top, n_users))
    hist = history.tocoo()
    parts_r.append(hist.row.astype(np.int64))
    parts_i.append(hist.col.astype(np.int64))
    key = np.unique(np.concatenate(parts_r) * n_items + np.concatenate(parts_i))
    rows, items = key // n_items, key % n_items
    columns = []
    for block in scores.values():
        value = block[rows, items]
        best = np.max(np.where(np.isfinite(block), block, -np.inf), axis=1, initial=-np.inf)
        scale = np.abs(best)[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.where(scale > 0, value / scale, np.nan)  # 1 = the user's best item
        columns += [value, rank_within(rows, value), relative]
    return Candidates(rows, items, np.column_stack(columns).astype(np.float32))


def rank_within(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based rank of each value within its row's group (larger first, NaN last, ties by
    position); ``rows`` sorted ascending."""
    key = np.where(np.isfinite(values), -values.astype(np.float64), np.inf)
    order = np.lexsort((np.arange(len(rows)), key, rows))
    starts = np.searchsorted(rows, rows, side="left")
    rank = np.empty(len(rows), np.float32)
    rank[order] = np.arange(len(rows)) - starts[order] + 1
    return rank
