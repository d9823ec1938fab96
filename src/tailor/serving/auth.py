"""API keys: optional, hashed at rest, compared in constant time, never logged; per-key rate limit.

A key is presented as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``. The service stores only
``sha256(KEY)``; the presented key is hashed and compared with every stored hash through
``hmac.compare_digest`` (no early exit, so timing does not reveal which prefix matched). Scopes:
``read`` for recommendation routes, ``admin`` for version switches (admin implies read).

The rate limit is a fixed one-second window per key: ``INCR {p}:rate:{name}:{second}`` in Redis,
shared by every worker and instance; while Redis is unavailable each process counts on its own.
Over the limit the answer is 429 with ``Retry-After`` (seconds until the window ends).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from tailor.serving.cache import CacheUnavailable, MemoryRecCache, RecCache
from tailor.serving.problems import ProblemError
from tailor.serving.settings import ApiKeySpec

SCOPE_RANK = {"read": 1, "admin": 2}


def hash_key(key: str) -> str:
    """Hex SHA-256 of an API key: what settings store."""
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(conn: HTTPConnection) -> str | None:
    """The key in ``X-API-Key`` or ``Authorization: Bearer``, if any."""
    key = conn.headers.get("x-api-key")
    if key:
        return key
    auth = conn.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def identify(key: str, specs: Sequence[ApiKeySpec]) -> ApiKeySpec | None:
    """The spec whose hash matches ``key``; every spec is compared, in constant time each."""
    digest = hash_key(key).encode()
    found = None
    for spec in specs:
        if hmac.compare_digest(digest, spec.sha256.encode()):
            found = spec
    return found


def authorize(conn: HTTPConnection, specs: Sequence[ApiKeySpec], scope: str) -> ApiKeySpec:
    """The caller's key spec, or a 401/403 problem.

    Raises:
        ProblemError: 401 when the key is missing or unknown, 403 when its scope is too low.
    """
    key = presented_key(conn)
    challenge = {"WWW-Authenticate": 'Bearer realm="tailor"'}
    if key is None:
        raise ProblemError(
            401, "an API key is required", field="header.X-API-Key", headers=challenge
        )
    spec = identify(key, specs)
    if spec is None:
        raise ProblemError(401, "unknown API key", field="header.X-API-Key", headers=challenge)
    if SCOPE_RANK[spec.scope] < SCOPE_RANK[scope]:
        raise ProblemError(403, f"this key lacks the {scope!r} scope", field="header.X-API-Key")
    return spec


class RateLimiter:
    """Fixed one-second windows per key name, counted in the cache, locally when it is down."""

    def __init__(self, cache: RecCache, per_second: int) -> None:
        self.cache = cache
        self.per_second = per_second
        self._local = MemoryRecCache(cache.keys)

    async def check(self, key_name: str) -> None:
        """Count one request of ``key_name``.

        Raises:
            ProblemError: 429 with Retry-After when the window's budget is spent.
        """
        if self.per_second <= 0:
            return
        now = time.time()
        window = int(now)
        key = self.cache.keys.rate(key_name, window)
        try:
            count = await self.cache.incr_window(key, ttl_s=2)
        except CacheUnavailable:
            count = await self._local.incr_window(key, ttl_s=2)
        if count > self.per_second:
            retry = max(1, math.ceil(window + 1 - now))
            raise ProblemError(429, "rate limit exceeded", headers={"Retry-After": str(retry)})
