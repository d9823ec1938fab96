"""Loading, switching and refreshing the serving state while the service runs.

Loads happen in a worker thread and end with one :meth:`StateHolder.swap`, so requests in flight
finish on the state they started with and new requests see the new version at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import replace

from tailor.errors import ArtifactError, TailorError
from tailor.logging import get_logger
from tailor.serving.cache import CacheUnavailable, RecCache
from tailor.serving.instruments import ServingMetrics
from tailor.serving.precompute import warm
from tailor.serving.registry import ModelRegistry
from tailor.serving.settings import ServeSettings
from tailor.serving.state import (
    ServingState,
    StateHolder,
    StateOptions,
    load_state,
    reload_popular,
)

_log = get_logger(__name__)


def freeze_heap(*, collect: bool) -> None:
    """Move every object alive now out of the garbage collector's reach (``gc.freeze``).

    A loaded model version is many long-lived objects (id vocabularies, catalogue and seen-item
    maps, popular lists: about 190,000 for Online Retail). CPython's full collection walks all of
    them while holding the GIL, 90-130 ms here, and at 500 requests/s it ran once or twice per
    10 s of load, stalling every request in flight. Frozen objects are never walked again;
    request garbage is still collected, quickly. ``collect`` first (startup only: it costs one
    full pass) so that garbage from loading is freed instead of frozen. A replaced version's
    objects are freed by reference counting when the last request using it ends; only cyclic
    garbage among them stays.
    """
    if collect:
        gc.collect()
    gc.freeze()


class Reloader:
    """Keeps ``holder`` on the registry's active version and its fallback lists fresh."""

    def __init__(
        self,
        registry: ModelRegistry | None,
        holder: StateHolder,
        cache: RecCache,
        metrics: ServingMetrics,
        settings: ServeSettings,
    ) -> None:
        self.registry = registry
        self.holder = holder
        self.cache = cache
        self.metrics = metrics
        self.settings = settings
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: str | None = None
        """The last version that did not load (or the reason none could be named); not retried
        until ``ACTIVE`` (or the reason) changes."""

    def _active_version(self) -> tuple[str | None, str | None]:
        """The active version's name, or None with the reason (paths relative to the store)."""
        assert self.registry is not None
        try:
            version = self.registry.active()
        except Exception as exc:  # an unreadable store is a state to report, not a crash
            text = str(exc) if isinstance(exc, TailorError) else f"unexpected {type(exc).__name__}"
            return None, self.registry.public(text)
        if version is None:
            return None, "no active version in the model store"
        return version, None

    def _install(self, state: ServingState) -> None:
        old = self.holder.swap(state)
        freeze_heap(collect=False)  # no full pass here: it would stall requests in flight
        self.metrics.show_state(state)
        _log.info("version_active", version=state.version, previous=old.version)

    async def sync(self, *, force: bool = False) -> bool:
        """Load the registry's active version if it differs from the served one (or ``force``).

        A version that does not load is not installed over a working one (the old one keeps
        answering) and is not retried until ``ACTIVE`` names another version; without a working
        one its fallback lists (if any) are served and ``/health/ready`` says why.
        """
        if self.registry is None:
            return False
        async with self._lock:
            version, problem = await asyncio.to_thread(self._active_version)
            if version is None:
                await self._without_version(problem or "no model", force=force)
                return False
            if not force and version in (self.holder.state.version, self._failed):
                return False
            state = await self._load(version)
            self._failed = version if state.model is None else None
            if state.model is None and self.holder.state.model is not None:
                _log.error("version_not_installed", version=version, reason=state.problem)
                return False
            if self.settings.warm_on_start and state.model is not None:
                await self._warm(state)
            self._install(state)
        with contextlib.suppress(CacheUnavailable):
            await self.cache.set_active(version)
        return True

    async def _without_version(self, problem: str, *, force: bool) -> None:
        """No version can be named: a working model keeps answering; otherwise show why, and
        for a single model folder whose manifest is unreadable serve its ``popularity/`` lists
        anyway (they do not depend on the manifest)."""
        assert self.registry is not None
        if problem == self._failed and not force:
            return  # reported already (every poll would repeat it); retried when it changes
        self._failed = problem
        if self.holder.state.model is not None:
            _log.error("active_version_unreadable", reason=problem)
            return
        _log.warning("no_active_version", reason=problem)
        single = await asyncio.to_thread(
            lambda: self.registry is not None and self.registry.is_single
        )
        state = await self._load(None) if single else ServingState(problem=problem)
        self._install(replace(state, problem=state.problem or problem))

    async def _load(self, version: str | None) -> ServingState:
        assert self.registry is not None
        settings = self.settings
        return await asyncio.to_thread(
            load_state, self.registry, version, StateOptions.of(settings)
        )

    async def activate(self, version: str, *, rollback: bool = False) -> str:
        """Check and load ``version`` (or, with ``rollback``, the previous one), then move the
        pointer and serve it. Nothing changes when it does not load.

        Raises:
            ArtifactError: the version is broken (the message names the file, relative to the
                model store).
            ConfigError: nothing to roll back to.
        """
        registry = self.registry
        assert registry is not None
        async with self._lock:
            if rollback:
                version = await asyncio.to_thread(registry.rollback_target)
            try:
                await asyncio.to_thread(registry.check, version)
            except ArtifactError as exc:
                raise ArtifactError(registry.public(str(exc))) from None
            state = await self._load(version)
            if state.model is None:
                raise ArtifactError(state.problem or f"version {version!r} did not load")
            if self.settings.warm_on_start:
                await self._warm(state)
            if rollback:
                await asyncio.to_thread(registry.rollback, check=False)
            else:
                await asyncio.to_thread(registry.activate, version, check=False)
            self._install(state)
            self._failed = None
        with contextlib.suppress(CacheUnavailable):
            await self.cache.set_active(version)
        return version

    async def _warm(self, state: ServingState) -> None:
        try:
            await warm(state, self.cache, self.settings.precompute_n, activate=False)
        except CacheUnavailable:
            _log.warning("warm_skipped_cache_unavailable", version=state.version)

    async def refresh_fallback(self) -> bool:
        """Rebuild the popular lists if the active version's popularity artifact changed."""
        state = self.holder.state
        fresh = await asyncio.to_thread(reload_popular, state, self.settings.fallback_size)
        if fresh is None:
            return False
        return self.holder.refresh_popular(state.version, *fresh)

    def start(self) -> None:
        """Start the background loops (version watch, fallback refresh)."""
        self._tasks = [
            asyncio.create_task(self._every(self.settings.reload_poll_s, self.sync)),
            asyncio.create_task(
                self._every(self.settings.fallback_refresh_s, self.refresh_fallback)
            ),
        ]

    async def stop(self) -> None:
        """Cancel the background loops."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    async def _every(period_s: float, job: object) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await job()  # type: ignore[operator]
            except Exception as exc:  # a failed refresh keeps the current state
                _log.error("background_job_failed", error_type=type(exc).__name__, error=str(exc))
