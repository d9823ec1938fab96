"""The popular lists: the fallback of every list, global, per category and per user segment.

Built once per model version from its Popularity artifact (``DIR/popularity/``) and held in
memory, so they answer when the model, its scoring or the cache is missing, slow or down, and
they fill up model lists that run short (backfill). Unavailable items are left out when the
lists are cut; the request's other filters are applied when a list is read.

Per-segment lists (a user attribute such as ``country``) rank the items by the number of
distinct training users of the segment who interacted with them (the Popularity artifact's
``seen`` matrix), ties by lower item number like every other list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailor.data.columns import Columns
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.filters import ItemList


@dataclass(frozen=True)
class PopularLists:
    """Most popular available items, best first.

    Attributes:
        overall: the global list.
        by_category: one list per catalog category.
        by_segment: one list per user segment (empty without a users table).
    """

    overall: ItemList = field(default_factory=list)
    by_category: Mapping[str, ItemList] = field(default_factory=dict)
    by_segment: Mapping[str, ItemList] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.overall)

    def top(self, category: str | None = None, segment: str | None = None) -> ItemList:
        """The list to draw from: the category's when ``category`` is given (empty for an
        unknown category), else the segment's when it has one, else the global list."""
        if category is not None:
            return list(self.by_category.get(category, ()))
        if segment is not None and segment in self.by_segment:
            return list(self.by_segment[segment])
        return self.overall

    @classmethod
    def build(
        cls,
        popularity: Any,
        catalog: Catalog,
        size: int,
        segments: Mapping[str, str] | None = None,
    ) -> PopularLists:
        """Rank every item of ``popularity`` once and cut global, per-category and (with
        ``segments``, user_id -> segment) per-segment lists of ``size`` items each.

        Unavailable items are left out; an item's category comes from ``catalog``.
        """
        ranked = popularity.top_items(len(popularity.items))
        overall: ItemList = []
        by_category: dict[str, ItemList] = {}
        for item_id, score in zip(
            ranked[Columns.ITEM_ID].astype(str), ranked[Columns.SCORE], strict=True
        ):
            if item_id in catalog.unavailable:
                continue
            if len(overall) < size:
                overall.append((item_id, float(score)))
            category = catalog.category_of.get(item_id)
            if category is not None:
                bucket = by_category.setdefault(category, [])
                if len(bucket) < size:
                    bucket.append((item_id, float(score)))
        by_segment = _segment_lists(popularity, catalog, size, segments) if segments else {}
        return cls(overall, by_category, by_segment)


def _segment_lists(
    popularity: Any, catalog: Catalog, size: int, segments: Mapping[str, str]
) -> dict[str, ItemList]:
    """Per segment: items by distinct users of the segment, ties by lower item number."""
    seen = popularity.seen
    user_ids = np.asarray(popularity.users.ids, dtype=object)
    labels = np.array([segments.get(u) for u in user_ids.tolist()], dtype=object)
    item_ids = np.asarray(popularity.items.ids, dtype=object)
    usable = np.array([i not in catalog.unavailable for i in item_ids.tolist()], dtype=bool)
    out: dict[str, ItemList] = {}
    for label in sorted({x for x in labels.tolist() if x is not None}):
        rows = np.flatnonzero(labels == label)
        counts = np.asarray(seen[rows].sum(axis=0)).ravel().astype(np.float64)
        order = np.lexsort((np.arange(len(counts)), -counts))  # count desc, item number asc
        order = order[(counts[order] > 0) & usable[order]][:size]
        out[str(label)] = list(zip(item_ids[order].tolist(), counts[order].tolist(), strict=True))
    return out
