"""Business filters on ranked lists of item ids: the same rules as the score masks.

A list passes through :func:`apply_filters` once: items the user has seen, items the request
excludes, items outside the requested category, items the catalogue marks unavailable and items a
caller's predicate rejects are dropped, and the first ``n`` survivors are kept in their order.
:meth:`tailor.pipeline.index.ModelIndex.allowed` builds the same rules as a mask over the
model's items, for scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from tailor.types import ItemList as ItemList  # re-exported: pipeline modules import it from here

ItemPredicate = Callable[[str], bool]
"""A caller's rule: item_id -> whether the item may be recommended."""


@dataclass(frozen=True)
class ItemFilter:
    """What one request may not receive.

    Attributes:
        exclude: item ids the caller excludes explicitly.
        seen: item ids the user interacted with (empty unless ``exclude_seen``).
        category: keep only items of this category (None: any).
        category_of: item_id -> category, from the catalog.
        unavailable: item ids the catalog marks unavailable.
        predicate: a caller's rule (None: every item passes).
    """

    exclude: Collection[str] = frozenset()
    seen: Collection[str] = frozenset()
    category: str | None = None
    category_of: Mapping[str, str] = field(default_factory=dict)
    unavailable: Collection[str] = frozenset()
    predicate: ItemPredicate | None = None

    def allows(self, item_id: str) -> bool:
        """Whether ``item_id`` passes every filter."""
        if item_id in self.exclude or item_id in self.seen or item_id in self.unavailable:
            return False
        if self.category is not None and self.category_of.get(item_id) != self.category:
            return False
        return self.predicate is None or bool(self.predicate(item_id))


def apply_filters(items: Iterable[tuple[str, float]], n: int, rule: ItemFilter) -> ItemList:
    """The first ``n`` items of ``items`` that ``rule`` allows, order kept."""
    out: ItemList = []
    if n <= 0:
        return out
    for item_id, score in items:
        if rule.allows(item_id):
            out.append((item_id, score))
            if len(out) == n:
                break
    return out


def backfill(
    items: ItemList, n: int, pool: Iterable[tuple[str, float]], rule: ItemFilter
) -> ItemList:
    """``items`` followed by the first items of ``pool`` that ``rule`` allows and that are not
    listed yet, up to ``n`` in all (``items`` itself when it is already long enough)."""
    if len(items) >= n:
        return items[:n]
    listed = {i for i, _ in items}
    out = list(items)
    for item_id, score in pool:
        if item_id not in listed and rule.allows(item_id):
            out.append((item_id, score))
            listed.add(item_id)
            if len(out) == n:
                break
    return out
