"""How one request is answered: cache, then live scoring within budget, then the popular lists.

Order for a known user (``exclude_seen`` on): the version's precomputed list in the cache, filtered;
on a miss (or when filters leave too few items) live scoring, run in a worker thread and abandoned
after ``scoring_budget_ms``; on any failure the in-process popular lists. An unknown user gets the
popular lists with ``source=cold_start``. A dependency failure is never an error to the caller.
A list scored live on a cache miss is written back to the cache in the background, so the
user's next request is a hit. With neither a model nor a popular list loaded the answer is 503.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from tailor.logging import get_logger
from tailor.models.base import SupportsSimilarItems
from tailor.serving.cache import CacheUnavailable, RecCache
from tailor.serving.filters import ItemFilter, ItemList, apply_filters
from tailor.serving.instruments import ServingMetrics
from tailor.serving.problems import ProblemError
from tailor.serving.scoring import score_user
from tailor.serving.state import ServingState, StateHolder

_log = get_logger(__name__)

T = TypeVar("T")


MAX_PENDING_WRITES = 256
"""Write-backs in flight at most; more are skipped (the cache is slow or down)."""
_MISS = object()
"""``_from_cache``'s answer when the user has no stored list."""


class ScoringTimeout(Exception):
    """Live scoring did not finish within its budget."""


@dataclass(frozen=True)
class RecQuery:
    """What a caller asked for (validated by the route)."""

    n: int
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    exclude_seen: bool = True


@dataclass(frozen=True)
class Answer:
    """A ranked list and where it came from."""

    items: ItemList
    source: str
    version: str | None
    recommendation_id: str


class RecService:
    """Answers recommendation, similar-item and popular-item questions over a StateHolder."""

    def __init__(
        self,
        holder: StateHolder,
        cache: RecCache,
        metrics: ServingMetrics,
        *,
        budget_s: float = 0.03,
        threads: int = 2,
        precompute_n: int = 50,
        write_back: bool = True,
    ) -> None:
        self.holder = holder
        self.cache = cache
        self.metrics = metrics
        self.budget_s = budget_s
        self.precompute_n = precompute_n
        self.write_back = write_back
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tailor-score")
        self._writes: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        """Stop the scoring threads (queued work is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- recommendations ------------------------------------------------------------------
    async def recommend(self, user_id: str, query: RecQuery) -> Answer:
        """The best available answer for ``user_id``; never raises for a dependency failure."""
        state = self.holder.state  # one snapshot for the whole request
        if state.model is None:
            _require_answerable(state)
            return self._fallback(state, user_id, query, "model_unavailable")
        user_num = state.user_num(user_id)
        if user_num is None:
            return self._popular(state, query, frozenset(), "cold_start")
        missed = False
        if query.exclude_seen:
            cached = await self._from_cache(state, user_id, query)
            if isinstance(cached, Answer):
                return cached
            missed = cached is _MISS and self.write_back
        stored: list[ItemList] = []  # the cacheable list, when one is computed
        try:
            if missed:
                items = await self._run(lambda: self._score_miss(state, user_num, query, stored))
            else:
                items = await self._run(lambda: self._score(state, user_num, query))
        except ScoringTimeout:
            return self._fallback(state, user_id, query, "scoring_timeout")
        except Exception as exc:  # a broken model must not become a 5xx
            _log.error("scoring_failed", error_type=type(exc).__name__, version=state.version)
            return self._fallback(state, user_id, query, "scoring_error")
        if stored:
            self._write_back(state, user_id, stored[0])
        return self._answer(items, "model", state)

    async def _from_cache(self, state: ServingState, user_id: str, query: RecQuery) -> Any:
        """An Answer from the cache or the fallback (cache down); ``_MISS`` when the user has no
        list; None when the list is there but too short after the request's filters."""
        assert state.version is not None
        try:
            cached = await self.cache.get_recs(state.version, user_id)
        except CacheUnavailable:
            self.metrics.cache_result("error")
            self.metrics.redis_up.set(0)
            return self._fallback(state, user_id, query, "cache_unavailable")
        self.metrics.redis_up.set(1)
        if cached is None:
            self.metrics.cache_result("miss")
            return _MISS
        self.metrics.cache_result("hit")
        # seen items were left out when the list was computed
        items = apply_filters(cached, query.n, self._rule(state, query, frozenset()))
        complete = len(cached) < self.precompute_n  # the stored list held every candidate
        if len(items) >= query.n or complete:
            return self._answer(items, "cache", state)
        return None

    def _score(self, state: ServingState, user_num: int, query: RecQuery) -> ItemList:
        assert state.index is not None
        return score_user(
            state.model,
            state.index,
            user_num,
            query.n,
            category=query.category,
            exclude=query.exclude,
            exclude_seen=query.exclude_seen,
            ann=state.ann,
        )

    def _score_miss(
        self, state: ServingState, user_num: int, query: RecQuery, stored: list[ItemList]
    ) -> ItemList:
        """Score the list the cache would hold (top ``precompute_n``, seen and unavailable items
        left out, as ``warm`` writes it), append it to ``stored`` for the write-back, and answer
        from it with the request's filters; score again with the filters when too few remain."""
        assert state.index is not None
        full = score_user(state.model, state.index, user_num, self.precompute_n, ann=state.ann)
        stored.append(full)
        items = apply_filters(full, query.n, self._rule(state, query, frozenset()))
        if len(items) >= query.n or len(full) < self.precompute_n:
            return items
        return self._score(state, user_num, query)

    def _write_back(self, state: ServingState, user_id: str, items: ItemList) -> None:
        """Store a live-scored list under the version's key, in the background: the answer does
        not wait for the cache, and a failed write only means another miss later."""
        if len(self._writes) >= MAX_PENDING_WRITES:  # the cache is slow: skip, do not pile up
            self.metrics.cache_writes.labels("skipped").inc()
            return
        assert state.version is not None
        task = asyncio.create_task(self._put(state.version, user_id, items))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _put(self, version: str, user_id: str, items: ItemList) -> None:
        try:
            await self.cache.put_recs(version, {user_id: items})
        except CacheUnavailable:
            self.metrics.cache_writes.labels("failed").inc()
            return
        except Exception as exc:  # a background write must never surface
            _log.error("cache_write_failed", error_type=type(exc).__name__)
            self.metrics.cache_writes.labels("failed").inc()
            return
        self.metrics.cache_writes.labels("written").inc()

    async def drain(self) -> None:
        """Wait for the pending write-backs (shutdown and tests)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # ---- similar and popular --------------------------------------------------------------
    async def similar(self, item_id: str, n: int) -> Answer | None:
        """Items similar to ``item_id``; None when the item is unknown."""
        state = self.holder.state
        _require_answerable(state)
        if not state.knows_item(item_id):
            return None
        model: Any = state.model
        similar_capable = isinstance(model, SupportsSimilarItems)
        if similar_capable and item_id in model.items:
            try:
                items = await self._run(lambda: self._similar(state, item_id, n))
                return self._answer(items, "model", state)
            except ScoringTimeout:
                self.metrics.fallbacks.labels("scoring_timeout").inc()
            except Exception as exc:
                _log.error("similar_failed", error_type=type(exc).__name__)
                self.metrics.fallbacks.labels("scoring_error").inc()
        category = state.catalog.category_of.get(item_id)
        rule = ItemFilter(exclude=frozenset([item_id]), unavailable=state.catalog.unavailable)
        items = apply_filters(state.popular.top(category), n, rule)
        return self._answer(items, "fallback", state)

    def _similar(self, state: ServingState, item_id: str, n: int) -> ItemList:
        recs = state.model.similar_items(np.array([item_id], dtype=object), n=n + 1)
        rule = ItemFilter(exclude=frozenset([item_id]), unavailable=state.catalog.unavailable)
        pairs = zip(recs.item_ids.tolist(), recs.scores.tolist(), strict=True)
        return apply_filters(pairs, n, rule)

    def popular(self, n: int, category: str | None) -> Answer:
        """The popular list (global or one category)."""
        state = self.holder.state
        _require_answerable(state)
        items = apply_filters(state.popular.top(category), n, ItemFilter())
        return self._answer(items, "fallback", state)

    # ---- helpers --------------------------------------------------------------------------
    async def _run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a scoring thread; ScoringTimeout after the budget.

        Work still queued when the budget ends is cancelled, and work that starts late skips
        itself, so a burst of slow requests does not pile up CPU behind the answers.
        """
        deadline = time.monotonic() + self.budget_s

        def guarded() -> T:
            if time.monotonic() > deadline:
                raise ScoringTimeout
            return fn()

        future = asyncio.wrap_future(self._pool.submit(guarded))
        try:
            return await asyncio.wait_for(future, self.budget_s)
        except TimeoutError:
            raise ScoringTimeout from None

    def _rule(self, state: ServingState, query: RecQuery, seen: frozenset[str]) -> ItemFilter:
        return ItemFilter(
            exclude=query.exclude,
            seen=seen,
            category=query.category,
            category_of=state.catalog.category_of,
            unavailable=state.catalog.unavailable,
        )

    def _popular(
        self, state: ServingState, query: RecQuery, seen: frozenset[str], source: str
    ) -> Answer:
        rule = self._rule(state, query, seen)
        # per-category lists are already restricted to the category
        pool = state.popular.top(query.category)
        return self._answer(apply_filters(pool, query.n, rule), source, state)

    def _fallback(self, state: ServingState, user_id: str, query: RecQuery, reason: str) -> Answer:
        self.metrics.fallbacks.labels(reason).inc()
        seen = state.seen_items(user_id) if query.exclude_seen else frozenset()
        return self._popular(state, query, seen, "fallback")

    def _answer(self, items: ItemList, source: str, state: ServingState) -> Answer:
        self.metrics.answered(source)
        return Answer(items, source, state.version, uuid.uuid4().hex)


def _require_answerable(state: ServingState) -> None:
    """503 when neither a model nor a popular list is loaded: an empty list would look like an
    answer ("nothing to recommend") when the truth is "nothing loaded"."""
    if not state.answerable:
        raise ProblemError(
            503,
            "no model and no fallback list are loaded; see /health/ready",
            headers={"Retry-After": "5"},
        )
