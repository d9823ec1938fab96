"""The event log on Redis Streams, with a consumer group (sink and source in one class).

Layout (``stream`` and ``group`` come from the URL)::

    {stream}            XADD * event <Event JSON>               the log
    {stream}:dead       XADD * id <id> reason <text> body <raw>  dead letters (with the reason)
    {stream}:dead:ids   HSET <id> <reason>                       which ids were set aside

The whole stream is one partition: a record's ``partition`` is the stream name, its ``offset``
the stream id (``1700000000000-3``, ordered by :func:`~tailor.streaming.log.offset_key`).

Appending: one ``MULTI`` of ``XADD`` per event (all or nothing), with ``MAXLEN ~ N`` when the URL
sets ``maxlen``. ``append`` returns once Redis has taken the batch; how durable that is depends
on the server (``appendonly yes`` with ``appendfsync always`` for every write on disk). A Redis
that is down or slower than the socket timeout raises :class:`LogUnavailable`.

Reading, and where progress lives. The consumer's snapshot position is the recovery point;
``XACK`` is progress reporting (``XPENDING``, ``lag``) and tells the other consumers of the group
what is done. ``seek(position)``:

1. acknowledges the group's pending entries at or before ``position`` (the snapshot has them);
2. replays with ``XRANGE`` every entry after ``position`` up to the group's ``last-delivered-id``
   at the time of the seek (entries that were delivered, acknowledged or not, after the
   snapshot); pending ones among them are ``XCLAIM``-ed by this consumer, 1, 2, 4... per
   read, and only the first of them counts a delivery (the entry a consumer that keeps dying
   on one resumes on; the others were merely in flight, and a consumer killed a few times
   while catching up must not set its backlog aside as poison);
3. then reads the group: ``XAUTOCLAIM`` of entries another consumer left pending longer than
   ``claim_idle_ms`` and ``XREADGROUP >`` with ``BLOCK``. Group deliveries at or before the
   replay's end are skipped (the replay delivered them), those at or before ``position`` are
   acknowledged and skipped.

So every entry after the position is delivered once per seek, whatever was acknowledged before
a crash. Without ``seek`` the source is a plain group consumer (at-least-once from the group's
acknowledgements): first this consumer's own pending entries (after a restart under the same
name), then ``XAUTOCLAIM``, then ``XREADGROUP >``. A group is one logical consumer (one model):
several processes in one group take over from each other, they do not share the work.

Failures: an entry delivered more than ``max_failures`` times without an ``XACK`` (the consumer
crashed on it again and again) and an entry that is not an event (a foreign write) go to
``{stream}:dead`` and are acknowledged; they are never returned and never stop the stream. A
replay skips ids in ``{stream}:dead:ids``, so a poison event cannot crash a restarted consumer
in a loop.

Trimming (``maxlen``) is approximate and drops the oldest entries whether or not the group has
read them: size it well above what the consumer may fall behind by.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from pydantic import ValidationError

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, Position, Record, offset_key

_log = get_logger(__name__)

T = TypeVar("T")
FIELD = b"event"
DEFAULTS: dict[str, Any] = {
    "stream": "tailor:events",
    "group": "tailor",
    "maxlen": None,
    "max_failures": 5,
    "claim_idle_ms": 30_000,
    "timeout_s": 5.0,
}
_PARSERS: dict[str, Callable[[str], Any]] = {
    "stream": str,
    "group": str,
    "maxlen": int,
    "max_failures": int,
    "claim_idle_ms": int,
    "timeout_s": float,
}
BLOCK_SLICE_S = 1.0
"""Longest single ``XREADGROUP BLOCK`` (a poll with a longer timeout blocks in slices)."""
CLAIM_EVERY_S = 0.5
"""Shortest interval between two ``XAUTOCLAIM`` scans."""
Entry = tuple[bytes, dict[bytes, bytes] | None]


def _id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _at_or_before(entry_id: str, bound: str | None) -> bool:
    return bound is not None and offset_key(entry_id) <= offset_key(bound)


class RedisStreamLog:
    """Sink and source over one Redis stream (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str = DEFAULTS["stream"],
        group: str = DEFAULTS["group"],
        consumer: str = "tailor-stream",
        maxlen: int | None = None,
        max_failures: int = DEFAULTS["max_failures"],
        claim_idle_ms: int = DEFAULTS["claim_idle_ms"],
    ) -> None:
        if max_failures < 1 or claim_idle_ms < 0 or (maxlen is not None and maxlen < 1):
            raise ConfigError("redis event log: max_failures >= 1, claim_idle_ms >= 0, maxlen >= 1")
        self.client = client
        self._r: Any = client  # RESP2 replies; redis-py's types cover RESP2 and RESP3 at once
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.maxlen = maxlen
        self.max_failures = max_failures
        self.claim_idle_ms = claim_idle_ms
        self.dead_stream = f"{stream}:dead"
        self.dead_ids = f"{stream}:dead:ids"
        self._group_ready = False
        self._covered: str | None = None  # the seek position: applied, acknowledge and skip
        self._replay_after: str | None = None  # XRANGE cursor (exclusive; None: the start)
        self._replay_until: str | None = None  # end of the replay (None: no replay pending)
        self._skip_until: str | None = None  # group deliveries at or before: replayed already
        self._own_pending: str | None = "0"  # cursor through this consumer's PEL (None: done)
        self._claim_from = "0-0"
        self._claimed_at = 0.0
        self._replay_claims = 1  # pending entries the next replay read may take over
        self._replay_counted = False  # whether this seek's replay counted a delivery yet

    @classmethod
    def from_url(cls, url: str, *, consumer: str = "tailor-stream") -> RedisStreamLog:
        """``redis://host:port/db?stream=NAME&group=G&maxlen=N&max_failures=N&claim_idle_ms=N``
        (``rediss://`` for TLS; ``timeout_s`` sets the socket timeouts; other query parameters
        go to redis-py)."""
        parts = urlsplit(url)
        ours: dict[str, Any] = dict(DEFAULTS)
        theirs: list[tuple[str, str]] = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in _PARSERS:
                try:
                    ours[key] = _PARSERS[key](value)
                except ValueError:
                    raise ConfigError(
                        f"redis event log URL: {key}={value!r} is not valid"
                    ) from None
            else:
                theirs.append((key, value))
        timeout = float(ours.pop("timeout_s"))
        client = redis.Redis.from_url(
            urlunsplit(parts._replace(query=urlencode(theirs))),
            socket_timeout=timeout + BLOCK_SLICE_S,
            socket_connect_timeout=timeout,
        )
        return cls(client, consumer=consumer, **ours)

    # ---- sink ----------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> None:
        if not events:
            return

        def write() -> None:
            pipe = self._r.pipeline(transaction=True)
            for event in events:
                pipe.xadd(
                    self.stream,
                    {FIELD: event.to_json()},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            pipe.execute()

        self._call("append to", write)

    # ---- source --------------------------------------------------------------------------
    def seek(self, position: Position) -> None:
        self._ensure_group()
        covered = position.offsets.get(self.stream)
        if covered is not None:
            self._ack_pending_through(covered)
        info = self._group_info()
        last = _id(info["last-delivered-id"]) if info else "0-0"
        self._covered = covered
        self._replay_after = covered
        self._replay_until = last if last != "0-0" else None
        self._skip_until = last
        self._own_pending = None
        self._replay_claims = 1
        self._replay_counted = False

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        self._ensure_group()
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            replay = (self._replay_after, self._replay_until)
            try:
                records = self._poll_once(max_records, max(0.0, remaining))
            except LogUnavailable:
                # Redis failed part-way: entries the group already handed over (or the replay
                # cursor moved past) were never returned. Read them again next time: the replay
                # from where it was, then this consumer's pending entries from the start.
                self._replay_after, self._replay_until = replay
                if self._own_pending is None:
                    self._own_pending = "0"
                raise
            if records or time.monotonic() >= deadline:
                return records

    def commit(self, records: Sequence[Record]) -> None:
        ids = [r.offset for r in records if r.partition == self.stream]
        if ids:
            self._ack(ids)

    def dead_letter(self, records: Sequence[Record], reason: str) -> None:
        for record in records:
            self._dead(record.offset, record.event.to_json(), reason)

    def dead_letters(self) -> list[tuple[str, str]]:
        """(id, reason) of every dead-lettered entry, in the order they were set aside."""
        entries = self._call("read", lambda: self._r.xrange(self.dead_stream, "-", "+"))
        return [(_id(f[b"id"]), _id(f[b"reason"])) for _, f in entries]

    def lag(self) -> int | None:
        info = self._group_info()
        value = info.get("lag") if info else None
        return int(value) if value is not None else None

    def close(self) -> None:
        self._r.close()

    # ---- reading -------------------------------------------------------------------------
    def _poll_once(self, max_records: int, wait_s: float) -> list[Record]:
        while self._replay_until is not None:
            records = self._replay(max_records)
            if records:
                return records
        while self._own_pending is not None:
            records = self._own_pending_entries(max_records)
            if records:
                return records
        if time.monotonic() - self._claimed_at >= CLAIM_EVERY_S:
            self._claimed_at = time.monotonic()
            records = self._autoclaim(max_records)
            if records:
                return records
        block_ms = max(1, int(min(wait_s, BLOCK_SLICE_S) * 1000))
        reply = self._call(
            "read",
            lambda: self._r.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=max_records, block=block_ms
            ),
        )
        return self._from_group(reply[0][1] if reply else [], pending=False)

    def _replay(self, max_records: int) -> list[Record]:
        """The next entries of the replay window (after the position, up to the group's last
        delivered id at the seek); ``[]`` with the window not done when all were set aside."""
        low = "-" if self._replay_after is None else f"({self._replay_after}"
        high = str(self._replay_until)
        entries: list[Entry] = self._call(
            "read", lambda: self._r.xrange(self.stream, low, high, count=max_records)
        )
        if not entries:
            self._replay_until = None
            return []
        self._replay_after = _id(entries[-1][0])
        ids = [_id(entry_id) for entry_id, _ in entries]
        dead = self._call("read", lambda: self._r.hmget(self.dead_ids, ids))
        live = [entry for entry, gone in zip(entries, dead, strict=True) if gone is None]
        counts = self._pending_counts([_id(e[0]) for e in live], consumer=None)
        if len(counts) > self._replay_claims:  # take pending entries over 1, 2, 4... per read
            last = sorted(counts, key=offset_key)[self._replay_claims - 1]
            live = [e for e in live if offset_key(_id(e[0])) <= offset_key(last)]
            counts = {i: n for i, n in counts.items() if offset_key(i) <= offset_key(last)}
            self._replay_after = last
        if counts:  # delivered, never acknowledged: this consumer takes them over
            self._replay_claims = min(2 * self._replay_claims, 1 << 20)
            claimed = list(counts)
            # Only the first pending entry after a seek counts a delivery: it is the one a
            # consumer that keeps dying on an entry resumes on (the 1, 2, 4... reads bring the
            # poison entry to the front within a few restarts). The entries after it were in
            # flight when the consumer died, not to blame: counting them, a consumer killed a
            # few times while catching up would set its whole backlog aside as poison.
            blame = not self._replay_counted
            self._replay_counted = True
            self._call(
                "claim on",
                lambda: self._r.xclaim(
                    self.stream, self.group, self.consumer, 0, claimed, justid=not blame
                ),
            )
            if blame:
                counts = {entry_id: n + 1 for entry_id, n in counts.items()}
        return self._decode(live, counts)

    def _own_pending_entries(self, max_records: int) -> list[Record]:
        """This consumer's pending entries (left by its previous run), oldest first."""
        cursor = str(self._own_pending)
        reply = self._call(
            "read",
            lambda: self._r.xreadgroup(
                self.group, self.consumer, {self.stream: cursor}, count=max_records
            ),
        )
        entries: list[Entry] = reply[0][1] if reply else []
        if not entries:
            self._own_pending = None
            return []
        self._own_pending = _id(entries[-1][0])
        return self._from_group(entries, pending=True)

    def _autoclaim(self, max_records: int) -> list[Record]:
        reply = self._call(
            "claim on",
            lambda: self._r.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self.claim_idle_ms,
                start_id=self._claim_from,
                count=max_records,
            ),
        )
        self._claim_from = _id(reply[0])
        entries: list[Entry] = reply[1]
        if entries:
            _log.info("events_claimed", stream=self.stream, consumer=self.consumer, n=len(entries))
        return self._from_group(entries, pending=True)

    def _from_group(self, entries: list[Entry], *, pending: bool) -> list[Record]:
        """Records of entries the group delivered: skips what the seek covers or replayed."""
        keep: list[Entry] = []
        covered: list[str] = []
        bounds = [b for b in (self._covered, self._skip_until) if b is not None]
        first = _id(entries[0][0]) if entries else None
        if first is not None and not any(_at_or_before(first, b) for b in bounds):
            keep = entries  # ids ascend: past both bounds from the first on (the usual case)
        else:
            for entry in entries:
                entry_id = _id(entry[0])
                if _at_or_before(entry_id, self._covered):  # applied before the snapshot
                    covered.append(entry_id)
                elif not _at_or_before(entry_id, self._skip_until):
                    keep.append(entry)
        covered += [_id(entry_id) for entry_id, fields in keep if not fields]  # deleted since
        keep = [entry for entry in keep if entry[1]]
        if covered:
            self._ack(covered)
        counts = self._pending_counts([_id(e[0]) for e in keep], self.consumer) if pending else {}
        return self._decode(keep, counts)

    def _decode(self, entries: list[Entry], counts: dict[str, int]) -> list[Record]:
        """Entries as records; foreign writes and entries past ``max_failures`` go aside."""
        records: list[Record] = []
        for raw_id, fields in entries:
            entry_id = _id(raw_id)
            body = (fields or {}).get(FIELD)
            deliveries = counts.get(entry_id, 1)
            if body is None:
                reason = f"not an event: no {FIELD.decode()!r} field"
                self._dead(entry_id, repr(fields).encode(), reason)
                continue
            try:
                event = Event.from_json(body)
            except ValidationError as exc:
                self._dead(entry_id, body, f"not an event: {exc.errors()[0]['msg']}")
                continue
            if deliveries > self.max_failures:
                self._dead(
                    entry_id,
                    body,
                    f"delivered {deliveries} times without being acknowledged "
                    f"(max_failures={self.max_failures})",
                )
                continue
            records.append(Record(self.stream, entry_id, event, deliveries))
        return records

    def _pending_counts(self, ids: list[str], consumer: str | None) -> dict[str, int]:
        """Delivery counts of those of ``ids`` that are pending (one XPENDING)."""
        if not ids:
            return {}
        wanted = set(ids)
        rows = self._call(
            "read",
            lambda: self._r.xpending_range(
                self.stream,
                self.group,
                min=ids[0],
                max=ids[-1],
                count=len(ids) * 4 + 100,
                consumername=consumer,
            ),
        )
        return {
            _id(row["message_id"]): int(row["times_delivered"])
            for row in rows
            if _id(row["message_id"]) in wanted
        }

    # ---- helpers -------------------------------------------------------------------------
    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise LogUnavailable(f"cannot create the group {self.group!r}: {exc}") from None
        except redis.RedisError as exc:
            raise LogUnavailable(f"cannot reach the event log {self.stream!r}: {exc}") from None
        self._group_ready = True

    def _group_info(self) -> dict[str, Any] | None:
        groups = self._call("read", lambda: self._r.xinfo_groups(self.stream))
        for info in groups:
            if _id(info["name"]) == self.group:
                return dict(info)
        return None

    def _ack_pending_through(self, last: str) -> None:
        """Acknowledge every pending entry at or before ``last`` (the snapshot applied them)."""
        while True:
            rows = self._call(
                "read",
                lambda: self._r.xpending_range(self.stream, self.group, "-", last, 1000),
            )
            if not rows:
                return
            self._ack([_id(row["message_id"]) for row in rows])

    def _ack(self, ids: list[str]) -> None:
        self._call("acknowledge on", lambda: self._r.xack(self.stream, self.group, *ids))

    def _dead(self, entry_id: str, body: bytes, reason: str) -> None:
        _log.warning("event_dead_lettered", stream=self.stream, id=entry_id, reason=reason)

        def move() -> None:
            pipe = self._r.pipeline(transaction=True)
            pipe.xadd(
                self.dead_stream,
                {"id": entry_id, "reason": reason, "body": body, "consumer": self.consumer},
            )
            pipe.hset(self.dead_ids, entry_id, reason)
            pipe.xack(self.stream, self.group, entry_id)
            pipe.execute()

        self._call("dead-letter on", move)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._group_ready = False
            raise LogUnavailable(f"cannot {what} the event log {self.stream!r}: {exc}") from None
        except redis.RedisError as exc:
            raise LogUnavailable(f"cannot {what} the event log {self.stream!r}: {exc}") from None
