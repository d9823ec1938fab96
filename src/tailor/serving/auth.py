"""API keys: optional, hashed at rest, compared in constant time, never logged; per-key rate limit.

A key is presented as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``. The service stores only
``sha256(KEY)``; the presented key is hashed and compared with every stored hash through
``hmac.compare_digest`` (no early exit, so timing does not reveal which prefix matched). Scopes:
``read`` for recommendation routes, ``admin`` for version switches (admin implies read).

The rate limit is a moving one-second window per key (the ``limits`` library), in Redis when the
cache is Redis (shared by every worker and instance); while Redis is unavailable, or with
``memory://``, each process counts on its own. Over the limit the answer is 429 with
``Retry-After`` (seconds until the oldest request in the window leaves it).

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
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from tailor.serving.breaker import CircuitBreaker
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
    """A moving one-second window per key name (``limits``' MovingWindowRateLimiter).

    Counted in Redis when the cache is Redis (the same URL, shared by every worker and instance),
    and in process (``limits``' MemoryStorage) when the cache is ``memory://`` or while Redis
    fails (its own circuit breaker: a dead Redis costs a request nothing once it is open). A
    moving window admits at most ``per_second`` requests in any one-second span; the fixed
    windows it replaces let twice that through around a second's boundary.
    """

    def __init__(
        self,
        per_second: int,
        redis_url: str | None = None,
        *,
        key_prefix: str = "tailor",
        timeout_s: float = 0.05,
        cooldown_s: float = 0.25,
        threshold: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import MemoryStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.per_second = per_second
        self.clock = clock
        self._item = RateLimitItemPerSecond(max(per_second, 1), namespace="key")
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: Any = None
        self.breaker = CircuitBreaker(cooldown_s, threshold)
        scheme = urlsplit(redis_url or "").scheme
        if per_second > 0 and scheme in ("redis", "rediss", "unix"):
            from limits.aio.storage import RedisStorage
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            assert redis_url is not None
            uri = "async+redis+" + redis_url if scheme == "unix" else "async+" + redis_url
            options: dict[str, Any] = {
                "socket_timeout": timeout_s,
                "socket_connect_timeout": timeout_s,
                "retry": Retry(NoBackoff(), 0),
                "health_check_interval": 0,
            }
            storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=f"{key_prefix}:rate",
                wrap_exceptions=True,
                **options,
            )
            self._shared = MovingWindowRateLimiter(storage)

    async def check(self, key_name: str) -> None:
        """Count one request of ``key_name``.

        Raises:
            ProblemError: 429 with Retry-After (seconds until the oldest request in the window
                leaves it) when ``per_second`` requests were admitted within the last second.
        """
        from limits.errors import StorageError

        if self.per_second <= 0:
            return
        limiter = self._local
        if self._shared is not None and self.breaker.allow():
            try:
                allowed = await self._shared.hit(self._item, key_name)
                reset = (
                    None if allowed else await self._shared.get_window_stats(self._item, key_name)
                )
            except (StorageError, OSError, TimeoutError):
                self.breaker.failure()
            else:
                self.breaker.success()
                if allowed:
                    return
                self._refuse(reset.reset_time if reset is not None else self.clock() + 1)
        if await limiter.hit(self._item, key_name):
            return
        stats = await limiter.get_window_stats(self._item, key_name)
        self._refuse(stats.reset_time)

    def _refuse(self, reset_time: float) -> None:
        retry = max(1, math.ceil(reset_time - self.clock()))
        raise ProblemError(429, "rate limit exceeded", headers={"Retry-After": str(retry)})

    async def close(self) -> None:
        """Release the Redis connections (if any)."""
        if self._shared is not None:
            client = getattr(self._shared.storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()


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
