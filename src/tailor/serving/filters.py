"""Business filters applied to every list the service returns, whatever its source.

A list passes through :func:`apply_filters` once: items the user has seen, items the request
excludes, items outside the requested category and items the catalog marks unavailable are
dropped, and the first ``n`` survivors are kept in their original order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

ItemList = list[tuple[str, float]]


@dataclass(frozen=True)
class ItemFilter:
    """What one request may not receive.

    Attributes:
        exclude: item ids the caller excludes explicitly.
        seen: item ids the user interacted with (empty unless ``exclude_seen``).
        category: keep only items of this category (None: any).
        category_of: item_id -> category, from the catalog.
        unavailable: item ids the catalog marks unavailable.
    """

    exclude: Collection[str] = frozenset()
    seen: Collection[str] = frozenset()
    category: str | None = None
    category_of: Mapping[str, str] = field(default_factory=dict)
    unavailable: Collection[str] = frozenset()

    def allows(self, item_id: str) -> bool:
        """Whether ``item_id`` passes every filter."""
        if item_id in self.exclude or item_id in self.seen or item_id in self.unavailable:
            return False
        return self.category is None or self.category_of.get(item_id) == self.category


def apply_filters(items: Iterable[tuple[str, float]], n: int, rule: ItemFilter) -> ItemList:
    """The first ``n`` items of ``items`` that ``rule`` allows, order kept."""
    out: ItemList = []
    for item_id, score in items:
        if rule.allows(item_id):
            out.append((item_id, score))
            if len(out) == n:
                break
    return out
