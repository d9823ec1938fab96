"""Redis Streams: entries the group handed over just before Redis failed are read again, so a
consumer that rides out the failure loses none of them (a later snapshot would move past them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, Position
from tailor.streaming.redis_log import RedisStreamLog
from tailor.testing.streaming import event

pytestmark = pytest.mark.integration


@pytest.fixture
def stream() -> Iterator[str]:
    name = f"tailor-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    client.delete(name, f"{name}:dead", f"{name}:dead:ids")
    client.close()


def test_entries_handed_over_before_a_failure_come_again(stream: str) -> None:
    url = f"redis://127.0.0.1:6379/0?stream={stream}&group=g"
    log = RedisStreamLog.from_url(url, consumer="c")
    log.append([Event.model_validate(event(k, "u0", f"i{k}")) for k in range(3)])
    log.seek(Position())
    real = log._decode
    failed: list[bool] = []

    def fail_once(entries: list[object], counts: dict[str, int]) -> object:
        if entries and not failed:  # once entries were handed over
            failed.append(True)
            raise LogUnavailable("redis went away")
        return real(entries, counts)  # type: ignore[arg-type]

    log._decode = fail_once  # type: ignore[method-assign]
    with pytest.raises(LogUnavailable):
        log.poll(10, 0.5)  # XREADGROUP handed e0..e2 over, then Redis failed
    again = log.poll(10, 0.5)
    assert [r.event.event_id for r in again] == ["e0", "e1", "e2"]
    assert log.poll(10, 0.1) == []  # and only once
    log.close()
