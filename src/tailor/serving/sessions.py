"""Recent items per user or session id: what an anonymous visitor just did, for session-aware
answers (``GET /v1/recommendations/{id}`` of an id the model does not know).

The events route calls :meth:`RecentItems.add` for accepted events; the recommendation service
calls :meth:`RecentItems.get` for ids the model does not know. Each id keeps its most recent
``session_max_items`` distinct items (an item seen again moves to the newest end) for
``session_ttl_s`` after its last event. Two implementations, chosen by the cache URL
(``redis_url``) like the cache: :class:`RedisRecentItems` (a Redis list under
``{prefix}:recent:{key}``, one round trip per call) for several workers and processes, and
:class:`MemoryRecentItems` (in-process, one worker) by default.

A store that fails is never an error to the caller: ``add`` forgets the items and ``get``
answers no items (the visitor gets the cold-start list), under the same timeouts and circuit
breaker as the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.serving.cache import CacheUnavailable, GuardedRedis
from tailor.serving.keys import Keys

_log = get_logger(__name__)

DEFAULT_MAX_ITEMS = 20
"""Distinct items kept per id (``session_max_items``)."""
DEFAULT_TTL_S = 1800
"""Seconds an id's items live after its last ``add`` (``session_ttl_s``)."""
DEFAULT_MAX_KEYS = 100_000
"""Ids the in-process store keeps at most; the least recently added is dropped first."""


@runtime_checkable
class RecentItems(Protocol):
    """A user's or session's recent items, oldest first."""

    max_items: int
    ttl_s: int

    async def add(self, key: str, item_ids: Sequence[str]) -> None:
        """Record ``item_ids`` (newest last) for ``key``: each moves to the newest end, the
        oldest beyond ``max_items`` distinct items are dropped and the TTL starts again. Never
        raises for a failing store."""
        ...

    async def get(self, key: str) -> list[str]:
        """The id's recent items, oldest first (at most ``max_items``); empty when none, when
        they expired, or when the store fails."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def newest_distinct(item_ids: Sequence[str], max_items: int) -> list[str]:
    """The last ``max_items`` distinct items of ``item_ids``, oldest first; a repeated item
    counts at its last position."""
    last: dict[str, None] = {}
    for item in reversed(item_ids):
        if item not in last:
            last[item] = None
            if len(last) == max_items:
                break
    return list(reversed(last))


def merge_recent(current: Sequence[str], item_ids: Sequence[str], max_items: int) -> list[str]:
    """``current`` (oldest first) after ``add(item_ids)``: the rule both stores follow."""
    return newest_distinct([*current, *item_ids], max_items)


class MemoryRecentItems:
    """In-process store for one worker (the default with ``memory://``); bounded to
    ``max_keys`` ids, the least recently added dropped first."""

    def __init__(
        self,
        max_items: int = DEFAULT_MAX_ITEMS,
        ttl_s: int = DEFAULT_TTL_S,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Any = time.monotonic,
    ) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    def __len__(self) -> int:
        """Ids held now (expired ones not yet dropped included)."""
        return len(self._items)

    async def add(self, key: str, item_ids: Sequence[str]) -> None:
        if not item_ids:
            return
        now = self._clock()
        entry = self._items.get(key)
        current = entry[1] if entry is not None and entry[0] >= now else []
        self._items[key] = (now + self.ttl_s, merge_recent(current, item_ids, self.max_items))
        self._items.move_to_end(key)
        while len(self._items) > self.max_keys:
            self._items.popitem(last=False)

    async def get(self, key: str) -> list[str]:
        entry = self._items.get(key)
        if entry is None:
            return []
        if entry[0] < self._clock():
            del self._items[key]
            return []
        return list(entry[1])

    async def close(self) -> None:
        self._items.clear()


class RedisRecentItems:
    """Redis store: a list under ``{prefix}:recent:{key}``, oldest first.

    ``add`` is one MULTI/EXEC round trip (per item ``LREM`` + ``RPUSH``, then ``LTRIM`` to the
    newest ``max_items`` and ``EXPIRE``), so concurrent adds of one id from several workers
    interleave whole; ``get`` is one ``LRANGE``. Timeouts, retries and the circuit breaker are
    the cache's (``redis_timeout_ms``...): a down Redis costs a call at most one timeout, then
    nothing while the breaker is open, and is never an error to the caller.
    """

    def __init__(
        self,
        url: str,
        keys: Keys,
        *,
        max_items: int = DEFAULT_MAX_ITEMS,
        ttl_s: int = DEFAULT_TTL_S,
        timeout_s: float = 0.05,
        retries: int = 1,
        cooldown_s: float = 0.25,
        threshold: int = 3,
        client: Any = None,
    ) -> None:
        self.keys = keys
        self.max_items = max_items
        self.ttl_s = ttl_s
        self.failures = 0
        """Calls that failed (Redis down, slow or breaker open); for tests and logs."""
        self._redis = GuardedRedis(
            url,
            timeout_s=timeout_s,
            retries=retries,
            cooldown_s=cooldown_s,
            threshold=threshold,
            client=client,
        )
        self.breaker = self._redis.breaker
        self._client = self._redis.client

    async def _call(self, op: str, fn: Any) -> Any:
        """``await fn()`` under the breaker; None (and a failure counted) when Redis fails."""
        try:
            return await self._redis.call(op, fn)
        except CacheUnavailable as exc:
            self.failures += 1
            _log.debug("recent_items_failed", op=op, error=str(exc))
            return None

    async def add(self, key: str, item_ids: Sequence[str]) -> None:
        items = newest_distinct(item_ids, self.max_items)
        if not items:
            return
        name = self.keys.recent(key)

        async def write() -> Any:
            async with self._client.pipeline(transaction=True) as pipe:
                for item in items:
                    pipe.lrem(name, 0, item)
                    pipe.rpush(name, item)
                pipe.ltrim(name, -self.max_items, -1)
                pipe.expire(name, self.ttl_s)
                return await pipe.execute()

        await self._call("add", write)

    async def get(self, key: str) -> list[str]:
        name = self.keys.recent(key)
        found = await self._call("get", lambda: self._client.lrange(name, 0, -1))
        return [str(i) for i in found] if found else []

    async def close(self) -> None:
        await self._redis.close()


def open_recent_items(
    url: str,
    keys: Keys,
    *,
    max_items: int = DEFAULT_MAX_ITEMS,
    ttl_s: int = DEFAULT_TTL_S,
    timeout_s: float = 0.05,
    retries: int = 1,
    cooldown_s: float = 0.25,
    threshold: int = 3,
    memory_max_keys: int = DEFAULT_MAX_KEYS,
) -> RecentItems:
    """The store for the cache URL: ``memory://`` or ``redis://`` / ``rediss://`` / ``unix://``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryRecentItems(max_items, ttl_s, max_keys=memory_max_keys)
    if scheme in ("redis", "rediss", "unix"):
        return RedisRecentItems(
            url,
            keys,
            max_items=max_items,
            ttl_s=ttl_s,
            timeout_s=timeout_s,
            retries=retries,
            cooldown_s=cooldown_s,
            threshold=threshold,
        )
    raise ConfigError(f"unsupported cache URL scheme {scheme!r}; use redis:// or memory://")
