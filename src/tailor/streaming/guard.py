"""The quality guard: stop folding in when updated users' lists drift too far.

Fold-ins change the lists of the users they touch, as they should, but a flood of bot events or
a bug can turn lists into noise. The guard follows a sample of updated users: the first time a
user is touched it keeps that user's top-``n`` from before the fold-in (the state of the last
full fit or snapshot the consumer loaded), then after every fold-in compares the user's new top
with it. When, over at least ``min_users`` followed users, the mean share of kept items falls
below ``min_overlap``, the guard trips: the consumer stops folding in and logs an alert, and
events wait in the log until a new full fit is activated (which resets the guard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tailor.pipeline import ItemList, Pipeline
from tailor.serving.precompute import cacheable_lists

TOP_N = 10


class QualityGuard:
    """See the module docstring."""

    def __init__(self, sample: int, min_users: int, min_overlap: float, n: int = TOP_N) -> None:
        self.sample = sample
        self.min_users = min_users
        self.min_overlap = min_overlap
        self.n = n
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new full fit was loaded)."""
        self._base: dict[str, set[str]] = {}
        self._overlap: dict[str, float] = {}
        self.tripped = False

    @property
    def followed(self) -> int:
        return len(self._overlap)

    @property
    def mean_overlap(self) -> float | None:
        """Mean share of kept items over the followed users (None before any)."""
        if not self._overlap:
            return None
        return sum(self._overlap.values()) / len(self._overlap)

    def before(self, pipeline: Pipeline, users: Sequence[str]) -> None:
        """Remember the lists, before the fold-in, of touched users not yet followed."""
        if self.min_overlap <= 0 or len(self._base) >= self.sample:
            return
        room = self.sample - len(self._base)
        new = [u for u in users if u not in self._base and pipeline.user_num(u) is not None]
        if not new:
            return
        for user, items in cacheable_lists(pipeline, new[:room], self.n).items():
            if items:
                self._base[user] = {item for item, _ in items[: self.n]}

    def after(self, lists: Mapping[str, ItemList]) -> bool:
        """Compare the followed users' new lists; True when this call tripped the guard."""
        for user, items in lists.items():
            base = self._base.get(user)
            if base is not None:
                top = {item for item, _ in items[: self.n]}
                self._overlap[user] = len(base & top) / len(base)
        mean = self.mean_overlap
        if self.tripped or mean is None or self.followed < self.min_users:
            return False
        self.tripped = mean < self.min_overlap
        return self.tripped
