"""The per-key rate limit is a moving window: never more than the limit in any one second."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import limits.aio.storage.memory
import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.serving.auth import RateLimiter, hash_key
from tailor.serving.problems import ProblemError
from tailor.testing.serving import serve_settings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _burst(limiter: RateLimiter, clock: Clock, at: float, count: int) -> list[str]:
    """``count`` requests at time ``at``: "200" or "429 Retry-After=N" each."""
    clock.now = at
    out = []
    for _ in range(count):
        try:
            await limiter.check("shop")
            out.append("200")
        except ProblemError as exc:
            assert exc.headers is not None
            out.append(f"{exc.status} Retry-After={exc.headers['Retry-After']}")
    return out


def test_moving_window_refuses_the_burst_across_a_second_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(1000.9)
    monkeypatch.setattr(limits.aio.storage.memory, "time", SimpleNamespace(time=clock))
    limiter = RateLimiter(5, "memory://", clock=clock)

    async def run() -> list[list[str]]:
        return [
            await _burst(limiter, clock, 1000.9, 5),
            # the fixed windows (seconds 1000 and 1001) let these 5 through too: 10 in 0.2 s
            await _burst(limiter, clock, 1001.1, 5),
            await _burst(limiter, clock, 1001.85, 1),  # still within 1 s of the first five
            await _burst(limiter, clock, 1001.95, 6),  # the first five have left the window
        ]

    refused = "429 Retry-After=1"
    assert asyncio.run(run()) == [
        ["200"] * 5,
        [refused] * 5,
        [refused],
        ["200"] * 5 + [refused],
    ]


def test_memory_limit_over_http_is_exact(model_dir: Path) -> None:
    keys = [{"name": "shop", "sha256": hash_key("k-123456"), "scope": "read"}]
    settings = serve_settings(model_dir, api_keys=keys, rate_limit_per_s=3)
    with TestClient(create_app(settings)) as c:
        statuses = [
            c.get("/v1/popular", headers={"X-API-Key": "k-123456"}) for _ in range(6)
        ]  # a burst well within one second
    assert [r.status_code for r in statuses] == [200] * 3 + [429] * 3
    assert {r.headers["retry-after"] for r in statuses[3:]} == {"1"}
    assert statuses[3].headers["content-type"] == "application/problem+json"


def test_zero_means_unlimited() -> None:
    limiter = RateLimiter(0, "memory://")

    async def run() -> None:
        for _ in range(50):
            await limiter.check("shop")

    asyncio.run(run())


def test_unreachable_redis_counts_in_process() -> None:
    limiter = RateLimiter(3, "redis://127.0.0.1:1/0", timeout_s=0.05, threshold=1)

    async def run() -> list[str]:
        out = []
        for _ in range(5):
            try:
                await limiter.check("shop")
                out.append("200")
            except ProblemError as exc:
                out.append(str(exc.status))
        await limiter.close()
        return out

    assert asyncio.run(run()) == ["200"] * 3 + ["429"] * 2
    assert limiter.breaker.is_open
