"""Dropping repeated events (client retries, at-least-once producers) by ``event_id``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from tailor.streaming.events import Event


class Deduplicator:
    """Remembers the ids of events seen within ``window_s`` (by event time) and at most
    ``max_ids`` of them; an event whose id it remembers is a repeat.

    Ids are forgotten oldest-first (by arrival), once older than the newest event time seen
    minus the window, or when more than ``max_ids`` are held. The state is saved with each
    snapshot (:meth:`state`, :meth:`restore`), so a restarted consumer still recognises
    repeats of events applied before the snapshot.
    """

    def __init__(self, window_s: float = 86_400.0, max_ids: int = 1_000_000) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._seen)

    def fresh(self, events: Sequence[Event]) -> list[Event]:
        """The events not seen before (the first of repeats within the batch), remembered."""
        out: list[Event] = []
        for event in events:
            if event.event_id in self._seen:
                continue
            stamp = event.timestamp.timestamp()
            self._seen[event.event_id] = stamp
            self._newest = max(self._newest, stamp)
            out.append(event)
        self._forget()
        return out

    def _forget(self) -> None:
        horizon = self._newest - self.window_s
        seen = self._seen
        while seen and (len(seen) > self.max_ids or next(iter(seen.values())) < horizon):
            seen.popitem(last=False)

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, event times) in arrival order, for a snapshot."""
        ids = np.asarray(list(self._seen), dtype=np.str_)
        return ids, np.fromiter(self._seen.values(), np.float64, len(self._seen))

    def restore(self, ids: Iterable[str], times: Iterable[float]) -> None:
        """Replace the remembered ids by a snapshot's."""
        self._seen = OrderedDict(zip((str(i) for i in ids), (float(t) for t in times), strict=True))
        self._newest = max(self._seen.values(), default=float("-inf"))
