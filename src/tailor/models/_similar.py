"""The item-to-item listing shared by every model that implements ``similar_items``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tailor.data.recs import Recs
from tailor.models.base import SCORE_BATCH, Recommender, ranked_recs, top_n


def similar_items_recs(
    model: Recommender,
    item_ids: Any,
    n: int,
    similarity_rows: Callable[[np.ndarray], np.ndarray],
) -> Recs:
    """The ``n`` items most similar to each query item, as Recs keyed by the query item id.

    Args:
        model: a fitted model (its item vocabulary maps ids).
        item_ids: query item ids; unknown ones get no rows.
        n: neighbours per query item.
        similarity_rows: item nums -> float32 array (len(nums), n_items) of similarities, with
            ``-inf`` for items that are not neighbours at all.

    Returns:
        Recs whose ``user_ids`` column holds the query item ids; the query item itself is never
        listed.
    """
    model.require_fitted()
    if n < 1:
        raise ValueError("n must be at least 1")
    ids = np.asarray(item_ids).astype(str)
    nums = model.items.numbers(ids)
    known = np.flatnonzero(nums >= 0)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(known), SCORE_BATCH):
        rows = known[start : start + SCORE_BATCH]
        sims = np.array(similarity_rows(nums[rows]), dtype=np.float32, copy=True, order="C")
        sims[~np.isfinite(sims)] = -np.inf
        sims[np.arange(len(rows)), nums[rows]] = -np.inf
        parts.append((rows, *top_n(sims, n)))
    return ranked_recs(ids, model.items, parts)


def cosine_rows(factors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    r"""Similarity rows from item factor vectors: :math:`\cos(q_i, q_j)` (0 for zero vectors)."""
    norms = np.linalg.norm(factors, axis=1)
    unit = (factors / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)

    def rows(nums: np.ndarray) -> np.ndarray:
        return np.asarray(unit[nums] @ unit.T, dtype=np.float32)

    return rows
