"""Precompute every user's top-N into the cache under the version's keys (``tailor serve warm``).

Lists are written before the version is activated, so readers switch from wholly old to wholly
new lists; seen items and unavailable items are left out at this point, the request's other
filters (category, explicit exclusions) are applied when a list is read. The lists come from the
pipeline's batch path, the same code as ``tailor recommend`` and evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailor.logging import get_logger
from tailor.pipeline import ItemList, Pipeline, Query
from tailor.serving.cache import RecCache
from tailor.serving.state import ServingState

_log = get_logger(__name__)

BATCH_USERS = 1024


@dataclass(frozen=True)
class WarmReport:
    """What a warm-up wrote."""

    version: str
    users: int
    seconds: float


def user_lists(
    state: ServingState, n: int, batch: int = BATCH_USERS
) -> Iterator[dict[str, ItemList]]:
    """Top-``n`` lists of every user the model knows, ``batch`` users at a time: the pipeline's
    batch path with seen and unavailable items left out and no backfill (the stored list is the
    model's part; a read applies the request's filters and backfills, as live scoring does)."""
    assert state.model is not None, "user_lists needs a model"
    ids = state.model.users.ids
    for start in range(0, len(ids), batch):
        yield cacheable_lists(state.pipeline, ids[start : start + batch], n)


def cacheable_lists(
    pipeline: Pipeline, user_ids: Sequence[str] | np.ndarray, n: int
) -> dict[str, ItemList]:
    """What the cache stores for ``user_ids``: the pipeline's batch path with seen and
    unavailable items left out and no backfill. Used by warm-ups and by ``tailor stream``
    (which rewrites the lists of the users its events touched)."""
    return pipeline.recommend(user_ids, Query(n=n), backfill_short=False).lists()


async def warm(
    state: ServingState,
    cache: RecCache,
    n: int,
    *,
    activate: bool = True,
    progress: Callable[[int], Any] | None = None,
) -> WarmReport:
    """Write every user's list of ``state``'s version, then (optionally) point readers at it."""
    if state.model is None or state.version is None:
        raise ValueError("no model loaded: nothing to precompute")
    start = time.perf_counter()
    done = 0
    for lists in user_lists(state, n):
        await cache.put_recs(state.version, lists)
        done += len(lists)
        if progress is not None:
            progress(done)
    if activate:
        await cache.set_active(state.version)
    report = WarmReport(state.version, done, time.perf_counter() - start)
    _log.info("cache_warmed", version=report.version, users=done, seconds=round(report.seconds, 2))
    return report
