"""The event log on Amazon Kinesis Data Streams, through boto3 (for shops on AWS).

``kinesis://STREAM?region=eu-west-1&endpoint_url=http://127.0.0.1:5000&timeout_s=S``
(``endpoint_url`` only for a local stand-in such as moto; credentials come from boto3's usual
chain: environment, profile, instance role, never the URL). The stream must exist.

Sink (:class:`KinesisSink`): ``PutRecords`` in chunks of 500 (the API's limit), partition key
:attr:`Event.key`, so one user's (or session's) events go to one shard. Records the service
refuses (throttling, an internal error) are sent again, only those, up to ``attempts`` times with
a growing pause; ``append`` raises :class:`LogUnavailable` if some are still refused, or when
Kinesis cannot be reached within ``timeout_s``. A record sent again lands after the records
that followed it in the batch (Kinesis orders a shard by arrival), so a user's order holds unless
a record had to be retried; a part of a failed append may be in the stream, and a client's retry
is dropped downstream by ``event_id``.

Source (:class:`KinesisSource`): reads every shard with ``GetRecords``, each at most every
``READ_INTERVAL_S`` (Kinesis allows 5 reads per second per shard); a record's
``partition`` is its shard id and its ``offset`` its sequence number. ``seek(position)`` starts
each shard ``AFTER_SEQUENCE_NUMBER`` of the position's offset, at ``TRIM_HORIZON`` (the oldest
record kept, 24 h by default) for a shard the position does not name; a child shard of a
split or merge is read once its parents are done. Kinesis has no consumer groups and this
source keeps no remote checkpoint: ``commit`` only records the position in memory
(:meth:`KinesisSource.committed`); the consumer's snapshot position is the checkpoint, and a
restart seeks there. ``Record.deliveries`` is always 1; ``lag`` is unknown (``None``).

Records that are not events, and those given to ``dead_letter``, are put to the stream
``{stream}.dead`` (created with one shard when missing) as JSON ``{"reason", "shard",
"sequence", "consumer", "data"}`` (``data``: the record's bytes, base64).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, Position, Record

_log = get_logger(__name__)

T = TypeVar("T")
CHUNK = 500
"""Most records in one PutRecords call."""
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ATTEMPTS = 5
READ_INTERVAL_S = 0.2
"""Shortest interval between two GetRecords on one shard (Kinesis allows 5 per second), however
often the consumer polls."""


def dead_stream(stream: str) -> str:
    """Where a stream's dead letters go."""
    return f"{stream}.dead"


def parse_url(url: str) -> dict[str, Any]:
    """The parts of a ``kinesis://`` URL: stream, region, endpoint_url, timeout_s, attempts."""
    parts = urlsplit(url)
    stream = unquote(parts.netloc + parts.path).strip("/")
    if not stream or "/" in stream:
        raise ConfigError(f"kinesis event log URL {url!r}: use kinesis://STREAM?region=REGION")
    found: dict[str, Any] = {
        "stream": stream,
        "region": None,
        "endpoint_url": None,
        "timeout_s": DEFAULT_TIMEOUT_S,
        "attempts": DEFAULT_ATTEMPTS,
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            if key in ("region", "endpoint_url"):
                found[key] = value
            elif key == "timeout_s":
                found[key] = float(value)
            elif key == "attempts":
                found[key] = int(value)
            else:
                raise ConfigError(
                    f"kinesis event log URL: unknown parameter {key!r} "
                    "(region, endpoint_url, timeout_s, attempts)"
                )
        except ValueError:
            raise ConfigError(f"kinesis event log URL: {key}={value!r} is not valid") from None
    return found


def make_client(region: str | None, endpoint_url: str | None, timeout_s: float) -> Any:
    """A Kinesis client that gives up after ``timeout_s`` (and one retry of its own)."""
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client("kinesis", region_name=region, endpoint_url=endpoint_url, config=config)


def _call(what: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except (BotoCoreError, ClientError) as exc:
        raise LogUnavailable(f"cannot {what}: {exc}") from None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def put_all(client: Any, stream: str, entries: list[dict[str, Any]], attempts: int) -> None:
    """PutRecords ``entries`` (``Data``, ``PartitionKey``) in chunks, sending refused ones
    again; raises LogUnavailable when some are still refused after ``attempts`` tries."""
    for start in range(0, len(entries), CHUNK):
        pending = entries[start : start + CHUNK]
        for attempt in range(attempts):
            reply = _call(
                f"put records to the Kinesis stream {stream!r}",
                partial(client.put_records, StreamName=stream, Records=pending),
            )
            refused = [
                (entry, result)
                for entry, result in zip(pending, reply["Records"], strict=True)
                if result.get("ErrorCode")
            ]
            if not refused:
                break
            pending = [entry for entry, _ in refused]
            if attempt + 1 < attempts:
                time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            code = refused[0][1].get("ErrorCode")
            raise LogUnavailable(
                f"Kinesis refused {len(pending)} records of stream {stream!r} after "
                f"{attempts} attempts ({code})"
            )


class KinesisSink:
    """The writing side (see the module docstring)."""

    def __init__(self, stream: str, client: Any, *, attempts: int = DEFAULT_ATTEMPTS) -> None:
        self.stream = stream
        self.client = client
        self.attempts = attempts

    @classmethod
    def from_url(cls, url: str) -> KinesisSink:
        p = parse_url(url)
        client = make_client(p["region"], p["endpoint_url"], p["timeout_s"])
        return cls(p["stream"], client, attempts=p["attempts"])

    def append(self, events: Sequence[Event]) -> None:
        entries = [{"Data": e.to_json(), "PartitionKey": e.key} for e in events]
        put_all(self.client, self.stream, entries, self.attempts)

    def close(self) -> None:
        self.client.close()


class KinesisSource:
    """The reading side (see the module docstring)."""

    def __init__(
        self,
        stream: str,
        client: Any,
        *,
        consumer: str = "tailor-stream",
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.stream = stream
        self.client = client
        self.consumer = consumer
        self.attempts = attempts
        self._position: Position | None = None
        self._committed = Position()
        self._iterators: dict[str, str] = {}  # open shards: the next iterator
        self._last: dict[str, str] = {}  # per shard, the last sequence number delivered
        self._finished: set[str] = set()
        self._next_read: dict[str, float] = {}  # per open shard, when it may be read again
        self._turn = 0

    @classmethod
    def from_url(cls, url: str, *, consumer: str = "tailor-stream") -> KinesisSource:
        p = parse_url(url)
        client = make_client(p["region"], p["endpoint_url"], p["timeout_s"])
        return cls(p["stream"], client, consumer=consumer, attempts=p["attempts"])

    def seek(self, position: Position) -> None:
        self._position = position.copy()
        self._iterators = {}
        self._next_read = {}
        self._last = dict(position.offsets)
        self._finished = set()
        self._open_shards()

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        if self._position is None:
            self.seek(Position())
        deadline = time.monotonic() + timeout_s
        while True:
            records = self._round(max_records)
            now = time.monotonic()
            if records or now >= deadline:
                return records
            wake = min(self._next_read.values(), default=now + READ_INTERVAL_S)
            time.sleep(max(0.001, min(wake, deadline) - now))

    def commit(self, records: Sequence[Record]) -> None:
        self._committed.advance(records)

    def committed(self) -> Position:
        """What this source object was told was applied (kept in memory only)."""
        return self._committed.copy()

    def dead_letter(self, records: Sequence[Record], reason: str) -> None:
        for record in records:
            self._dead(record.partition, record.offset, record.event.to_json(), reason)
        self.commit(records)

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """(shard, sequence, reason) of every record in ``{stream}.dead``, per shard in order."""
        name = dead_stream(self.stream)
        try:
            shards = self._shards(name)
        except LogUnavailable:
            return []
        found: list[tuple[str, str, str]] = []
        for shard in shards:
            opened = _call(
                "read the dead letters",
                partial(
                    self.client.get_shard_iterator,
                    StreamName=name,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                ),
            )
            iterator = opened["ShardIterator"]
            while iterator:
                reply = _call(
                    "read the dead letters",
                    partial(self.client.get_records, ShardIterator=iterator, Limit=1000),
                )
                for raw in reply["Records"]:
                    body = orjson.loads(raw["Data"])
                    found.append((body["shard"], body["sequence"], body["reason"]))
                if not reply["Records"]:
                    break
                iterator = reply.get("NextShardIterator")
        return found

    def lag(self) -> int | None:
        return None

    def close(self) -> None:
        self.client.close()

    # ---- helpers -------------------------------------------------------------------------
    def _shards(self, stream: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args = {"NextToken": token} if token else {"StreamName": stream}
            reply = _call(
                f"list the shards of the Kinesis stream {stream!r}",
                partial(self.client.list_shards, **args),
            )
            shards.extend(reply["Shards"])
            token = reply.get("NextToken")
            if not token:
                return shards

    def _open_shards(self) -> None:
        """Start reading the shards not yet open whose parents are done."""
        shards = self._shards(self.stream)
        known = {s["ShardId"] for s in shards}
        for shard in shards:
            sid = shard["ShardId"]
            if sid in self._iterators or sid in self._finished:
                continue
            parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
            if any(p in known and p not in self._finished for p in parents if p):
                continue
            self._iterators[sid] = self._iterator(sid)

    def _iterator(self, shard: str) -> str:
        after = self._last.get(shard)
        args: dict[str, Any] = {"StreamName": self.stream, "ShardId": shard}
        if after is None:
            args["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        reply = _call(
            f"open shard {shard} of the Kinesis stream {self.stream!r}",
            lambda: self.client.get_shard_iterator(**args),
        )
        return str(reply["ShardIterator"])

    def _round(self, max_records: int) -> list[Record]:
        """One GetRecords per open shard (starting with a different shard each round) until
        ``max_records`` are found."""
        records: list[Record] = []
        shards = sorted(self._iterators)
        if not shards:
            return records
        self._turn = (self._turn + 1) % len(shards)
        closed = False
        for shard in shards[self._turn :] + shards[: self._turn]:
            if len(records) >= max_records:
                break
            if self._next_read.get(shard, 0.0) > time.monotonic():
                continue
            self._next_read[shard] = time.monotonic() + READ_INTERVAL_S
            try:
                reply = self.client.get_records(
                    ShardIterator=self._iterators[shard], Limit=max_records - len(records)
                )
            except ClientError as exc:
                if _error_code(exc) == "ExpiredIteratorException":
                    self._iterators[shard] = self._iterator(shard)
                    continue
                if _error_code(exc) == "ProvisionedThroughputExceededException":
                    continue
                raise LogUnavailable(
                    f"cannot read the Kinesis stream {self.stream!r}: {exc}"
                ) from None
            except BotoCoreError as exc:
                raise LogUnavailable(
                    f"cannot read the Kinesis stream {self.stream!r}: {exc}"
                ) from None
            for raw in reply["Records"]:
                sequence = str(raw["SequenceNumber"])
                self._last[shard] = sequence
                data = bytes(raw["Data"])
                try:
                    records.append(Record(shard, sequence, Event.from_json(data)))
                except ValidationError as exc:
                    self._dead(shard, sequence, data, f"not an event: {exc.errors()[0]['msg']}")
            following = reply.get("NextShardIterator")
            if following:
                self._iterators[shard] = following
            else:  # closed by a split or merge, and read to its end
                del self._iterators[shard]
                self._next_read.pop(shard, None)
                self._finished.add(shard)
                closed = True
        if closed:
            self._open_shards()
        return records

    def _dead(self, shard: str, sequence: str, data: bytes, reason: str) -> None:
        _log.warning(
            "event_dead_lettered", stream=self.stream, shard=shard, sequence=sequence,
            reason=reason,
        )  # fmt: skip
        body = orjson.dumps(
            {
                "reason": reason,
                "shard": shard,
                "sequence": sequence,
                "consumer": self.consumer,
                "data": base64.b64encode(data).decode(),
            }
        )
        entries = [{"Data": body, "PartitionKey": f"{shard}/{sequence}"}]
        name = dead_stream(self.stream)
        try:
            put_all(self.client, name, entries, self.attempts)
        except LogUnavailable:
            if not self._create(name):
                raise
            put_all(self.client, name, entries, self.attempts)

    def _create(self, name: str) -> bool:
        """Create the stream ``name`` with one shard and wait until it is active; False when it
        exists already."""
        try:
            self.client.create_stream(StreamName=name, ShardCount=1)
        except ClientError as exc:
            if _error_code(exc) == "ResourceInUseException":
                return False
            raise LogUnavailable(f"cannot create the Kinesis stream {name!r}: {exc}") from None
        except BotoCoreError as exc:
            raise LogUnavailable(f"cannot create the Kinesis stream {name!r}: {exc}") from None
        _call(
            f"wait for the Kinesis stream {name!r}",
            lambda: self.client.get_waiter("stream_exists").wait(
                StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            ),
        )
        return True
