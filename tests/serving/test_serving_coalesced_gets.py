"""List reads of one event-loop turn share one Redis round trip (cache.CoalescedGets): exact
values per caller, one MGET per burst, one breaker count per failed batch, no hang when the
batch's first caller is cancelled; and the same against the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tailor.serving.cache import CacheUnavailable, RedisRecCache, encode_list
from tailor.serving.keys import Keys

SHARED_URL = "redis://127.0.0.1:6379/0"
LISTS = {
    "u0": [("i4", 0.5), ("i1", 0.25)],
    "u1": [("i0", 1.0)],
    "u2": [],
}


class FakeRedis:
    """``get``/``mget`` over a dict, recording every call; ``fail`` makes calls raise."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = False

    async def get(self, key: str) -> str | None:
        self.calls.append(("get", [key]))
        if self.fail:
            raise RedisConnectionError("down")
        return self.values.get(key)

    async def mget(self, keys: list[str]) -> list[str | None]:
        self.calls.append(("mget", list(keys)))
        await asyncio.sleep(0)  # a round trip: other tasks run meanwhile
        if self.fail:
            raise RedisConnectionError("down")
        return [self.values.get(k) for k in keys]


def _cache(threshold: int = 3) -> tuple[RedisRecCache, FakeRedis]:
    keys = Keys("t")
    fake = FakeRedis({keys.recs("v1", u): encode_list(items) for u, items in LISTS.items()})
    cache = RedisRecCache("redis://unused", keys, client=fake, threshold=threshold)
    return cache, fake


def test_a_burst_is_one_mget_in_request_order() -> None:
    cache, fake = _cache()

    async def burst() -> list[Any]:
        users = ["u1", "nobody", "u0", "u2", "u0"]
        return await asyncio.gather(*(cache.get_recs("v1", u) for u in users))

    got = asyncio.run(burst())
    assert got == [LISTS["u1"], None, LISTS["u0"], [], LISTS["u0"]]
    keys = ["t:v1:recs:u1", "t:v1:recs:nobody", "t:v1:recs:u0", "t:v1:recs:u2", "t:v1:recs:u0"]
    assert fake.calls == [("mget", keys)]


def test_a_lone_read_is_one_get_and_later_turns_are_new_batches() -> None:
    cache, fake = _cache()

    async def reads() -> list[Any]:
        first = await cache.get_recs("v1", "u0")
        second = await asyncio.gather(cache.get_recs("v1", "u1"), cache.get_recs("v1", "u2"))
        return [first, *second]

    assert asyncio.run(reads()) == [LISTS["u0"], LISTS["u1"], []]
    assert fake.calls == [("get", ["t:v1:recs:u0"]), ("mget", ["t:v1:recs:u1", "t:v1:recs:u2"])]


def test_a_failed_batch_fails_every_caller_and_counts_once() -> None:
    cache, fake = _cache(threshold=2)
    fake.fail = True

    async def burst() -> list[Any]:
        reads = (cache.get_recs("v1", u) for u in ("u0", "u1", "u2"))
        return await asyncio.gather(*reads, return_exceptions=True)

    got = asyncio.run(burst())
    assert [type(g) for g in got] == [CacheUnavailable] * 3
    assert not cache.breaker.is_open  # one round trip failed: 1 of the threshold's 2
    asyncio.run(burst())
    assert cache.breaker.is_open
    assert len(fake.calls) == 2


def test_a_cancelled_first_caller_does_not_strand_the_others() -> None:
    cache, fake = _cache()

    async def scenario() -> Any:
        leader = asyncio.create_task(cache.get_recs("v1", "u0"))
        follower = asyncio.create_task(cache.get_recs("v1", "u1"))
        await asyncio.sleep(0)  # the leader waits for the turn to end, the follower joined
        leader.cancel()
        done = await asyncio.wait_for(asyncio.gather(follower, return_exceptions=True), 1.0)
        return leader.cancelled(), done

    cancelled, (follower,) = asyncio.run(scenario())
    assert cancelled
    assert isinstance(follower, CacheUnavailable)
    assert fake.calls == []  # nothing was sent


def _shared_available() -> bool:
    try:
        return bool(redis.Redis.from_url(SHARED_URL, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


def test_bursts_against_real_redis(require: Callable[[bool, str], None]) -> None:
    require(_shared_available(), "no Redis on 127.0.0.1:6379")
    keys = Keys(f"tailor-test-coalesced-{uuid.uuid4().hex[:8]}")
    users = [f"u{k}" for k in range(40)]
    lists = {u: [(f"i{k}", float(k)), (f"i{k + 1}", 0.5)] for k, u in enumerate(users)}

    async def scenario() -> list[Any]:
        cache = RedisRecCache(SHARED_URL, keys, timeout_s=1.0)
        try:
            await cache.put_recs("v1", lists)
            asked = [*users, "missing", *reversed(users)]
            return await asyncio.gather(*(cache.get_recs("v1", u) for u in asked))
        finally:
            await cache.close()

    try:
        got = asyncio.run(scenario())
    finally:
        client = redis.Redis.from_url(SHARED_URL)
        stale = list(client.scan_iter(match=keys.pattern(), count=1000))
        if stale:
            client.delete(*stale)
    assert got == [lists[u] for u in users] + [None] + [lists[u] for u in reversed(users)]
