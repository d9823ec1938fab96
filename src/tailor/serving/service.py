"""How one request is answered: cache, then live scoring within budget, then the popular lists.

Order for a known user (``exclude_seen`` on): the version's precomputed list in the cache, filtered;
on a miss (or when filters leave too few items) live scoring, run in a worker thread and abandoned
after ``scoring_budget_ms``; on any failure the in-process popular lists. An unknown user gets the
popular lists with ``source=cold_start``, unless it has recent items (``serving/sessions.py``:
a session fed by the events route), which are scored through the pipeline's
``recommend_history`` (``source=session``). A dependency failure is never an error to the caller.
A list scored live on a cache miss is written back to the cache in the background, so the
user's next request is a hit. With neither a model nor a popular list loaded the answer is 503.

What a list contains (candidates, filters, top-n, backfill, fallback lists) is decided by the
version's :class:`~tailor.pipeline.Pipeline`, the same object ``tailor recommend`` and evaluation
use; this module keeps only the cache, the budgets and the metrics.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tailor.logging import get_logger
from tailor.models.base import SupportsSimilarItems
from tailor.models.explain import Explanation
from tailor.pipeline import ItemFilter, ItemList, Query, apply_filters
from tailor.serving.cache import CacheUnavailable, RecCache
from tailor.serving.instruments import ServingMetrics
from tailor.serving.problems import ProblemError
from tailor.serving.sessions import RecentItems
from tailor.serving.state import ServingState, StateHolder

if TYPE_CHECKING:
    from tailor.experiments.assignment import Assigner, Assignment
    from tailor.experiments.exposures import ExposureLog

_log = get_logger(__name__)

T = TypeVar("T")


MAX_PENDING_WRITES = 256
"""Write-backs in flight at most; more are skipped (the cache is slow or down)."""
_MISS = object()
"""``_from_cache``'s answer when the user has no stored list."""
EXPLAINED_SOURCES = frozenset({"model", "cache", "session"})
"""Sources whose items the model chose, so its explanation says why (not the popular lists)."""


class ScoringTimeout(Exception):
    """Live scoring did not finish within its budget."""


RecQuery = Query
"""What a caller asked for (validated by the route): the pipeline's :class:`Query`."""


@dataclass(frozen=True)
class Answer:
    """A ranked list and where it came from."""

    items: ItemList
    source: str
    version: str | None
    recommendation_id: str
    experiment: str | None = None
    """The running experiment the list was served in (docs/experiments.md), else None."""
    variant: str | None = None
    """The experiment's variant that decided the list, else None."""
    explanations: tuple[Explanation | None, ...] | None = None
    """One per item when asked for (:meth:`RecService.explain`; None per item: nothing explains
    it), else None."""
    explain_status: str | None = None
    """With explanations: ``ok``, ``timeout`` (the budget ran out: none given) or ``error``."""


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
        sessions: RecentItems | None = None,
        assigner: Assigner | None = None,
    ) -> None:
        self.holder = holder
        self.cache = cache
        self.metrics = metrics
        self.budget_s = budget_s
        self.precompute_n = precompute_n
        self.write_back = write_back
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tailor-score")
        self._writes: set[asyncio.Task[None]] = set()
        self.assigner = assigner if assigner else None
        """Running experiments (None: no experiment declared; the path stays as it was)."""
        self.variant_states: Mapping[str, ServingState] = {}
        """Model versions of experiment variants, loaded beside the active one, by name."""
        self.exposures: ExposureLog | None = None
        """Where served lists are logged as exposures (None: not logged)."""
        self.expose_all = False
        """Log every served list, not only experiments' (setting ``exposure_log = "all"``)."""

    def close(self) -> None:
        """Stop the scoring threads (queued work is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- recommendations ------------------------------------------------------------------
    async def recommend(self, user_id: str, query: RecQuery) -> Answer:
        """The best available answer for ``user_id``; never raises for a dependency failure.

        In a running experiment the unit's variant decides what is served (docs/experiments.md)
        and the answer names the experiment and variant."""
        if self.assigner is None and self.exposures is None:
            return await self._recommend(self.holder.state, user_id, query)
        return await self._assigned(user_id, (), query)

    async def _recommend(self, state: ServingState, user_id: str, query: RecQuery) -> Answer:
        """:meth:`recommend` on one state (the request's snapshot: the active version's, or an
        experiment variant's)."""
        if state.model is None:
            _require_answerable(state)
            return self._fallback(state, user_id, query, "model_unavailable")
        user_num = state.user_num(user_id)
        if user_num is None:
            # an id the model does not know may be a session with recent items: one store
            # read, on this path only (known users never pay it)
            recent = await self._recent(user_id)
            if recent:
                return await self._from_history(state, user_id, recent, query)
            return self._answer(
                state.pipeline.cold_start(user_id, query).items, "cold_start", state
            )
        missed = False
        if query.exclude_seen:
            cached = await self._from_cache(state, user_id, user_num, query)
            if isinstance(cached, Answer):
                return cached
            missed = cached is _MISS and self.write_back
        else:  # the cache holds lists without seen items: scored live, a miss for the ratio
            self.metrics.cache_result("miss")
        stored: list[ItemList] = []  # the cacheable list, when one is computed
        try:
            if missed:
                items = await self._run(
                    lambda: self._score_miss(state, user_id, user_num, query, stored)
                )
            else:
                items = await self._run(lambda: self._score(state, user_id, user_num, query))
        except ScoringTimeout:
            return self._fallback(state, user_id, query, "scoring_timeout")
        except Exception as exc:  # a broken model must not become a 5xx
            _log.error("scoring_failed", error_type=type(exc).__name__, version=state.version)
            return self._fallback(state, user_id, query, "scoring_error")
        if stored:
            self._write_back(state, user_id, stored[0])
        return self._answer(items, "model", state)

    async def recommend_context(
        self, user_id: str, item_ids: Sequence[str], query: RecQuery
    ) -> Answer:
        """The answer for ``user_id`` given a request's context (recent and cart items, oldest
        first): scored from the user's history plus the context through
        :meth:`Pipeline.recommend_history <tailor.pipeline.Pipeline.recommend_history>`
        (``source=session``); an id the model does not know adds its stored recent items
        before the context. Never cached. Without context items: :meth:`recommend`."""
        if self.assigner is None and self.exposures is None:
            return await self._answer_for(self.holder.state, user_id, item_ids, query)
        return await self._assigned(user_id, item_ids, query)

    async def _answer_for(
        self, state: ServingState, user_id: str, item_ids: Sequence[str], query: RecQuery
    ) -> Answer:
        """The answer on ``state``: through the context when there are context items."""
        if not item_ids:
            return await self._recommend(state, user_id, query)
        if state.model is None:
            _require_answerable(state)
            return self._fallback(state, user_id, query, "model_unavailable")
        history = list(item_ids)
        if state.user_num(user_id) is None:
            history = [*await self._recent(user_id), *history]
        return await self._from_history(state, user_id, history, query)

    # ---- experiments ----------------------------------------------------------------------
    async def _assigned(self, user_id: str, item_ids: Sequence[str], query: RecQuery) -> Answer:
        """The answer in the unit's experiment variant (if any), logged as an exposure."""
        arm = self.assigner.assign(user_id) if self.assigner is not None else None
        state = self.holder.state if arm is None else self._arm_state(arm)
        if arm is None or state is None:  # not enrolled, or the variant's version is missing
            answer = await self._answer_for(self.holder.state, user_id, item_ids, query)
        else:
            answer = await self._in_arm(arm, state, user_id, item_ids, query)
        if self.exposures is not None and (answer.experiment is not None or self.expose_all):
            placement = arm.variant.placement if arm is not None else None
            self.exposures.add(
                user_id,
                answer.recommendation_id,
                [i for i, _ in answer.items],
                time.time(),
                placement,
            )
        return answer

    def _arm_state(self, arm: Assignment) -> ServingState | None:
        """The state a variant is served from: its version's (None when that version did not
        load: the request is answered outside the experiment, which the sample-ratio check
        then shows), else the active one."""
        version = arm.variant.version
        active = self.holder.state
        if version is None or version == active.version:
            return active
        return self.variant_states.get(version)

    async def _in_arm(
        self,
        arm: Assignment,
        state: ServingState,
        user_id: str,
        item_ids: Sequence[str],
        query: RecQuery,
    ) -> Answer:
        variant = arm.variant
        if variant.n is not None:
            query = replace(query, n=variant.n)
        if variant.strategy == "popular":
            _require_answerable(state)
            items = state.pipeline.fallback(user_id, _seen(query, item_ids)).items
            answer = self._answer(items, "popular", state)
        else:
            answer = await self._answer_for(state, user_id, item_ids, query)
        return replace(
            answer,
            recommendation_id=f"{answer.recommendation_id}:{arm.label}",
            experiment=arm.experiment.name,
            variant=variant.name,
        )

    async def _recent(self, user_id: str) -> list[str]:
        """The id's stored recent items; none without a store or when it fails (the stores
        never raise; a foreign one must not make a 5xx either)."""
        if self.sessions is None:
            return []
        try:
            return await self.sessions.get(user_id)
        except Exception as exc:
            _log.error("recent_items_failed", error_type=type(exc).__name__)
            return []

    async def _from_history(
        self, state: ServingState, user_id: str, history: list[str], query: RecQuery
    ) -> Answer:
        """``recommend_history`` in a scoring thread, within the budget; the popular list
        without the history's items (``fallback``) when it fails or runs out of time."""
        try:
            answer = await self._run(
                lambda: state.pipeline.recommend_history(user_id, history, query)
            )
        except ScoringTimeout:
            return self._fallback(state, user_id, _seen(query, history), "scoring_timeout")
        except Exception as exc:  # a broken model must not become a 5xx
            _log.error("scoring_failed", error_type=type(exc).__name__, version=state.version)
            return self._fallback(state, user_id, _seen(query, history), "scoring_error")
        return self._answer(answer.items, answer.source, state)

    async def _from_cache(
        self, state: ServingState, user_id: str, user_num: int, query: RecQuery
    ) -> Any:
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
        # seen and unavailable items were left out when the list was computed; a list shorter
        # than precompute_n held every candidate, so what the filters leave is backfilled
        complete = len(cached) < self.precompute_n
        answer = state.pipeline.from_stored(user_id, user_num, cached, query, complete=complete)
        if answer is None:  # too short after the filters: live scoring answers, so a miss
            self.metrics.cache_result("miss")
            return None
        self.metrics.cache_result("hit")
        return self._answer(answer.items, "cache", state)

    def _score(self, state: ServingState, user_id: str, user_num: int, query: RecQuery) -> ItemList:
        pipeline = state.pipeline
        return pipeline.finish(user_id, user_num, pipeline.model_list(user_num, query), query).items

    def _score_miss(
        self,
        state: ServingState,
        user_id: str,
        user_num: int,
        query: RecQuery,
        stored: list[ItemList],
    ) -> ItemList:
        """Score the list the cache would hold (top ``precompute_n``, seen and unavailable items
        left out, as ``warm`` writes it), append it to ``stored`` for the write-back, and answer
        from it as from a cache hit; score again with the filters when too few remain."""
        pipeline = state.pipeline
        full = pipeline.model_list(user_num, Query(n=self.precompute_n))
        stored.append(full)
        complete = len(full) < self.precompute_n
        answer = pipeline.from_stored(user_id, user_num, full, query, complete=complete)
        if answer is not None:
            return answer.items
        return self._score(state, user_id, user_num, query)

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

    # ---- explanations ---------------------------------------------------------------------
    async def explain(
        self, user_id: str, answer: Answer, context_ids: Sequence[str] = (), top: int = 3
    ) -> Answer:
        """``answer`` with one explanation per item (``Pipeline.explain``), computed in a scoring
        thread within its own ``scoring_budget_ms``, from the history the list was scored with:
        the user's own, plus for ``session`` lists the id's stored recent items (an id the
        model does not know) and the request's ``context_ids``, as :meth:`recommend_context`
        scored them. Items of popular answers get None. Called only when a request asks:
        plain answers, cached or not, never pay for it, and nothing explained is cached."""
        state = self._state_of(answer.version)
        nothing = (None,) * len(answer.items)
        if state is None or answer.source not in EXPLAINED_SOURCES:
            return replace(answer, explanations=nothing, explain_status="ok")
        history: list[str] = []
        if answer.source == "session":
            known = state.user_num(user_id) is not None
            history = [*([] if known else await self._recent(user_id)), *context_ids]
        pipeline, items = state.pipeline, answer.items
        try:
            explained = await self._run(lambda: pipeline.explain(user_id, items, history, top))
        except ScoringTimeout:
            return replace(answer, explanations=nothing, explain_status="timeout")
        except Exception as exc:  # an explanation must never cost the answer
            _log.error("explain_failed", error_type=type(exc).__name__, version=state.version)
            return replace(answer, explanations=nothing, explain_status="error")
        return replace(answer, explanations=tuple(explained), explain_status="ok")

    def _state_of(self, version: str | None) -> ServingState | None:
        """The loaded state of ``version`` (the active one or an experiment variant's)."""
        active = self.holder.state
        if version is not None and version == active.version:
            return active
        return None if version is None else self.variant_states.get(version)

    # ---- similar and popular --------------------------------------------------------------
    async def similar(self, item_id: str, n: int) -> Answer | None:
        """Items similar to ``item_id``; None when the item is unknown."""
        state = self.holder.state
        _require_answerable(state)
        if not state.knows_item(item_id):
            return None
        model = state.model
        if isinstance(model, SupportsSimilarItems) and item_id in model.items:
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
        model = state.model
        assert isinstance(model, SupportsSimilarItems)
        recs = model.similar_items(np.array([item_id], dtype=object), n=n + 1)
        rule = ItemFilter(exclude=frozenset([item_id]), unavailable=state.catalog.unavailable)
        pairs = zip(recs.item_ids.tolist(), recs.scores.tolist(), strict=True)
        return apply_filters(pairs, n, rule)

    def popular(self, n: int, category: str | None) -> Answer:
        """The popular list (global or one category): ``source=popular``, not a fallback (the
        caller asked for it; nothing failed)."""
        state = self.holder.state
        _require_answerable(state)
        items = apply_filters(state.popular.top(category), n, ItemFilter())
        return self._answer(items, "popular", state)

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

    def _fallback(self, state: ServingState, user_id: str, query: RecQuery, reason: str) -> Answer:
        self.metrics.fallbacks.labels(reason).inc()
        return self._answer(state.pipeline.fallback(user_id, query).items, "fallback", state)

    def _answer(self, items: ItemList, source: str, state: ServingState) -> Answer:
        self.metrics.answered(source)
        return Answer(items, source, state.version, uuid.uuid4().hex)


def _seen(query: RecQuery, history: Sequence[str]) -> RecQuery:
    """``query`` with the history's items excluded too, when seen items are."""
    if not query.exclude_seen:
        return query
    return replace(query, exclude=query.exclude | frozenset(history))


def _require_answerable(state: ServingState) -> None:
    """503 when neither a model nor a popular list is loaded: an empty list would look like an
    answer ("nothing to recommend") when the truth is "nothing loaded"."""
    if not state.answerable:
        raise ProblemError(
            503,
            "no model and no fallback list are loaded; see /health/ready",
            headers={"Retry-After": "5"},
        )
