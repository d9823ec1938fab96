"""The monitor's own state: one SQLite file that only ``tailor monitor`` writes.

Tables::

    events(event_id PRIMARY KEY, ts, key, user_id, session_id, item_id, type, value,
           recommendation_id)               the rolling window of the last weeks' events
    meta(name PRIMARY KEY, value)           JSON: the log position, the first covered time,
                                            the previous statuses, references per version
    counters(ts, name, value)               samples of the server's event counters

Every change is one transaction (new events with the position they were read up to, a run's
statuses), so a monitor killed at any moment leaves the file as before or after, never half.
A repeat of an ``event_id`` (a client retry the log kept) is stored once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tailor.errors import ConfigError
from tailor.monitoring.checks import EVENT_COLUMNS
from tailor.streaming.events import Event
from tailor.streaming.log import Position

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, ts REAL NOT NULL, "
    "key TEXT NOT NULL, user_id TEXT, session_id TEXT, item_id TEXT NOT NULL, "
    "type TEXT NOT NULL, value REAL, recommendation_id TEXT)",
    "CREATE INDEX IF NOT EXISTS events_ts ON events (ts)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (ts REAL NOT NULL, name TEXT NOT NULL, "
    "value REAL NOT NULL)",
)


class MonitorState:
    """The state file at ``path`` (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            for statement in SCHEMA:
                self._db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open the monitor's state file {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    # ---- meta ----------------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    def _set(self, name: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )

    def put(self, **values: Any) -> None:
        """Set meta entries, all in one transaction."""
        with self._transaction():
            for name, value in values.items():
                self._set(name, value)

    @property
    def position(self) -> Position:
        """Where the monitor's reading of the log stopped."""
        return Position.from_dict(self.get("position"))

    @property
    def covered_since(self) -> pd.Timestamp | None:
        """The earliest event time the monitor has read events for (windows before it count
        as unknown, not as empty)."""
        value = self.get("covered_since")
        return None if value is None else pd.Timestamp(value, unit="s", tz="UTC")

    # ---- events --------------------------------------------------------------------------
    def add_events(self, events: Sequence[Event], position: Position) -> int:
        """Store ``events`` and the position they were read up to, in one transaction;
        returns how many were new (repeats of an event id are skipped)."""
        rows = [
            (
                e.event_id,
                e.timestamp.timestamp(),
                e.key,
                e.user_id,
                e.session_id,
                e.item_id,
                e.type,
                e.value,
                e.recommendation_id,
            )
            for e in events
        ]
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO events (event_id, ts, key, user_id, session_id, item_id, "
                "type, value, recommendation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = self._db.total_changes - before
            self._set("position", position.to_dict())
            if rows:
                first = min(r[1] for r in rows)
                known = self.get("covered_since")
                if known is None or first < known:
                    self._set("covered_since", first)
        return added

    def events(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """The stored events (at or after ``since``) as an events frame
        (:data:`~tailor.monitoring.checks.EVENT_COLUMNS`)."""
        sql = (
            "SELECT event_id, key, user_id, session_id, item_id, type, ts, value, "
            "recommendation_id FROM events"
        )
        args: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE ts >= ?"
            args = (since.timestamp(),)
        frame = pd.read_sql_query(sql + " ORDER BY ts", self._db, params=args)
        frame["timestamp"] = pd.to_datetime(frame.pop("ts"), unit="s", utc=True)
        return frame[list(EVENT_COLUMNS)]

    def newest_event(self) -> pd.Timestamp | None:
        row = self._db.execute("SELECT max(ts) FROM events").fetchone()
        return None if row[0] is None else pd.Timestamp(row[0], unit="s", tz="UTC")

    def prune(self, before: pd.Timestamp) -> int:
        """Drop events and counter samples older than ``before``; returns the events
        dropped. The covered time moves up to ``before`` when it was earlier."""
        cut = before.timestamp()
        with self._transaction():
            n = self._db.execute("DELETE FROM events WHERE ts < ?", (cut,)).rowcount
            self._db.execute("DELETE FROM counters WHERE ts < ?", (cut,))
            known = self.get("covered_since")
            if known is not None and known < cut:
                self._set("covered_since", cut)
        return int(n)

    # ---- counter samples -----------------------------------------------------------------
    def add_counters(self, at: float, values: dict[str, float]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO counters (ts, name, value) VALUES (?, ?, ?)",
                [(at, name, value) for name, value in values.items()],
            )

    def counter_samples(self, name: str) -> pd.DataFrame:
        """Columns ``time`` (UTC) and ``value`` of the counter ``name``, oldest first."""
        frame = pd.read_sql_query(
            "SELECT ts, value FROM counters WHERE name = ? ORDER BY ts", self._db, params=(name,)
        )
        frame["time"] = pd.to_datetime(frame.pop("ts"), unit="s", utc=True)
        return frame[["time", "value"]]

    # ---- helpers -------------------------------------------------------------------------
    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
