"""The embedded event log: one SQLite file in WAL mode, no server to run.

``POST /v1/events`` appends a batch in one transaction with ``synchronous=FULL`` (the batch is
on disk when the request is answered 202); ``tailor stream`` (another process, or a thread of
the server) reads it in order. WAL lets one writer and many readers work at once. Layout::

    events(seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB, appended_at REAL)
    offsets(consumer TEXT PRIMARY KEY, seq INTEGER)       what each consumer committed
    dead_letter(seq INTEGER PRIMARY KEY, body BLOB, reason TEXT, at REAL)

The whole log is one partition, ``"0"``; offsets are ``seq``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, Position, Record

_log = get_logger(__name__)

PARTITION = "0"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "body BLOB NOT NULL, appended_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS offsets (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, "
    "reason TEXT NOT NULL, at REAL NOT NULL)",
)
POLL_SLEEP_S = (0.002, 0.05)
"""Shortest and longest wait between two looks at an empty log (doubling in between)."""


class SqliteEventLog:
    """Sink and source over one SQLite file (see the module docstring)."""

    def __init__(self, path: Path | str, *, consumer: str = "tailor-stream") -> None:
        self.path = Path(path)
        self.consumer = consumer
        self._after = 0
        self._lock = threading.Lock()  # one connection, shared by the server's threads
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in SCHEMA:
                self._db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"cannot open the event log {self.path}: {exc}") from None

    @classmethod
    def from_url(cls, url: str, *, consumer: str = "tailor-stream") -> SqliteEventLog:
        """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
        spelling)."""
        return cls(sqlite_path(url), consumer=consumer)

    # ---- sink ----------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> None:
        now = time.time()
        rows = [(e.to_json(), now) for e in events]
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO events (body, appended_at) VALUES (?, ?)", rows
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot append to the event log {self.path}: {exc}") from None

    # ---- source --------------------------------------------------------------------------
    def seek(self, position: Position) -> None:
        self._after = int(position.offsets.get(PARTITION, "0"))

    def committed(self) -> Position:
        """What this consumer committed last (empty when it never did)."""
        row = self._query("SELECT seq FROM offsets WHERE consumer = ?", (self.consumer,))
        return Position({PARTITION: str(row[0][0])}) if row else Position()

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        sleep = POLL_SLEEP_S[0]
        while True:
            rows = self._query(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (self._after, max_records),
            )
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(min(sleep, max(0.0, deadline - time.monotonic())))
            sleep = min(sleep * 2, POLL_SLEEP_S[1])
        records: list[Record] = []
        for seq, body in rows:
            self._after = seq
            try:
                records.append(Record(PARTITION, str(seq), Event.from_json(body)))
            except ValidationError as exc:  # a foreign write: set aside, never stop the stream
                self._dead(seq, body, f"not an event: {exc.errors()[0]['msg']}")
        return records

    def commit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        last = max(int(r.offset) for r in records)
        self._execute(
            "INSERT INTO offsets (consumer, seq) VALUES (?, ?) ON CONFLICT(consumer) "
            "DO UPDATE SET seq = max(seq, excluded.seq)",
            (self.consumer, last),
        )

    def dead_letter(self, records: Sequence[Record], reason: str) -> None:
        for record in records:
            self._dead(int(record.offset), record.event.to_json(), reason)
        self.commit(records)

    def dead_letters(self) -> list[tuple[int, str]]:
        """(seq, reason) of every dead-lettered record, oldest first."""
        return [
            (int(s), str(r))
            for s, r in self._query("SELECT seq, reason FROM dead_letter ORDER BY seq", ())
        ]

    def lag(self) -> int | None:
        row = self._query("SELECT count(*) FROM events WHERE seq > ?", (self._after,))
        return int(row[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- helpers -------------------------------------------------------------------------
    def _dead(self, seq: int, body: bytes, reason: str) -> None:
        _log.warning("event_dead_lettered", log=str(self.path), seq=seq, reason=reason)
        self._execute(
            "INSERT OR REPLACE INTO dead_letter (seq, body, reason, at) VALUES (?, ?, ?, ?)",
            (seq, body, reason, time.time()),
        )

    def _query(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot read the event log {self.path}: {exc}") from None

    def _execute(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            with self._lock:
                self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot write the event log {self.path}: {exc}") from None


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:`` URL: three slashes then a relative path, or four then an
    absolute one (``sqlite:////var/lib/tailor/events.db``).

    Raises:
        ConfigError: a host in the URL, or no path.
    """
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigError(
            f"the sqlite event log URL names a host ({parts.netloc!r}); use "
            "sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path = unquote(parts.path)[1:]
    if not path:
        raise ConfigError("the sqlite event log URL has no path (sqlite:///events.db)")
    return Path(path)
