"""Caches of precomputed recommendation lists: Redis in production, in-process by default.

Both implement :class:`RecCache` and are chosen by URL scheme (``redis://`` or ``memory://``) in
:func:`open_cache`. A list is stored as JSON ``[[item_id, score], ...]`` under a versioned key.
Every Redis call runs under tight timeouts and a circuit breaker; a failure raises
:class:`CacheUnavailable` at once, which the caller turns into a fallback answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import orjson

from tailor.errors import ConfigError
from tailor.serving.breaker import CircuitBreaker
from tailor.serving.keys import Keys
from tailor.types import ItemList
from tailor.units import SECONDS_PER_DAY

DEFAULT_MAX_LISTS = 100_000
"""Users' lists the in-process cache keeps at most (``memory_cache_max_lists``)."""


class CacheUnavailable(Exception):
    """The cache could not answer within its budget (down, slow or circuit open)."""


@runtime_checkable
class RecCache(Protocol):
    """Storage of precomputed lists and the active-version pointer."""

    keys: Keys

    async def get_recs(self, version: str, user_id: str) -> ItemList | None:
        """The stored list, or None on a miss; raises CacheUnavailable on failure."""
        ...

    async def put_recs(
        self, version: str, lists: Mapping[str, Sequence[tuple[str, float]]]
    ) -> None:
        """Store many users' lists under ``version``."""
        ...

    async def get_active(self) -> str | None:
        """The active version pointer, or None when unset."""
        ...

    async def set_active(self, version: str) -> None:
        """Point readers at ``version`` (one atomic write)."""
        ...

    async def ping(self) -> bool:
        """Whether the cache answers now."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def encode_list(items: Sequence[tuple[str, float]]) -> str:
    """JSON text of a ranked list; scores rounded to 6 significant digits to keep values small."""
    return json.dumps([[i, float(f"{s:.6g}")] for i, s in items], separators=(",", ":"))


def decode_list(raw: str | bytes) -> ItemList:
    """Inverse of :func:`encode_list` (the JSON already holds str ids and float scores)."""
    return [(i, s) for i, s in orjson.loads(raw)]


class MemoryRecCache:
    """In-process cache for one worker (the default when no Redis is configured).

    Lists are bounded: at most ``max_lists`` users' lists are kept, the least recently used one
    is evicted first (a hit moves a list to the end), and expired lists are dropped when read
    and swept out before anything live is evicted.
    """

    def __init__(
        self, keys: Keys, ttl_s: int = 7 * SECONDS_PER_DAY, *, max_lists: int = DEFAULT_MAX_LISTS
    ) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self.max_lists = max_lists
        self._data: dict[str, tuple[float, Any]] = {}
        self._lists: OrderedDict[str, tuple[float, tuple[tuple[str, float], ...]]] = OrderedDict()
        self._next_sweep = 0.0

    def _get(self, key: str) -> Any:
        entry = self._data.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def _set(self, key: str, value: Any, ttl_s: float) -> None:
        self._data[key] = (time.monotonic() + ttl_s, value)

    def __len__(self) -> int:
        """Lists held now (expired ones not yet dropped included)."""
        return len(self._lists)

    async def get_recs(self, version: str, user_id: str) -> ItemList | None:
        key = self.keys.recs(version, user_id)
        entry = self._lists.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._lists[key]
            return None
        self._lists.move_to_end(key)
        return list(entry[1])

    async def put_recs(
        self, version: str, lists: Mapping[str, Sequence[tuple[str, float]]]
    ) -> None:
        expires = time.monotonic() + self.ttl_s
        for user_id, items in lists.items():
            key = self.keys.recs(version, user_id)
            self._lists[key] = (expires, tuple(items))
            self._lists.move_to_end(key)
        if len(self._lists) > self.max_lists:
            self._evict()

    def _evict(self) -> None:
        """Drop expired lists (a full pass, at most once a second), then the least recently
        used ones until ``max_lists`` remain."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            for key in [k for k, (expires, _) in self._lists.items() if expires < now]:
                del self._lists[key]
        while len(self._lists) > self.max_lists:
            self._lists.popitem(last=False)

    async def get_active(self) -> str | None:
        value = self._get(self.keys.active_version())
        return None if value is None else str(value)

    async def set_active(self, version: str) -> None:
        self._set(self.keys.active_version(), version, float("inf"))

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._lists.clear()


class GuardedRedis:
    """An asyncio Redis client whose every call is bounded: connect and read timeouts of
    ``timeout_s`` (default 50 ms), at most ``retries`` retries, and a circuit breaker, so a dead
    or slow Redis costs a caller at most about ``(1 + retries) * timeout_s`` once, and nothing
    while the breaker is open. Shared by the list cache and the recent-items store."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.05,
        retries: int = 1,
        cooldown_s: float = 0.25,
        threshold: int = 3,
        client: Any = None,
    ) -> None:
        from redis.asyncio import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.breaker = CircuitBreaker(cooldown_s, threshold)
        self.client = client or Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), retries),
            health_check_interval=0,
            decode_responses=True,
            max_connections=64,
        )

    async def call(self, op: str, fn: Any, *args: Any) -> Any:
        """``await fn(*args)`` under the breaker.

        Raises:
            CacheUnavailable: the breaker is open, or Redis failed or timed out.
        """
        from redis.exceptions import RedisError

        if not self.breaker.allow():
            raise CacheUnavailable(f"redis circuit open ({op})")
        try:
            result = await fn(*args)
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.failure()
            raise CacheUnavailable(f"redis {op} failed: {type(exc).__name__}") from None
        self.breaker.success()
        return result

    async def close(self) -> None:
        await self.client.aclose()


class CoalescedGets:
    """GETs asked for in the same event-loop turn, sent to Redis as one ``MGET``.

    A burst of requests (several connections whose requests arrive together) would otherwise
    cost one round trip each, and redis-py's client spends about 0.07-0.15 ms of CPU per call,
    more than the rest of a cache hit. The first caller of a turn waits one turn
    (``asyncio.sleep(0)``) while the others add their keys, then reads them all in one call,
    under the same budget, retry and breaker as any call (a failure fails the whole batch: one
    round trip, one breaker count). A lone request pays one loop turn, a few microseconds.
    """

    def __init__(self, redis: GuardedRedis) -> None:
        self._redis = redis
        self._batch: list[tuple[str, asyncio.Future[Any]]] | None = None

    async def get(self, key: str) -> Any:
        """The value under ``key`` (None when absent); CacheUnavailable when Redis fails."""
        batch = self._batch
        if batch is not None:  # a batch is being collected in this turn: join it
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            batch.append((key, future))
            return await future
        batch = self._batch = []
        try:
            try:
                await asyncio.sleep(0)  # the other requests of this turn add their keys
            finally:
                self._batch = None
            values = await self._fetch([key, *(k for k, _ in batch)])
        except BaseException as exc:  # cancelled too: the joined requests must not hang
            failure = (
                exc
                if isinstance(exc, CacheUnavailable)
                else CacheUnavailable(f"redis mget failed: {type(exc).__name__}")
            )
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(failure)
            raise
        for (_, waiting), value in zip(batch, values[1:], strict=True):
            if not waiting.done():
                waiting.set_result(value)
        return values[0]

    async def _fetch(self, keys: list[str]) -> list[Any]:
        client = self._redis.client
        if len(keys) == 1:
            return [await self._redis.call("get", client.get, keys[0])]
        return list(await self._redis.call("mget", client.mget, keys))


class RedisRecCache:
    """Redis-backed cache with per-call budgets and a circuit breaker (:class:`GuardedRedis`);
    list reads of one event-loop turn share one round trip (:class:`CoalescedGets`)."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        *,
        timeout_s: float = 0.05,
        retries: int = 1,
        cooldown_s: float = 0.25,
        threshold: int = 3,
        ttl_s: int = 7 * SECONDS_PER_DAY,
        client: Any = None,
    ) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
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
        self._call = self._redis.call
        self._gets = CoalescedGets(self._redis)

    async def get_recs(self, version: str, user_id: str) -> ItemList | None:
        raw = await self._gets.get(self.keys.recs(version, user_id))
        return None if raw is None else decode_list(raw)

    async def put_recs(
        self, version: str, lists: Mapping[str, Sequence[tuple[str, float]]]
    ) -> None:
        async def write() -> None:
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id, items in lists.items():
                    pipe.set(self.keys.recs(version, user_id), encode_list(items), ex=self.ttl_s)
                await pipe.execute()

        await self._call("put", write)

    async def get_active(self) -> str | None:
        value = await self._call("get", self._client.get, self.keys.active_version())
        return None if value is None else str(value)

    async def set_active(self, version: str) -> None:
        await self._call("set", self._client.set, self.keys.active_version(), version)

    async def ping(self) -> bool:
        try:
            return bool(await self._call("ping", self._client.ping))
        except CacheUnavailable:
            return False

    async def close(self) -> None:
        await self._redis.close()


def open_cache(
    url: str,
    keys: Keys,
    *,
    timeout_s: float = 0.05,
    retries: int = 1,
    cooldown_s: float = 0.25,
    threshold: int = 3,
    ttl_s: int = 7 * SECONDS_PER_DAY,
    memory_max_lists: int = DEFAULT_MAX_LISTS,
) -> RecCache:
    """The cache for ``url``: ``memory://`` or ``redis://`` / ``rediss://`` / ``unix://``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryRecCache(keys, ttl_s, max_lists=memory_max_lists)
    if scheme in ("redis", "rediss", "unix"):
        return RedisRecCache(
            url,
            keys,
            timeout_s=timeout_s,
            retries=retries,
            cooldown_s=cooldown_s,
            threshold=threshold,
            ttl_s=ttl_s,
        )
    raise ConfigError(f"unsupported cache URL scheme {scheme!r}; use redis:// or memory://")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
