"""The item-to-item listing shared by every model that implements ``similar_items``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailor.data.recs import Recs
from tailor.models._topn import masked_top_n
from tailor.models.base import SCORE_BATCH, Recommender, ranked_recs


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
        query = sp.csr_array(
            (np.ones(len(rows), np.float32), nums[rows], np.arange(len(rows) + 1)),
            shape=(len(rows), len(model.items)),
        )  # each row bans its own query item
        parts.append((rows, *masked_top_n(similarity_rows(nums[rows]), n, banned=query)))
    return ranked_recs(ids, model.items, parts)


def cosine_rows(factors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    r"""Similarity rows from item factor vectors: :math:`\cos(q_i, q_j)` (0 for zero vectors)."""
    norms = np.linalg.norm(factors, axis=1)
    unit = (factors / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)

    def rows(nums: np.ndarray) -> np.ndarray:
        return np.asarray(unit[nums] @ unit.T, dtype=np.float32)

    return rows
