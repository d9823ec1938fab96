"""A read-only tail of the embedded (SQLite) event log, for the dashboard.

The dashboard never reads through a consumer group (that would take records from
``tailor stream``); it opens the SQLite file read-only and reads only what was appended since
its last look. :class:`LogView` keeps the newest ``max_events`` events as one frame, extended
with each look, and remembers computed documents for a few seconds, so that dashboards polling
every few seconds cost one computation per interval. Other backends (Redis, Kafka, Kinesis) are
not read: the KPI routes say so.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pandas as pd

from tailor.dashboard.kpis import events_frame

T = TypeVar("T")

READ_BATCH = 50_000


@dataclass(frozen=True)
class Lag:
    """How far the consumer is behind the log."""

    events: int
    """Events appended after the consumer's committed offset."""
    oldest_s: float | None
    """Seconds since the oldest of them was appended (None when none waits)."""
    consumer: bool
    """Whether the consumer ever committed (False: no consumer reads this log; ``events``
    then counts the whole log)."""
    newest_s: float | None
    """Seconds since the newest event of the log was appended (None: the log is empty)."""


class SqliteTail:
    """New events of a SQLite event log, read-only (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._after = 0
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)

    def read_new(self) -> list[dict[str, Any]]:
        """The events appended since the last call, oldest first.

        Raises:
            sqlite3.Error: the file cannot be read (missing, locked past 5 s).
        """
        rows: list[dict[str, Any]] = []
        with self._lock:
            db = self._connect()
            try:
                while True:
                    batch = db.execute(
                        "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                        (self._after, READ_BATCH),
                    ).fetchall()
                    for seq, body in batch:
                        self._after = seq
                        try:
                            rows.append(orjson.loads(body))
                        except orjson.JSONDecodeError:
                            continue  # a foreign write: the consumer dead-letters it
                    if len(batch) < READ_BATCH:
                        break
            finally:
                db.close()
        return rows

    def lag(self, consumer: str, now: float | None = None) -> Lag:
        """The consumer's lag behind the log.

        Raises:
            sqlite3.Error: the file cannot be read.
        """
        db = self._connect()
        try:
            found = db.execute("SELECT seq FROM offsets WHERE consumer = ?", (consumer,)).fetchone()
            after = 0 if found is None else int(found[0])
            waiting, oldest = db.execute(
                "SELECT COUNT(*), MIN(appended_at) FROM events WHERE seq > ?", (after,)
            ).fetchone()
            (newest,) = db.execute(
                "SELECT appended_at FROM events ORDER BY seq DESC LIMIT 1"
            ).fetchone() or (None,)
        finally:
            db.close()
        now = time.time() if now is None else now

        def age(stamp: float | None) -> float | None:
            return None if stamp is None else round(max(0.0, now - float(stamp)), 3)

        return Lag(int(waiting), age(oldest), found is not None, age(newest))


class LogView:
    """The newest ``max_events`` events of a SQLite log as one frame, and documents computed
    from it remembered for ``ttl_s`` seconds."""

    def __init__(self, path: Path, *, max_events: int = 500_000, ttl_s: float = 4.0) -> None:
        self.tail = SqliteTail(path)
        self.max_events = max_events
        self.ttl_s = ttl_s
        self._frame = events_frame([])
        self._lock = threading.Lock()
        self._memo: dict[Hashable, tuple[float, Any]] = {}

    def frame(self) -> pd.DataFrame:
        """The events held after reading what is new (repeats of an ``event_id`` dropped).

        Raises:
            sqlite3.Error: the file cannot be read.
        """
        with self._lock:
            new = self.tail.read_new()
            if new:
                frame = pd.concat([self._frame, events_frame(new)], ignore_index=True)
                repeated = frame["event_id"].notna() & frame["event_id"].duplicated()
                frame = frame[~repeated].iloc[-self.max_events :]
                self._frame = frame.reset_index(drop=True)
            return self._frame

    def memo(
        self, key: Hashable, compute: Callable[[pd.DataFrame], T], ttl_s: float | None = None
    ) -> T:
        """``compute(frame())``, or its value for ``key`` from less than ``ttl_s`` (default:
        the view's) seconds ago."""
        ttl = self.ttl_s if ttl_s is None else ttl_s
        now = time.monotonic()
        found = self._memo.get(key)
        if found is not None and now - found[0] < ttl:
            value: T = found[1]
            return value
        value = compute(self.frame())
        self._memo = {k: v for k, v in self._memo.items() if now - v[0] < 60.0}
        self._memo[key] = (now, value)
        return value
