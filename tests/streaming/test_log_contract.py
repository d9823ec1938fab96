"""The event log contract (tailor.streaming.log), the same tests over every backend: the
embedded SQLite log, Redis Streams (the shared server on 127.0.0.1:6379 under unique stream
names; a private redis-server for the test that kills it), Kafka (librdkafka's mock cluster) and
Kinesis (moto's server mode). Real services throughout: nothing here mocks a client call.

Then what only some backends have: a Redis consumer taking over what a dead one left pending,
an entry that kept failing set aside, a consumer group resuming from its acknowledgements.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from tailor.errors import ConfigError
from tailor.streaming.events import Event
from tailor.streaming.log import (
    EventSink,
    EventSource,
    LogUnavailable,
    Position,
    Record,
    log_identity,
    offset_key,
    open_sink,
    open_source,
)

SHARED_REDIS = "redis://127.0.0.1:6379/0"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
Require = Callable[[bool, str], None]


def make_events(n: int, prefix: str = "e", users: int = 5, start: int = 0) -> list[Event]:
    return [
        Event(
            event_id=f"{prefix}{i}",
            user_id=f"u{i % users}",
            item_id=f"i{i % 7}",
            type="view" if i % 3 else "purchase",
            timestamp=T0 + timedelta(seconds=i),
            value=float(i) if i % 3 == 0 else None,
        )
        for i in range(start, start + n)
    ]


def ids(records: list[Record]) -> list[str]:
    return [r.event.event_id for r in records]


def take(source: EventSource, n: int, timeout_s: float = 10.0) -> list[Record]:
    """Exactly ``n`` records (asks for no more than are missing)."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} records within {timeout_s} s"
        got += source.poll(n - len(got), 0.5)
    assert len(got) == n
    return got


def drain(source: EventSource, n: int, timeout_s: float = 10.0) -> list[Record]:
    """``n`` records, then a look that finds nothing more."""
    got = take(source, n, timeout_s)
    extra = source.poll(100, 0.2)
    assert extra == [], f"records beyond the {n} expected: {ids(extra)}"
    return got


def per_partition(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r)
    return out


def key_order(items: list[Event]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for e in items:
        order.setdefault(e.key, []).append(e.event_id)
    return order


# ---- the backends --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shared_redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


class MockKafka:
    """librdkafka's mock cluster: it lives as long as the client that asked for it."""

    def __init__(self) -> None:
        from confluent_kafka import Producer

        self._holder: Any = Producer({"test.mock.num.brokers": 1, "log_level": 0})
        brokers = self._holder.list_topics(timeout=10).brokers
        self.bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers.values())

    def stop(self) -> None:
        self._holder = None  # destroying the client destroys its cluster


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[MockKafka]:
    cluster = MockKafka()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            mp.setenv(name, "testing")
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def moto_url(aws_env: None) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Backend:
    name: str
    url: str
    partitions: int
    """How many partitions the test log has (events spread over them by key)."""
    foreign_write: Callable[[bytes], None]
    """Put raw bytes in the log, the way a foreign writer would."""
    dead: Callable[[EventSource], list[tuple[str, str, str]]]
    """(partition, offset, reason) of the log's dead letters."""
    opened: list[EventSink | EventSource] = field(default_factory=list)

    def sink(self) -> EventSink:
        sink = open_sink(self.url)
        self.opened.append(sink)
        return sink

    def source(self, consumer: str = "c1") -> EventSource:
        source = open_source(self.url, consumer=consumer)
        self.opened.append(source)
        return source


def _sqlite(tmp_path: Path) -> Backend:
    path = tmp_path / "events.db"

    def foreign(raw: bytes) -> None:
        with sqlite3.connect(path) as db:
            db.execute("INSERT INTO events (body, appended_at) VALUES (?, ?)", (raw, time.time()))

    def dead(source: Any) -> list[tuple[str, str, str]]:
        return [("0", str(seq), reason) for seq, reason in source.dead_letters()]

    return Backend("sqlite", f"sqlite:///{path}", 1, foreign, dead)


def _redis(name: str) -> Backend:
    client = redis.Redis.from_url(SHARED_REDIS)

    def dead(source: Any) -> list[tuple[str, str, str]]:
        return [(name, entry_id, reason) for entry_id, reason in source.dead_letters()]

    url = f"{SHARED_REDIS}?stream={name}&group=tailor-test&claim_idle_ms=200&max_failures=3"
    return Backend("redis", url, 1, lambda raw: client.xadd(name, {"junk": raw}), dead)


def _kafka(cluster: MockKafka, name: str) -> Backend:
    from confluent_kafka import Producer

    def foreign(raw: bytes) -> None:
        producer = Producer({"bootstrap.servers": cluster.bootstrap})
        producer.produce(name, key=b"u0", value=raw)
        assert producer.flush(10) == 0

    def dead(source: Any) -> list[tuple[str, str, str]]:
        return list(source.dead_letters())

    # the mock cluster creates a topic on first use, with 4 partitions
    return Backend("kafka", f"kafka://{cluster.bootstrap}/{name}?group=g", 4, foreign, dead)


def _kinesis(endpoint: str, name: str) -> Backend:
    import boto3

    client = boto3.client("kinesis", region_name="eu-west-1", endpoint_url=endpoint)
    client.create_stream(StreamName=name, ShardCount=2)

    def foreign(raw: bytes) -> None:
        client.put_record(StreamName=name, Data=raw, PartitionKey="u0")

    def dead(source: Any) -> list[tuple[str, str, str]]:
        return list(source.dead_letters())

    url = f"kinesis://{name}?region=eu-west-1&endpoint_url={endpoint}"
    return Backend("kinesis", url, 2, foreign, dead)


BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("redis", marks=pytest.mark.integration),
    pytest.param("kafka", marks=pytest.mark.integration),
    pytest.param("kinesis", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, require: Require) -> Iterator[Backend]:
    name = f"tailor-test-{uuid.uuid4().hex[:10]}"
    kind = request.param
    if kind == "sqlite":
        made = _sqlite(tmp_path)
    elif kind == "redis":
        require(_shared_redis_up(), "no Redis on 127.0.0.1:6379")
        made = _redis(name)
    elif kind == "kafka":
        made = _kafka(request.getfixturevalue("kafka_cluster"), name)
    else:
        made = _kinesis(request.getfixturevalue("moto_url"), name)
    yield made
    for opened in made.opened:
        opened.close()
    if kind == "redis":
        redis.Redis.from_url(SHARED_REDIS).delete(name, f"{name}:dead", f"{name}:dead:ids")


# ---- the contract --------------------------------------------------------------------------


def test_append_then_poll_gives_every_event_once_in_order(backend: Backend) -> None:
    events = make_events(40)
    sink = backend.sink()
    source = backend.source()
    assert isinstance(sink, EventSink) and isinstance(source, EventSource)
    sink.append(events[:25])
    sink.append(events[25:])
    records = drain(source, 40)

    assert sorted(ids(records)) == sorted(e.event_id for e in events)  # each exactly once
    assert {r.event.event_id: r.event for r in records} == {e.event_id: e for e in events}
    assert key_order([r.event for r in records]) == key_order(events)  # a user's order kept
    for part in per_partition(records).values():
        offsets = [offset_key(r.offset) for r in part]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert {r.deliveries for r in records} == {1}
    if backend.partitions == 1:
        assert ids(records) == [e.event_id for e in events]
    else:  # the keys really are spread: the per-key order is a real check
        assert len(per_partition(records)) > 1


def test_a_batch_larger_than_one_backend_call_arrives_whole(backend: Backend) -> None:
    events = make_events(1201, users=40)  # Kinesis takes 500 records per call
    backend.sink().append(events)
    records = drain(backend.source(), 1201, timeout_s=20)
    assert Counter(ids(records)) == Counter(e.event_id for e in events)
    assert key_order([r.event for r in records]) == key_order(events)


def test_seek_delivers_exactly_the_records_after_the_position(backend: Backend) -> None:
    events = make_events(30)
    backend.sink().append(events)
    everything = drain(backend.source("c1"), 30)
    parts = per_partition(everything)
    position = Position({p: recs[len(recs) // 2].offset for p, recs in parts.items()})
    if len(parts) > 1:  # a partition the position does not name is read from its start
        del position.offsets[sorted(parts)[0]]
    expected = [r for r in everything if not position.covers(r)]
    assert 0 < len(expected) < 30

    for consumer in ("c1", "c2"):  # the consumer that read them, and another one
        source = backend.source(consumer)
        source.seek(position)
        again = drain(source, len(expected))
        assert sorted((r.partition, offset_key(r.offset), r.event.event_id) for r in again) == (
            sorted((r.partition, offset_key(r.offset), r.event.event_id) for r in expected)
        )
        assert key_order([r.event for r in again]) == key_order([r.event for r in expected])


def test_restart_from_the_snapshot_loses_nothing_and_repeats_nothing(backend: Backend) -> None:
    events = make_events(30)
    sink = backend.sink()
    sink.append(events)
    first = backend.source("c1")
    first.seek(Position())
    applied: list[Record] = []
    snapshot = Position()

    batch = take(first, 10)  # applied, committed, then a snapshot
    applied += batch
    first.commit(batch)
    snapshot.advance(batch)
    saved = snapshot.copy()
    batch = take(first, 10)  # applied and committed after the snapshot
    applied += batch
    first.commit(batch)
    take(first, 5)  # delivered, then the consumer dies before applying them
    first.close()
    backend.opened.remove(first)

    # restart: the model is the snapshot's (the first 10 records), the log resumes after it
    model = applied[:10]
    second = backend.source("c1")
    second.seek(saved)
    model += drain(second, 20)
    sink.append(make_events(5, start=30))
    model += drain(second, 5)
    assert Counter(ids(model)) == Counter(f"e{i}" for i in range(35))  # once each, none lost
    assert key_order([r.event for r in model]) == key_order(make_events(35))

    snapshot = Position()
    snapshot.advance(model)
    second.commit(model)
    third = backend.source("c1")
    third.seek(snapshot)
    assert third.poll(100, 0.5) == []


def test_dead_letter_moves_records_aside(backend: Backend) -> None:
    events = make_events(8)
    backend.sink().append(events)
    source = backend.source()
    records = drain(source, 8)
    bad = [r for r in records if r.event.user_id == "u1"]
    assert len(bad) == 2
    source.dead_letter(bad, "price missing")
    source.commit([r for r in records if r not in bad])

    assert sorted(backend.dead(source)) == sorted(
        (r.partition, r.offset, "price missing") for r in bad
    )
    position = Position()
    position.advance(records)
    later = backend.source("c2")
    later.seek(position)
    assert later.poll(100, 0.3) == []


def test_a_foreign_write_is_set_aside_and_the_stream_goes_on(backend: Backend) -> None:
    events = make_events(4)
    sink = backend.sink()
    sink.append(events[:2])
    backend.foreign_write(b'{"event_id": "x", "item_id": "no user"}')
    sink.append(events[2:])
    source = backend.source()
    records = drain(source, 4)
    assert sorted(ids(records)) == ["e0", "e1", "e2", "e3"]
    dead = backend.dead(source)
    assert len(dead) == 1
    partition, offset, reason = dead[0]
    assert reason.startswith("not an event")
    assert (partition, offset) not in {(r.partition, r.offset) for r in records}


def test_lag_counts_what_was_not_yet_delivered(backend: Backend) -> None:
    backend.sink().append(make_events(12))
    source = backend.source()
    source.seek(Position())
    expected = None if backend.name == "kinesis" else 12  # Kinesis only knows milliseconds
    assert source.lag() == expected
    drain(source, 12)
    assert source.lag() == (None if expected is None else 0)


# ---- a backend that is down ----------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own (the shared one on 6379 is never touched)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while True:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.1).ping():
                    return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["redis", "kafka", "kinesis"])
def test_append_to_a_backend_that_went_down_raises_log_unavailable(
    kind: str, require: Require, request: pytest.FixtureRequest
) -> None:
    stop: Callable[[], None]
    if kind == "redis":
        require(shutil.which("redis-server") is not None, "redis-server is not installed")
        server = PrivateRedis()
        request.addfinalizer(server.kill)
        url, stop = f"redis://127.0.0.1:{server.port}/0?stream=s&timeout_s=1", server.kill
    elif kind == "kafka":
        cluster = MockKafka()
        # the first append also waits for the producer id and the topic: more than 1 s under load
        url, stop = f"kafka://{cluster.bootstrap}/t?timeout_s=3", cluster.stop
    else:
        request.getfixturevalue("aws_env")
        from moto.server import ThreadedMotoServer

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        moto.start()
        endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        import boto3

        boto3.client("kinesis", region_name="eu-west-1", endpoint_url=endpoint).create_stream(
            StreamName="down-test", ShardCount=1
        )
        url = f"kinesis://down-test?region=eu-west-1&endpoint_url={endpoint}&timeout_s=1"
        stop = moto.stop
    sink = open_sink(url)
    sink.append(make_events(3))  # up: accepted
    source = open_source(url)
    assert sorted(ids(take(source, 3))) == ["e0", "e1", "e2"]
    stop()
    started = time.monotonic()
    with pytest.raises(LogUnavailable):
        sink.append(make_events(3, start=3))
    assert time.monotonic() - started < 6.0
    if kind == "kafka":  # librdkafka reconnects in the background: nothing to read meanwhile
        assert source.poll(10, 0.3) == []
    else:
        with pytest.raises(LogUnavailable):
            source.poll(10, 0.3)
    sink.close()
    source.close()


# ---- what only some backends have ----------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["redis", "kafka"], indirect=True)
def test_a_group_consumer_without_a_snapshot_resumes_after_its_acknowledgements(
    backend: Backend,
) -> None:
    events = make_events(10)
    backend.sink().append(events)
    first = backend.source("c1")
    records = take(first, 10)
    first.commit(records[:6])
    first.close()
    backend.opened.remove(first)

    again = drain(backend.source("c1"), 4)  # no seek: the group's acknowledgements rule
    assert ids(again) == ids(records[6:])


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_claims_what_a_dead_consumer_left_pending(backend: Backend) -> None:
    backend.sink().append(make_events(6))
    dead = backend.source("a")
    before_delivery = time.monotonic()
    left = take(dead, 6)  # never acknowledged: consumer a died

    other = backend.source("b")  # claim_idle_ms=200 in the URL
    claimed = take(other, 6)
    assert time.monotonic() - before_delivery >= 0.2  # not before they were idle that long
    assert other.poll(100, 0.25) == []
    assert ids(claimed) == ids(left)
    assert {r.deliveries for r in claimed} == {2}
    other.commit(claimed)
    client = redis.Redis.from_url(SHARED_REDIS)
    stream = claimed[0].partition
    assert client.xpending(stream, "tailor-test")["pending"] == 0


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_sets_aside_an_entry_that_failed_max_failures_times(backend: Backend) -> None:
    backend.sink().append(make_events(3))
    seen = []
    for _ in range(3):  # max_failures=3: the consumer dies on e0 three times
        source = backend.source("a")
        (record,) = source.poll(1, 2.0)
        seen.append((record.event.event_id, record.deliveries))
        source.close()
        backend.opened.remove(source)
    assert seen == [("e0", 1), ("e0", 2), ("e0", 3)]

    fourth = backend.source("a")
    assert ids(drain(fourth, 2)) == ["e1", "e2"]  # e0's fourth delivery went to the dead letters
    (entry,) = backend.dead(fourth)
    assert entry[2] == "delivered 4 times without being acknowledged (max_failures=3)"

    replay = backend.source("b")  # a replay from the start does not bring it back either
    replay.seek(Position())
    assert ids(drain(replay, 2)) == ["e1", "e2"]


def test_every_url_scheme_opens_its_backend(tmp_path: Path) -> None:
    from tailor.streaming.kafka_log import parse_url as kafka_url
    from tailor.streaming.kinesis_log import parse_url as kinesis_url

    assert kafka_url("kafka://h1:9092,h2:9092/ev?group=g&partitions=3&security.protocol=SSL") == {
        "bootstrap": "h1:9092,h2:9092",
        "topic": "ev",
        "group": "g",
        "partitions": 3,
        "timeout_s": 5.0,
        "config": {"security.protocol": "SSL"},
    }
    assert kinesis_url("kinesis://ev?region=eu-west-1&endpoint_url=http://h:5000") == {
        "stream": "ev",
        "region": "eu-west-1",
        "endpoint_url": "http://h:5000",
        "timeout_s": 5.0,
        "attempts": 5,
    }
    from tailor.streaming.redis_log import RedisStreamLog

    log = RedisStreamLog.from_url(
        "redis://127.0.0.1:1/2?stream=s&group=g&maxlen=100&max_failures=4&claim_idle_ms=9",
        consumer="me",
    )
    assert (log.stream, log.group, log.consumer, log.maxlen, log.max_failures) == (
        "s", "g", "me", 100, 4
    )  # fmt: skip
    assert (log.claim_idle_ms, log.client.connection_pool.connection_kwargs["db"]) == (9, 2)
    log.close()

    # what a snapshot records as its log: no credentials, every Kafka bootstrap host
    assert log_identity("kafka://u:pw@h1:9092,h2:9092/ev?group=g") == (
        "kafka://h1:9092,h2:9092/ev?group=g"
    )
    assert log_identity("redis://:pw@127.0.0.1:6379/0?stream=s") == (
        "redis://127.0.0.1:6379/0?stream=s"
    )
    secret = "kafka://h1:9092/ev?group=g&sasl.password=hunter2&timeout_s=5"
    assert log_identity(secret) == "kafka://h1:9092/ev?group=g"

    for bad in (
        "kafka://h:9092/ev?partitions=many",
        "kafka://h:9092/ev?colour=blue",
        "kafka://h:9092/",
        "kinesis://?region=eu-west-1",
        "kinesis://ev?shards=2",
        "redis://127.0.0.1:1/0?maxlen=lots",
        "redis://127.0.0.1:1/0?max_failures=0",
    ):
        with pytest.raises(ConfigError):
            open_source(bad)


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_maxlen_trims_the_oldest_entries(backend: Backend) -> None:
    backend.url += "&maxlen=100"
    backend.sink().append(make_events(1000))
    stream = backend.url.split("stream=")[1].split("&")[0]
    length = redis.Redis.from_url(SHARED_REDIS).xlen(stream)
    assert 100 <= length < 1000  # approximate (~): whole macro nodes go
    records = drain(backend.source(), length)
    assert ids(records) == [f"e{i}" for i in range(1000 - length, 1000)]
