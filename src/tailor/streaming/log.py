"""The event log: one interface over the embedded SQLite log, Redis Streams, Kafka and Kinesis.

Two sides, so a backend can be written by one process and read by another:

* :class:`EventSink` (``POST /v1/events``): ``append`` returns only once the events are durably
  in the log; it raises :class:`LogUnavailable` otherwise, and the caller answers 503 (nothing
  was accepted).
* :class:`EventSource` (``tailor stream``): ``seek(position)`` then ``poll`` returns every record
  after ``position`` exactly once, in order within a partition; ``commit`` acknowledges applied
  records to the backend (XACK, a Kafka commit, a stored offset); ``dead_letter`` moves records
  that failed ``max_failures`` times aside.

A :class:`Position` maps each partition to the offset of the last applied record. The consumer's
snapshot stores it with the model, so a restart loads the snapshot and seeks there: every record
after the snapshot is applied again to the snapshot's state, which makes the model's state
exactly-once even though delivery is at-least-once (records at or before the position are
skipped by :meth:`Position.covers`).

Backends are chosen by URL (:func:`open_sink`, :func:`open_source`)::

    sqlite:////var/lib/tailor/events.db         embedded default (WAL; no server); three
                                                slashes for a relative path
    redis://127.0.0.1:6379/0?stream=tailor:events&group=tailor
    kafka://127.0.0.1:9092/tailor-events?group=tailor
    kinesis://tailor-events?region=eu-west-1&endpoint_url=http://127.0.0.1:5000
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tailor.errors import ConfigError, TailorError
from tailor.streaming.events import Event


class LogUnavailable(TailorError):
    """The event log cannot take or give events now (down, unreachable, timed out)."""


def offset_key(offset: str) -> tuple[int, ...]:
    """The order of offsets within a partition: ``"42"`` (SQLite, Kafka, Kinesis sequence
    numbers) or ``"1700000000000-3"`` (a Redis stream id) as a tuple of integers."""
    return tuple(int(part) for part in offset.split("-"))


@dataclass(frozen=True, slots=True)
class Record:
    """One event as the log delivers it."""

    partition: str
    """The partition (Kafka), shard (Kinesis) or stream (Redis, SQLite: ``"0"``)."""
    offset: str
    """The record's place within its partition (see :func:`offset_key`)."""
    event: Event
    deliveries: int = 1
    """How many times the backend has delivered it (redeliveries after a crash count)."""


@dataclass
class Position:
    """Per partition, the offset of the last record applied (absent: nothing applied)."""

    offsets: dict[str, str] = field(default_factory=dict)

    def covers(self, record: Record) -> bool:
        """Whether ``record`` is at or before the position (already applied)."""
        done = self.offsets.get(record.partition)
        return done is not None and offset_key(record.offset) <= offset_key(done)

    def uncovered(self, records: Iterable[Record]) -> list[Record]:
        """The records after the position (not yet applied), in their order; the same test as
        :meth:`covers`, with each partition's offset parsed once."""
        done = {p: offset_key(o) for p, o in self.offsets.items()}
        return [
            r for r in records if (d := done.get(r.partition)) is None or offset_key(r.offset) > d
        ]

    def advance(self, records: Iterable[Record]) -> None:
        """Move past ``records`` (to the largest offset per partition)."""
        last: dict[str, tuple[tuple[int, ...], str]] = {}
        for record in records:
            key = offset_key(record.offset)
            best = last.get(record.partition)
            if best is None or key > best[0]:
                last[record.partition] = (key, record.offset)
        for partition, (key, offset) in last.items():
            done = self.offsets.get(partition)
            if done is None or key > offset_key(done):
                self.offsets[partition] = offset

    def copy(self) -> Position:
        return Position(dict(self.offsets))

    def to_dict(self) -> dict[str, str]:
        return dict(self.offsets)

    @classmethod
    def from_dict(cls, data: Mapping[str, str] | None) -> Position:
        return cls({str(k): str(v) for k, v in (data or {}).items()})


@runtime_checkable
class EventSink(Protocol):
    """The writing side of a log."""

    def append(self, events: Sequence[Event]) -> None:
        """Append durably, in order; raises LogUnavailable when they could not be written."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class EventSource(Protocol):
    """The reading side of a log, for one consumer (of a consumer group, where the backend
    has groups)."""

    def seek(self, position: Position) -> None:
        """Deliver, from now on, every record after ``position`` (from the log's start for a
        partition the position does not name)."""
        ...

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first one."""
        ...

    def commit(self, records: Sequence[Record]) -> None:
        """Acknowledge applied records to the backend."""
        ...

    def dead_letter(self, records: Sequence[Record], reason: str) -> None:
        """Move records that cannot be applied out of the way (and acknowledge them)."""
        ...

    def lag(self) -> int | None:
        """Records in the log not yet delivered to this consumer (None: unknown)."""
        ...

    def close(self) -> None: ...


SCHEMES = ("sqlite", "redis", "rediss", "kafka", "kinesis")


IDENTITY_KEYS = ("stream", "group")
"""Query keys that say which log it is; every other key (timeouts, credentials such as a
Kafka ``sasl.password``) is left out of the identity, which snapshots write to disk."""


def log_identity(url: str) -> str:
    """The name a snapshot records for the log at ``url``: scheme, hosts, path and the
    ``stream`` and ``group`` keys, without user, password or any other query key (and, for
    SQLite, the file's absolute path), so the same log is recognised however the consumer was
    started and no secret reaches ``stream.json``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from tailor.streaming.sqlite_log import sqlite_path

        return f"sqlite:///{sqlite_path(url).resolve()}"
    netloc = parts.netloc.rpartition("@")[2]  # no user or password; a Kafka host list stays
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in IDENTITY_KEYS])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigError(
            f"unsupported event log URL scheme {scheme!r}; use sqlite:///PATH, redis://, "
            "kafka:// or kinesis://"
        )
    return scheme


def open_sink(url: str) -> EventSink:
    """The writing side of the log at ``url``.

    Raises:
        ConfigError: an unknown scheme or a malformed URL.
    """
    scheme = _scheme(url)
    if scheme == "sqlite":
        from tailor.streaming.sqlite_log import SqliteEventLog

        return SqliteEventLog.from_url(url)
    if scheme in ("redis", "rediss"):
        from tailor.streaming.redis_log import RedisStreamLog

        return RedisStreamLog.from_url(url)
    if scheme == "kafka":
        from tailor.streaming.kafka_log import KafkaSink

        return KafkaSink.from_url(url)
    from tailor.streaming.kinesis_log import KinesisSink

    return KinesisSink.from_url(url)


def open_source(url: str, consumer: str = "tailor-stream") -> EventSource:
    """The reading side of the log at ``url`` for the consumer named ``consumer``.

    Raises:
        ConfigError: an unknown scheme or a malformed URL.
    """
    scheme = _scheme(url)
    if scheme == "sqlite":
        from tailor.streaming.sqlite_log import SqliteEventLog

        return SqliteEventLog.from_url(url, consumer=consumer)
    if scheme in ("redis", "rediss"):
        from tailor.streaming.redis_log import RedisStreamLog

        return RedisStreamLog.from_url(url, consumer=consumer)
    if scheme == "kafka":
        from tailor.streaming.kafka_log import KafkaSource

        return KafkaSource.from_url(url, consumer=consumer)
    from tailor.streaming.kinesis_log import KinesisSource

    return KinesisSource.from_url(url, consumer=consumer)
