"""Where the consumer puts the fresh lists of the users its events touched.

The server answers a known user from the cache first, so rewriting that user's cached list under
the active version is what makes the next answer reflect the event. Two writers:

* :class:`RedisListWriter` for a separate ``tailor stream`` process beside servers sharing one
  Redis (the same keys and encoding as ``tailor serve warm``);
* :class:`CacheListWriter` for a consumer running inside the server (``[serve] stream = true``),
  writing into the server's own cache (the in-process ``memory://`` one included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from tailor.logging import get_logger
from tailor.serving.cache import CacheUnavailable, RecCache, encode_list
from tailor.serving.keys import Keys
from tailor.types import ItemList

_log = get_logger(__name__)

WRITE_TIMEOUT_S = 2.0


class ListWriter(Protocol):
    """Stores users' lists under a version's keys; never raises for a down cache (the lists
    are only a speed-up: the server scores a missing list live)."""

    def write(self, version: str, lists: Mapping[str, ItemList]) -> bool:
        """Whether the lists were stored."""
        ...

    def close(self) -> None: ...


class RedisListWriter:
    """Writes lists straight to Redis (one pipelined round trip per batch)."""

    def __init__(self, url: str, keys: Keys, ttl_s: int, timeout_s: float = 1.0) -> None:
        import redis

        self.keys = keys
        self.ttl_s = ttl_s
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def write(self, version: str, lists: Mapping[str, ItemList]) -> bool:
        import redis

        if not lists:
            return True
        try:
            pipe = self._client.pipeline(transaction=False)
            for user_id, items in lists.items():
                pipe.set(self.keys.recs(version, user_id), encode_list(items), ex=self.ttl_s)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            _log.warning("stream_lists_not_written", users=len(lists), error=str(exc))
            return False

    def close(self) -> None:
        self._client.close()


class CacheListWriter:
    """Writes lists into a server's :class:`RecCache` from the consumer's thread."""

    def __init__(self, cache: RecCache, loop: asyncio.AbstractEventLoop) -> None:
        self.cache = cache
        self.loop = loop

    def write(self, version: str, lists: Mapping[str, ItemList]) -> bool:
        if not lists:
            return True
        future = asyncio.run_coroutine_threadsafe(self.cache.put_recs(version, lists), self.loop)
        try:
            future.result(WRITE_TIMEOUT_S)
            return True
        except (CacheUnavailable, TimeoutError) as exc:
            _log.warning("stream_lists_not_written", users=len(lists), error=repr(exc))
            return False

    def close(self) -> None:
        return None
