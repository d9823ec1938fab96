"""Validation data and cheap per-epoch metrics for iterative models (early stopping, curves)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.data.vocab import Vocabulary
from tailor.models._topn import masked_top_n

USER_BLOCK = 256
"""Users scored at once by ``ranking_metric`` (bounds memory at USER_BLOCK x n_items)."""


@dataclass(frozen=True)
class ValidationSet:
    """Validation interactions over the training vocabularies (pairs unknown to it dropped)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray


def validation_set(
    validation: Dataset | pd.DataFrame | None, users: Vocabulary, items: Vocabulary
) -> ValidationSet | None:
    """Map a validation Dataset or frame through the training vocabularies.

    Rows whose user or item the training data does not know are dropped, since the model cannot
    score them. Returns None when nothing remains (or nothing was given).
    """
    if validation is None:
        return None
    if isinstance(validation, Dataset):
        if validation.users == users and validation.items == items:
            data = validation
        else:
            data = Dataset.from_frame(
                validation.to_frame(), users=users, items=items, missing="drop"
            )
    else:
        data = Dataset.from_frame(validation, users=users, items=items, missing="drop")
    inter = data.interactions
    if not len(inter):
        return None
    return ValidationSet(
        inter.user_nums.copy(), inter.item_nums.copy(), inter.weights.astype(np.float32)
    )


def ranking_metric(
    score_rows: Callable[[np.ndarray], np.ndarray],
    seen: sp.csr_array,
    val: ValidationSet,
    metric: str,
) -> float:
    """Mean NDCG@k or recall@k over validation users, training items excluded from the ranking.

    With binary relevance T_u (the user's validation items) and top-k list L_u:
    NDCG@k = sum_{r<=k, L_u[r] in T_u} 1/log2(r+1) / sum_{r<=min(k,|T_u|)} 1/log2(r+1) and
    recall@k = |L_u ∩ T_u| / |T_u|. ``score_rows`` scores every item for user numbers (a
    model's, also while it is being fitted); ``seen`` items are left out of the ranking.
    """
    name, k_text = metric.split("@")
    k = int(k_text)
    truth = sp.csr_array(
        (np.ones(len(val.users), np.float32), (val.users, val.items)),
        shape=seen.shape,
    )
    truth.sum_duplicates()
    truth.data[:] = 1.0
    users = np.unique(val.users)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    values = []
    for start in range(0, len(users), USER_BLOCK):
        block = users[start : start + USER_BLOCK]
        top, vals = masked_top_n(score_rows(block), k, banned=seen[block])
        hits = np.take_along_axis(truth[block].toarray() > 0, top, axis=1) & np.isfinite(vals)
        n_true = np.diff(truth.indptr)[block]
        if name == "ndcg":
            values.append(
                (hits * discounts[: top.shape[1]]).sum(1) / ideal[np.minimum(n_true, k) - 1]
            )
        else:
            values.append(hits.sum(1) / n_true)
    return float(np.concatenate(values).mean())
