"""The in-process popular lists: the answer of last resort, global and per category.

Built from the version's Popularity artifact (``DIR/popularity/``) and held in memory, so they
answer when Redis, the model or its scoring is missing, slow or down. The refresher in
:mod:`tailor.serving.app` rebuilds them every ``fallback_refresh_s`` when the artifact changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tailor.data.columns import Columns
from tailor.serving.catalog import Catalog

ItemList = list[tuple[str, float]]


@dataclass(frozen=True)
class PopularLists:
    """Most popular available items, best first.

    Attributes:
        overall: the global list.
        by_category: one list per catalog category.
    """

    overall: ItemList = field(default_factory=list)
    by_category: Mapping[str, ItemList] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.overall)

    def top(self, category: str | None = None) -> ItemList:
        """The list for ``category`` (global when None; empty for an unknown category)."""
        if category is None:
            return self.overall
        return list(self.by_category.get(category, ()))

    @classmethod
    def build(cls, popularity: Any, catalog: Catalog, size: int) -> PopularLists:
        """Rank every item of ``popularity`` once and cut global and per-category lists.

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
        return cls(overall, by_category)
