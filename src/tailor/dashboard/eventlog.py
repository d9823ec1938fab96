"""A read-only tail of the embedded (SQLite) event log, for the dashboard.

The dashboard never reads through a consumer group (that would take records from
``tailor stream``); it opens the SQLite file read-only and keeps the newest ``max_events``
events in memory, reading only what was appended since its last look. Other backends (Redis,
Kafka, Kinesis) are not read: the KPI routes say so.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

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
    """The newest events of a SQLite event log (see the module docstring)."""

    def __init__(self, path: Path, *, max_events: int = 500_000) -> None:
        self.path = path
        self._rows: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._after = 0
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)

    def refresh(self) -> list[dict[str, Any]]:
        """Read what was appended since the last call; the events held, oldest first.

        Raises:
            sqlite3.Error: the file cannot be read (missing, locked past 5 s).
        """
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
                            self._rows.append(orjson.loads(body))
                        except orjson.JSONDecodeError:
                            continue  # a foreign write: the consumer dead-letters it
                    if len(batch) < READ_BATCH:
                        break
            finally:
                db.close()
            return list(self._rows)

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
