"""New items in model lists: slots filled from a content model.

The main model cannot score an item nobody has interacted with yet (it is not in its vocabulary,
or its column is empty), so a new product would never be listed. A content model (``content``,
fitted on the same interactions with the catalogue, new items included) scores it from its text,
category and price. Putting a cosine on, say, EASE's scale has no sound calibration (the two
scores measure different things and their spread changes per user), so a cold item gets a
**rank slot** instead: at each rank of :attr:`ColdItems.ranks` the user's best remaining cold
item (by content score, above ``min_score``, through the request's filters) is inserted and the
model's items below it move down one place; the list is then cut to ``n``. The inserted item
shows the score of the item before it (the first item's when it opens the list), so scores stay
non-increasing. Users the content model does not know get no slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailor.models.base import Recommender
from tailor.pipeline.filters import ItemFilter, ItemList

DEFAULT_RANKS = (5, 10)
"""Two slots, ranks 5 and 10: on Online Retail's validation month, the best item:cold NDCG@10
among the slot settings that cost at most 1 % of the whole list's NDCG@10 (EASE;
bench/accuracy/cold_start.py, docs/benchmarks.md "Cold start", where the test cost is
reported too)."""


@dataclass(frozen=True)
class ColdItems:
    """The new items a pipeline slots into model lists, and the content model that ranks them.

    Attributes:
        content: a fitted content model (``score_rows`` over its items, new ones included).
        item_ids: the cold items' ids.
        columns: their item numbers in ``content``.
        ranks: list positions (from 1, ascending) that hold a cold item each.
        min_score: a cold item needs a content score above this (0: any shared content).
    """

    content: Recommender
    item_ids: np.ndarray
    columns: np.ndarray
    ranks: tuple[int, ...] = DEFAULT_RANKS
    min_score: float = 0.0

    @classmethod
    def build(
        cls,
        content: Recommender,
        model: Recommender,
        *,
        ranks: Sequence[int] = DEFAULT_RANKS,
        min_score: float = 0.0,
    ) -> ColdItems:
        """Cold items = ``content``'s items that ``model`` does not know or that no training
        user of ``model`` interacted with.

        Raises:
            ValueError: ranks that are not distinct positive integers.
        """
        slots = tuple(sorted(int(r) for r in ranks))
        if any(r < 1 for r in slots) or len(set(slots)) != len(slots):
            raise ValueError(f"cold-item ranks must be distinct integers >= 1, got {list(ranks)}")
        ids = np.asarray(content.items.ids, dtype=object)
        nums = model.items.numbers(ids)
        counts = np.bincount(model.seen.indices, minlength=len(model.items))
        cold = (nums < 0) | (counts[np.maximum(nums, 0)] == 0)
        columns = np.flatnonzero(cold).astype(np.int64)
        return cls(content, ids[columns], columns, slots, float(min_score))

    def __len__(self) -> int:
        return len(self.item_ids)

    def scores(self, user_ids: Sequence[str]) -> np.ndarray:
        """Content scores of the cold items, one row per user (NaN rows: unknown users)."""
        out = np.full((len(user_ids), len(self.columns)), np.nan, np.float32)
        nums = self.content.users.numbers(np.asarray(user_ids, dtype=str))
        known = np.flatnonzero(nums >= 0)
        if len(known) and len(self.columns):
            out[known] = self.content.score_rows(nums[known])[:, self.columns]
        return out

    def picks(self, scores: np.ndarray, k: int, rule: ItemFilter, listed: set[str]) -> ItemList:
        """The best ``k`` cold items of one score row that ``rule`` allows and that are not
        ``listed`` yet (ties by lower content item number)."""
        out: ItemList = []
        if k <= 0:
            return out
        good = np.flatnonzero(scores > self.min_score)  # NaN rows give nothing
        for col in good[np.argsort(-scores[good], kind="stable")].tolist():
            item = str(self.item_ids[col])
            if item not in listed and rule.allows(item):
                out.append((item, float(scores[col])))
                if len(out) == k:
                    break
        return out

    def slots(self, n: int) -> int:
        """How many slots a list of ``n`` items has."""
        return sum(1 for r in self.ranks if r <= n)


def slot_in(items: ItemList, picks: ItemList, ranks: Sequence[int], n: int) -> ItemList:
    """``items`` with ``picks`` inserted at ``ranks`` (ascending, from 1), cut to ``n``; a rank
    past the list's end appends. Each inserted item takes the score of the item before it."""
    out = list(items[:n])
    for rank, (item, own) in zip(ranks, picks, strict=False):
        if rank > n:
            break
        pos = min(rank - 1, len(out))
        score = out[pos - 1][1] if pos > 0 else (out[0][1] if out else own)
        out.insert(pos, (item, score))
    return out[:n]
