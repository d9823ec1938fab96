"""The event log on Kafka, through confluent-kafka (librdkafka).

``kafka://host:port[,host:port...]/topic?group=G&partitions=N&timeout_s=S``; query parameters
with a dot in their name (``security.protocol=SSL``...) go to librdkafka as they are.

Sink (:class:`KafkaSink`): an idempotent producer (``enable.idempotence=true``, ``acks=all``: no
duplicates from the producer's own retries, every in-sync replica has the record). ``append``
produces the batch keyed by :attr:`Event.key`, so one user's (or session's) events land in one
partition in order, then flushes; it raises :class:`LogUnavailable` unless every record was
acknowledged within ``timeout_s`` (``message.timeout.ms`` is the same bound, so nothing of a
failed append is still being sent after the 503; a part of it may already be in the log, and a
client's retry is dropped downstream by ``event_id``). With ``partitions=N`` the sink and the
source create the topic and ``{topic}.dead`` with N partitions when they are missing (librdkafka's
mock cluster cannot create topics; it creates them on first use).

Source (:class:`KafkaSource`): a consumer with ``enable.auto.commit=false``. It assigns itself
every partition of the topic explicitly (no group rebalancing: one ``tailor stream`` consumer
holds the whole model, and its position names every partition); the group id only names whose
offsets ``commit`` stores. ``seek(position)`` assigns each partition at the position's offset
+ 1 (the start of a partition the position does not name); without ``seek`` each partition
starts at the group's committed offset (the start when there is none). ``commit`` stores, per
partition, the highest applied offset + 1 (Kafka's convention: the next offset to read), never
moving a committed offset back; asynchronously (a failed commit is logged), because a
synchronous one waits for a coordinator that is down, and what recovery rests on is the
snapshot's position anyway. The snapshot position, not the committed offset, is the recovery
point; the committed offsets are progress (``kafka-consumer-groups`` lag, a consumer without a
snapshot). Kafka keeps no delivery count: ``Record.deliveries`` is always 1.

Records that are not events go to ``{topic}.dead`` (with ``reason``, ``partition`` and
``offset`` headers) and never stop the stream; ``dead_letter`` does the same for records the
consumer gives up on, then commits them. Partitions added to the topic while the source runs are
read from the next ``seek``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_STORED,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import ValidationError

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, Position, Record

_log = get_logger(__name__)

DEFAULT_GROUP = "tailor"
DEFAULT_TIMEOUT_S = 5.0
FETCH_WAIT_MS = 100
"""How long the broker may hold a fetch for more data (librdkafka's default, 500 ms, would be
half the freshness budget); ``fetch.wait.max.ms`` in the URL overrides it."""


def dead_topic(topic: str) -> str:
    """Where a topic's dead letters go."""
    return f"{topic}.dead"


def parse_url(url: str) -> dict[str, Any]:
    """The parts of a ``kafka://`` URL: bootstrap, topic, group, partitions, timeout_s, config."""
    parts = urlsplit(url)
    topic = unquote(parts.path.lstrip("/"))
    if not parts.netloc or not topic or "/" in topic:
        raise ConfigError(f"kafka event log URL {url!r}: use kafka://host:port/topic?group=G")
    found: dict[str, Any] = {
        "bootstrap": parts.netloc,
        "topic": topic,
        "group": DEFAULT_GROUP,
        "partitions": None,
        "timeout_s": DEFAULT_TIMEOUT_S,
        "config": {},
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            if key == "group":
                found["group"] = value
            elif key == "partitions":
                found["partitions"] = int(value)
            elif key == "timeout_s":
                found["timeout_s"] = float(value)
            elif "." in key:
                found["config"][key] = value
            else:
                raise ConfigError(
                    f"kafka event log URL: unknown parameter {key!r} (group, partitions, "
                    "timeout_s, or a librdkafka setting such as security.protocol)"
                )
        except ValueError:
            raise ConfigError(f"kafka event log URL: {key}={value!r} is not valid") from None
    return found


def ensure_topics(
    bootstrap: str, config: dict[str, Any], topics: Sequence[str], partitions: int, timeout_s: float
) -> None:
    """Create those of ``topics`` that do not exist, with ``partitions`` partitions."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **config})
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=partitions) for t in missing],
            request_timeout=timeout_s,
        )
        for topic, future in futures.items():
            try:
                future.result(timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise LogUnavailable(
                        f"cannot create the Kafka topic {topic!r}: {exc}"
                    ) from None
    except (KafkaException, TimeoutError) as exc:
        raise LogUnavailable(f"cannot reach Kafka at {bootstrap}: {exc!r}") from None


def _headers(msg: Message) -> dict[str, str]:
    raw: Any = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {str(k): v.decode() if isinstance(v, bytes) else str(v or "") for k, v in pairs}


def _producer(bootstrap: str, config: dict[str, Any], timeout_s: float) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 1,
            "message.timeout.ms": max(1, int(timeout_s * 1000)),
            **config,
        }
    )


Headers = list[tuple[str, str | bytes | None]]


def _produce_all(
    producer: Producer,
    timeout_s: float,
    messages: Sequence[tuple[str, bytes, bytes, Headers | None]],
) -> None:
    """Produce (topic, key, value, headers) and wait until each is acknowledged."""
    errors: list[KafkaError] = []

    def report(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    try:
        for topic, key, value, headers in messages:
            producer.produce(topic, key=key, value=value, headers=headers, on_delivery=report)
            producer.poll(0)
    except (BufferError, KafkaException) as exc:
        producer.flush(timeout_s)
        raise LogUnavailable(f"Kafka refused the events: {exc}") from None
    left = producer.flush(timeout_s + 1.0)  # the messages' own timeout has passed by then
    if left or errors:
        first = errors[0].str() if errors else f"{left} not acknowledged"
        raise LogUnavailable(
            f"Kafka did not acknowledge {len(errors) + left} of {len(messages)} events: {first}"
        )


class KafkaSink:
    """The writing side (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        partitions: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._config = dict(config or {})
        if partitions is not None:
            ensure_topics(bootstrap, self._config, [topic], partitions, timeout_s)
        self._producer = _producer(bootstrap, self._config, timeout_s)

    @classmethod
    def from_url(cls, url: str) -> KafkaSink:
        p = parse_url(url)
        return cls(
            p["bootstrap"],
            p["topic"],
            timeout_s=p["timeout_s"],
            partitions=p["partitions"],
            config=p["config"],
        )

    def append(self, events: Sequence[Event]) -> None:
        if not events:
            return
        messages = [(self.topic, e.key.encode(), e.to_json(), None) for e in events]
        try:
            _produce_all(self._producer, self.timeout_s, messages)
        except LogUnavailable:
            # an idempotent producer that hit a fatal error (or whose queue holds undeliverable
            # records) cannot go on: the next append starts a fresh one
            self._producer = _producer(self.bootstrap, self._config, self.timeout_s)
            raise

    def close(self) -> None:
        self._producer.flush(self.timeout_s)


class KafkaSource:
    """The reading side, one consumer of a group (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        group: str = DEFAULT_GROUP,
        consumer: str = "tailor-stream",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        partitions: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self.timeout_s = timeout_s
        self._config = dict(config or {})
        if partitions is not None:
            ensure_topics(
                bootstrap, self._config, [topic, dead_topic(topic)], partitions, timeout_s
            )
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "client.id": consumer,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": FETCH_WAIT_MS,
                "on_commit": self._committed_cb,
                # no group membership (assign), so this only bounds how long a commit waits
                # for the group coordinator: close() waits that long when Kafka is down
                "session.timeout.ms": max(1000, int(timeout_s * 1000)),
                **self._config,
            }
        )
        self._position: Position | None = None  # what the last seek asked for
        self._assigned: list[int] | None = None
        self._committed: dict[int, int] = {}
        self._producer: Producer | None = None

    @classmethod
    def from_url(cls, url: str, *, consumer: str = "tailor-stream") -> KafkaSource:
        p = parse_url(url)
        return cls(
            p["bootstrap"],
            p["topic"],
            group=p["group"],
            consumer=consumer,
            timeout_s=p["timeout_s"],
            partitions=p["partitions"],
            config=p["config"],
        )

    def seek(self, position: Position) -> None:
        self._position = position.copy()
        self._assigned = None
        self._assign()

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        if self._assigned is None and not self._assign():
            time.sleep(max(0.0, min(timeout_s, 0.1)))  # the topic does not exist yet
            return []
        records: list[Record] = []
        while not records:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                first = self._consumer.poll(remaining)
                if first is None:
                    return []
                rest = self._consumer.consume(max_records - 1, timeout=0) if max_records > 1 else []
            except KafkaException as exc:
                raise LogUnavailable(f"cannot read the Kafka topic {self.topic!r}: {exc}") from None
            records = self._decode([first, *rest])
            if time.monotonic() >= deadline:
                break
        return records

    def commit(self, records: Sequence[Record]) -> None:
        highest: dict[int, int] = {}
        for record in records:
            partition, offset = int(record.partition), int(record.offset)
            highest[partition] = max(highest.get(partition, -1), offset)
        moves = [
            TopicPartition(self.topic, p, o + 1)
            for p, o in sorted(highest.items())
            if o + 1 > self._committed.get(p, -1)
        ]
        if not moves:
            return
        try:  # asynchronous: a synchronous commit waits ~45 s for a coordinator that is down
            self._consumer.commit(offsets=moves, asynchronous=True)
        except KafkaException as exc:
            raise LogUnavailable(
                f"cannot commit on the Kafka topic {self.topic!r}: {exc}"
            ) from None
        for tp in moves:
            self._committed[tp.partition] = tp.offset

    def _committed_cb(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The outcome of an asynchronous commit (served by ``poll`` and ``close``)."""
        if err is not None:
            _log.warning("kafka_commit_failed", topic=self.topic, error=err.str())

    def dead_letter(self, records: Sequence[Record], reason: str) -> None:
        if not records:
            return
        self._dead(
            [(r.event.key.encode(), r.event.to_json(), r.partition, r.offset) for r in records],
            reason,
        )
        self.commit(records)

    def dead_letters(self, timeout_s: float = 10.0) -> list[tuple[str, str, str]]:
        """(partition, offset, reason) of every record in ``{topic}.dead``, per partition in
        order (reads the dead-letter topic from its start, with its own consumer)."""
        reader = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"{self.group}.dead-reader",
                "enable.auto.commit": False,
                **self._config,
            }
        )
        try:
            topic = dead_topic(self.topic)
            meta = reader.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if meta is None or meta.error is not None:
                return []
            ends = {}
            for p in meta.partitions:
                low, high = reader.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=timeout_s, cached=False
                )
                if high > low:
                    ends[p] = high
            reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
            found: list[tuple[str, str, str]] = []
            deadline = time.monotonic() + timeout_s
            done = dict.fromkeys(ends, 0)
            while any(done[p] < ends[p] for p in ends) and time.monotonic() < deadline:
                msg = reader.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                headers = _headers(msg)
                found.append((headers["partition"], headers["offset"], headers["reason"]))
                done[msg.partition() or 0] = (msg.offset() or 0) + 1
            return found
        except KafkaException as exc:
            raise LogUnavailable(f"cannot read {dead_topic(self.topic)!r}: {exc}") from None
        finally:
            reader.close()

    def lag(self) -> int | None:
        if not self._assigned:
            return None
        try:
            total = 0
            tps = [TopicPartition(self.topic, p) for p in self._assigned]
            for tp in self._consumer.position(tps):
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, tp.partition), timeout=self.timeout_s, cached=False
                )
                total += high - (tp.offset if tp.offset >= 0 else low)
            return max(0, total)
        except KafkaException:
            return None

    def close(self) -> None:
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(self.timeout_s)

    # ---- helpers -------------------------------------------------------------------------
    def _assign(self) -> bool:
        """Assign every partition of the topic; False when the topic does not exist yet."""
        try:
            meta = self._consumer.list_topics(self.topic, timeout=self.timeout_s)
        except KafkaException as exc:
            raise LogUnavailable(f"cannot reach Kafka at {self.bootstrap}: {exc}") from None
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            return False
        partitions = sorted(topic.partitions)
        wanted = self._position
        assignment = []
        for p in partitions:
            if wanted is None:
                offset = OFFSET_STORED
            elif str(p) in wanted.offsets:
                offset = int(wanted.offsets[str(p)]) + 1
            else:
                offset = OFFSET_BEGINNING
            assignment.append(TopicPartition(self.topic, p, offset))
        self._consumer.assign(assignment)
        self._assigned = partitions
        return True

    def _decode(self, messages: list[Message]) -> list[Record]:
        records: list[Record] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise LogUnavailable(f"Kafka consumer failed: {err.str()}")
                _log.warning("kafka_consumer_error", topic=self.topic, error=err.str())
                continue
            partition, offset = str(msg.partition()), str(msg.offset())
            value = msg.value() or b""
            try:
                records.append(Record(partition, offset, Event.from_json(value)))
            except ValidationError as exc:
                reason = f"not an event: {exc.errors()[0]['msg']}"
                self._dead([(msg.key() or b"", value, partition, offset)], reason)
        return records

    def _dead(self, items: Sequence[tuple[bytes, bytes, str, str]], reason: str) -> None:
        if self._producer is None:
            self._producer = _producer(self.bootstrap, self._config, self.timeout_s)
        for _, _, partition, offset in items:
            _log.warning(
                "event_dead_lettered", topic=self.topic, partition=partition, offset=offset,
                reason=reason,
            )  # fmt: skip
        messages: list[tuple[str, bytes, bytes, Headers | None]] = [
            (
                dead_topic(self.topic),
                key,
                value,
                [
                    ("reason", reason.encode()),
                    ("partition", partition.encode()),
                    ("offset", offset.encode()),
                    ("consumer", self.consumer.encode()),
                ],
            )
            for key, value, partition, offset in items
        ]
        try:
            _produce_all(self._producer, self.timeout_s, messages)
        except LogUnavailable:
            self._producer = None
            raise
