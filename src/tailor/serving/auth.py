"""API keys: optional, hashed at rest, compared in constant time, never logged; per-key rate limit.

A key is presented as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``. The service stores only
``sha256(KEY)``; the presented key is hashed and compared with every stored hash through
``hmac.compare_digest`` (no early exit, so timing does not reveal which prefix matched). Scopes:
``read`` for recommendation routes, ``admin`` for version switches (admin implies read).

The rate limit is a fixed one-second window per key: ``INCR {p}:rate:{name}:{second}`` in Redis,
shared by every worker and instance; while Redis is unavailable each process counts on its own.
Over the limit the answer is 429 with ``Retry-After`` (seconds until the window ends).

Guessing keys is throttled per client IP: after ``auth_fail_limit`` failed keys (401) within
``auth_fail_window_s`` every request from that IP gets 429 with ``Retry-After`` until the oldest
failure leaves the window. Counted in process (a guesser is slowed per worker, which is enough
to make guessing a 256-bit key hopeless and keeps a key-less Redis round trip off this path).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

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


class FailureThrottle:
    """Failed-key counts per client, in a sliding window; bounded memory."""

    MAX_CLIENTS = 10_000
    """Clients tracked at most; past it, clients whose failures all expired are forgotten, then
    the oldest entries (a flood of fresh addresses must not grow memory without end)."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if times is not None and not times:
            del self._failures[client]
            return None
        return times

    def check(self, client: str) -> None:
        """Raise 429 while ``client`` has ``limit`` failures within the window."""
        now = self.clock()
        times = self._recent(client, now)
        if times is not None and len(times) >= self.limit:
            retry = max(1, math.ceil(times[0] + self.window_s - now))
            raise ProblemError(
                429, "too many failed API keys; retry later", headers={"Retry-After": str(retry)}
            )

    def failed(self, client: str) -> None:
        """Count one failed key of ``client``."""
        now = self.clock()
        if client not in self._failures and len(self._failures) >= self.MAX_CLIENTS:
            for name in list(self._failures):
                self._recent(name, now)
            while len(self._failures) >= self.MAX_CLIENTS:
                del self._failures[next(iter(self._failures))]
        self._failures.setdefault(client, deque(maxlen=self.limit)).append(now)
