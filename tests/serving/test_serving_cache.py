"""The in-process cache: a size bound with LRU eviction, expired lists dropped."""

from __future__ import annotations

import asyncio

import pytest

from tailor.serving import cache as cache_module
from tailor.serving.app import create_app
from tailor.serving.cache import MemoryRecCache, open_cache
from tailor.serving.keys import Keys
from tailor.testing.serving import serve_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(cache_module.time, "monotonic", c)
    return c


def test_memory_cache_evicts_least_recently_used(clock: Clock) -> None:
    cache = MemoryRecCache(Keys("t"), ttl_s=60, max_lists=3)

    async def run() -> list[str | None]:
        for user in ("a", "b", "c"):
            await cache.put_recs("v1", {user: [(f"i-{user}", 1.0)]})
        assert await cache.get_recs("v1", "a") == [("i-a", 1.0)]  # a is now the most recent
        await cache.put_recs("v1", {"d": [("i-d", 1.0)]})  # evicts b, the least recent
        assert len(cache) == 3
        await cache.put_recs("v1", {"e": [("i-e", 1.0)], "f": [("i-f", 1.0)]})  # evicts c, a
        got = [await cache.get_recs("v1", u) for u in "abcdef"]
        return [None if g is None else g[0][0] for g in got]

    assert asyncio.run(run()) == [None, None, None, "i-d", "i-e", "i-f"]
    assert len(cache) == 3


def test_memory_cache_drops_expired_lists_first(clock: Clock) -> None:
    cache = MemoryRecCache(Keys("t"), ttl_s=10, max_lists=3)

    async def run() -> None:
        await cache.put_recs("v1", {"old": [("i0", 1.0)]})
        clock.now += 5
        await cache.put_recs("v1", {"a": [("i1", 1.0)], "b": [("i2", 1.0)]})
        clock.now += 6  # "old" has expired, a and b have not
        assert await cache.get_recs("v1", "old") is None  # dropped when read
        assert len(cache) == 2
        await cache.put_recs("v1", {"old2": [("i3", 1.0)]})
        clock.now += 1
        await cache.put_recs("v1", {"c": [("i4", 1.0)]})  # over the bound, nothing expired: LRU
        assert len(cache) == 3
        assert await cache.get_recs("v1", "a") is None  # a was the least recently used
        clock.now += 4  # b expired (written at +5, ttl 10), c and old2 not
        await cache.put_recs("v1", {"d": [("i5", 1.0)]})  # sweep drops b, nothing live evicted
        assert await cache.get_recs("v1", "b") is None
        assert await cache.get_recs("v1", "old2") == [("i3", 1.0)]
        assert await cache.get_recs("v1", "c") == [("i4", 1.0)]
        assert await cache.get_recs("v1", "d") == [("i5", 1.0)]
        assert len(cache) == 3

    asyncio.run(run())


def test_memory_cache_bound_comes_from_settings() -> None:
    cache = open_cache("memory://", Keys(), memory_max_lists=7)
    assert isinstance(cache, MemoryRecCache) and cache.max_lists == 7
    default = open_cache("memory://", Keys())
    assert isinstance(default, MemoryRecCache) and default.max_lists == 100_000
    settings = serve_settings(None, memory_cache_max_lists=2)
    assert settings.memory_cache_max_lists == 2
    assert create_app(settings) is not None
