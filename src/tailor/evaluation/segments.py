"""Segment labels for evaluation: warm/cold users and items, user activity, item popularity.

Two kinds of segment:

* **user segments** (``user:warm``, ``user:cold``, ``activity:<bucket>``) select users; the
  segment's metrics are the mean of those users' metrics.
* **item segments** (``item:warm``, ``item:cold``, ``popularity:head|torso|tail``) select truth
  rows: each user's relevant set is restricted to items of the segment (lists are unchanged), and
  users with no relevant item of the segment drop out of it. So ``recall@10`` of ``item:cold``
  is the share of held-out cold items that made it into the top 10.

**Cold** has one definition, :mod:`tailor.data.segments`' (what ``tailor data split`` tags test
rows with): an id is cold when it has no interaction in the reference data. Given ``train``, every
family is computed from it, so ``user:cold`` is exactly ``activity:0`` and the ``item:cold`` items
are the never-seen part of ``popularity:tail``; without it the truth's split tags are used.

Segments are listed in their natural order (:func:`segment_sort_key`): warm before cold,
activity buckets by size (0, 1-4, 5-19, ...), head, torso, tail.

Stability: stable.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.segments import COLD, WARM  # the one definition of warm and cold

USER_FAMILIES = ("user", "activity")
"""Segment families that select users."""
ITEM_FAMILIES = ("item", "popularity")
"""Segment families that select truth rows (items)."""
_NAMED_ORDER = {WARM: 0, COLD: 1, "head": 0, "torso": 1, "tail": 2}
ACTIVITY_EDGES = (1, 5, 20, 100)
"""Lower bounds of the activity buckets (training interactions per user): 0, 1-4, 5-19, ..."""
HEAD_SHARE = 0.2
"""Head = the most popular items that together hold this share of training interactions."""
TAIL_SHARE = 0.2
"""Tail = the least popular items that together hold this share (plus never-seen items)."""


def tag_by_id(truth: pd.DataFrame, key: str, column: str, ids: np.ndarray) -> np.ndarray | None:
    """Per id in ``ids``, the first ``column`` value of its truth rows (None if no such column)."""
    if column not in truth.columns:
        return None
    first = truth.drop_duplicates(key).set_index(truth[key].drop_duplicates().astype(str))[column]
    return first.reindex(pd.Index(ids)).astype(object).to_numpy()


def segment_sort_key(name: str) -> tuple[int, int, float, str]:
    """Sort key of ``"family:label"`` names: user families before item families, then warm
    before cold, activity buckets by their lower bound, head before torso before tail."""
    family, _, label = name.partition(":")
    families = (*USER_FAMILIES, *ITEM_FAMILIES)
    rank = families.index(family) if family in families else len(families)
    lower = label.split("-")[0].rstrip("+")
    if label in _NAMED_ORDER:
        return rank, 0, float(_NAMED_ORDER[label]), label
    if lower.isdigit():
        return rank, 0, float(lower), label
    return rank, 1, 0.0, label


def warm_cold(ids: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``"warm"`` for ids that occur in ``reference`` (the training ids), else ``"cold"``: the
    rule of :func:`tailor.data.segments.tag_segments`."""
    distinct = pd.unique(np.asarray(reference, dtype=object)).astype(str)
    lookup = pd.Index(distinct, dtype=object)
    known = lookup.get_indexer(pd.Index(np.asarray(ids, dtype=object).astype(str))) >= 0
    return np.where(known, WARM, COLD).astype(object)


def activity_buckets(counts: np.ndarray, edges: Sequence[int] = ACTIVITY_EDGES) -> np.ndarray:
    """Bucket label of each training-interaction count: ``"0"``, ``"1-4"``, ..., ``"100+"``."""
    bounds = [0, *edges]
    names = [f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(bounds)]
    names.append(f"{bounds[-1]}+")
    return np.asarray(names, dtype=object)[np.searchsorted(edges, counts, side="right")]


def popularity_buckets(
    popularity: np.ndarray, head: float = HEAD_SHARE, tail: float = TAIL_SHARE
) -> np.ndarray:
    """Head/torso/tail label of each item from its training popularity (interaction count).

    An item's *start share* is the share of all training interactions held by the items strictly
    more popular than it: items whose start share is below ``head`` are *head*, those whose start
    share is at least ``1 - tail`` are *tail*, the rest *torso*. Items with equal popularity get
    the same label (no tie is broken by id order or encoding). Items with no training
    interaction are *tail*. With no training interactions at all, every item is tail.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    labels = np.full(len(pop), "tail", dtype=object)
    total = pop.sum()
    if total <= 0:
        return labels
    ascending = np.sort(pop)
    at_most = np.concatenate([[0.0], np.cumsum(ascending)])[
        np.searchsorted(ascending, pop, side="right")
    ]
    start_share = (total - at_most) / total
    labels[:] = np.where(
        start_share < head, "head", np.where(start_share < 1 - tail, "torso", "tail")
    )
    labels[pop <= 0] = "tail"
    return labels


def train_counts(
    train: pd.DataFrame, key: str, ids: np.ndarray, *, distinct: str | None
) -> np.ndarray:
    """Per id in ``ids``: its training rows (``distinct=None``) or distinct ``distinct`` values."""
    if distinct is None:
        counts = train[key].astype(str).value_counts()
    else:
        pairs = train[[key, distinct]].astype(str).drop_duplicates()
        counts = pairs[key].value_counts()
    return counts.reindex(pd.Index(ids), fill_value=0).to_numpy(dtype=np.float64)


def user_labels(
    user_ids: np.ndarray, truth: pd.DataFrame, train: pd.DataFrame | None
) -> dict[str, np.ndarray]:
    """Per user-segment family (``user``, ``activity``), each user's label."""
    return _labels(user_ids, truth, train, Columns.USER_ID, Columns.USER_SEGMENT, "user",
                   ("activity", activity_buckets))  # fmt: skip


def item_labels(
    item_ids: np.ndarray, truth: pd.DataFrame, train: pd.DataFrame | None
) -> dict[str, np.ndarray]:
    """Per item-segment family (``item``, ``popularity``), each item's label."""
    return _labels(item_ids, truth, train, Columns.ITEM_ID, Columns.ITEM_SEGMENT, "item",
                   ("popularity", popularity_buckets))  # fmt: skip


def _labels(
    ids: np.ndarray,
    truth: pd.DataFrame,
    train: pd.DataFrame | None,
    key: str,
    segment: str,
    family: str,
    buckets: tuple[str, Callable[[np.ndarray], np.ndarray]],
) -> dict[str, np.ndarray]:
    """Warm/cold tags and count buckets, both from ``train`` when given (one definition of
    cold: no training interaction), else the truth's split tags."""
    out: dict[str, np.ndarray] = {}
    if train is not None:
        tags: np.ndarray | None = warm_cold(ids, train[key].to_numpy())
    else:
        tags = tag_by_id(truth, key, segment, ids)
    if tags is not None:
        out[family] = tags
    if train is not None:
        name, bucket = buckets
        out[name] = bucket(train_counts(train, key, ids, distinct=None))
    return out
