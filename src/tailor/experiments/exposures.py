"""Exposure logging: every list served in an experiment becomes exposure events in the event
log, written in the background (never on the request's path, never failing it).

The shape (docs/experiments.md): **one event per shown item**::

    {"event_id": "<recommendation_id>:<rank>", "user_id": "<the requested id>",
     "item_id": "<item>", "type": "exposure", "timestamp": <when served>,
     "value": <rank, 1-based>, "recommendation_id": "<hex>:<experiment>:<variant>",
     "placement": "<the variant's placement, when it names one>"}

so an exposure is joined to clicks and purchases by ``recommendation_id`` (which itself names
the experiment and the variant), per item impressions are countable, and the events fit the
log's one schema (:class:`tailor.streaming.events.Event`; models never learn from them). A
served empty list logs nothing.

:meth:`ExposureLog.add` only appends a tuple to a bounded queue (no I/O, no validation);
a task flushes the queue every ``flush_s`` through ``sink.append`` in a worker thread. When
the log is down the batch is dropped and counted (``dropped``): exposures are measurements,
and a request never waits for them. A full queue drops new lists the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from tailor.data.columns import EXPOSURE
from tailor.logging import get_logger
from tailor.streaming.events import MAX_BATCH, Event
from tailor.streaming.log import EventSink

_log = get_logger(__name__)

Served = tuple[str, str, tuple[str, ...], float, str | None]
"""(requested id, recommendation_id, item ids, when, placement) of one served list."""
MAX_PENDING = 10_000
"""Lists waiting for the log at most; more are dropped (and counted)."""


def exposure_events(
    key: str,
    recommendation_id: str,
    item_ids: Sequence[str],
    served_at: float,
    placement: str | None = None,
) -> list[Event]:
    """The exposure events of one served list (one per item, ``value`` = rank from 1), with
    the variant's ``placement`` when it names one."""
    when = datetime.fromtimestamp(served_at, UTC)
    return [
        Event(
            event_id=f"{recommendation_id}:{rank}",
            user_id=key,
            item_id=item,
            type=EXPOSURE,
            timestamp=when,
            value=float(rank),
            recommendation_id=recommendation_id,
            placement=placement,
        )
        for rank, item in enumerate(item_ids, start=1)
    ]


class ExposureLog:
    """A bounded queue of served lists, flushed to an event sink in the background."""

    def __init__(
        self, sink: EventSink, *, flush_s: float = 0.2, max_pending: int = MAX_PENDING
    ) -> None:
        self.sink = sink
        self.flush_s = flush_s
        self.max_pending = max_pending
        self._pending: deque[Served] = deque()
        self._task: asyncio.Task[None] | None = None
        self.logged = 0
        """Exposure events written."""
        self.dropped = 0
        """Lists not written (queue full, log down, an invalid id)."""

    def add(
        self,
        key: str,
        recommendation_id: str,
        item_ids: Sequence[str],
        at: float,
        placement: str | None = None,
    ) -> None:
        """Queue one served list (no I/O: safe on the request path)."""
        if not item_ids:
            return
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append((key, recommendation_id, tuple(item_ids), at, placement))

    def start(self) -> None:
        """Start flushing every ``flush_s`` (inside a running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the flusher and write what is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def flush(self) -> int:
        """Write every queued list now; returns the events written."""
        lists = []
        while self._pending:
            lists.append(self._pending.popleft())
        if not lists:
            return 0
        return await asyncio.to_thread(self._write, lists)

    def _write(self, lists: list[Served]) -> int:
        events: list[Event] = []
        for key, rec_id, items, at, placement in lists:
            try:
                events.extend(exposure_events(key, rec_id, items, at, placement))
            except Exception:  # an id the log's schema refuses: that list is not logged
                self.dropped += 1
        written = 0
        for start in range(0, len(events), MAX_BATCH):
            chunk = events[start : start + MAX_BATCH]
            try:
                self.sink.append(chunk)
            except Exception as exc:  # measurements: never raise into the server
                self.dropped += len({e.recommendation_id for e in chunk})
                _log.warning("exposures_not_logged", events=len(chunk), error=str(exc))
                continue
            written += len(chunk)
        self.logged += written
        return written
