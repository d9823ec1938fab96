"""Failures of dependencies become fallback answers, never errors: slow or broken scoring,
an unreachable Redis, and the circuit breaker that keeps a dead Redis from costing time."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.serving.breaker import CircuitBreaker
from tailor.testing.serving import POPULAR, U0_FALLBACK, items_of, serve_settings


def _patch_model(client: TestClient, score: Any) -> None:
    model = client.app.state.services.holder.state.model  # type: ignore[attr-defined]
    model._score = score


def test_slow_scoring_answers_from_fallback_within_budget(model_dir: Path) -> None:
    settings = serve_settings(model_dir, scoring_budget_ms=30)
    with TestClient(create_app(settings)) as c:

        def slow(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.5)
            raise AssertionError("unreachable: the answer is sent before")

        _patch_model(c, slow)
        start = time.perf_counter()
        r = c.get("/v1/recommendations/u0", params={"n": 3})
        elapsed = time.perf_counter() - start
        assert r.status_code == 200
        assert r.json()["source"] == "fallback"
        assert items_of(r) == U0_FALLBACK
        assert elapsed < 0.3
        assert (
            'tailor_serving_fallback_total{reason="scoring_timeout"} 1.0' in c.get("/metrics").text
        )


def test_broken_model_answers_from_fallback(client: TestClient) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    _patch_model(client, broken)
    r = client.get("/v1/recommendations/u0", params={"n": 3})
    assert r.status_code == 200
    assert (r.json()["source"], items_of(r)) == ("fallback", U0_FALLBACK)
    batch = client.post("/v1/recommendations", json={"user_ids": ["u0", "zz"], "n": 2})
    assert [x["source"] for x in batch.json()["results"]] == ["fallback", "cold_start"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_redis_gives_fast_fallback(model_dir: Path) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    with TestClient(create_app(serve_settings(model_dir, redis_url=url))) as c:
        times = []
        for _ in range(20):
            start = time.perf_counter()
            r = c.get("/v1/recommendations/u0", params={"n": 3})
            times.append(time.perf_counter() - start)
            assert r.status_code == 200
            assert (r.json()["source"], items_of(r)) == ("fallback", U0_FALLBACK)
        cold = c.get("/v1/recommendations/new", params={"n": 2})
        assert (cold.json()["source"], items_of(cold)) == ("cold_start", POPULAR[:2])
        assert max(times) < 0.2
        ready = c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["cache"] is False
        text = c.get("/metrics").text
        assert 'tailor_serving_fallback_total{reason="cache_unavailable"} 20.0' in text
        assert "tailor_serving_redis_up 0.0" in text


def test_breaker_opens_then_probes_once_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(0.25, threshold=2, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure()
    assert not breaker.is_open and breaker.allow()  # one failure is not enough
    breaker.success()
    breaker.failure()
    assert not breaker.is_open  # the streak restarted
    breaker.failure()
    assert breaker.is_open and not breaker.allow()
    now[0] = 0.3
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.failure()  # a failed probe re-opens at once
    assert not breaker.allow()
    now[0] = 0.6
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


def test_lost_probe_does_not_block_recovery() -> None:
    now = [0.0]
    breaker = CircuitBreaker(0.25, clock=lambda: now[0])
    breaker.failure()
    now[0] = 0.3
    assert breaker.allow()  # this probe never reports back (its request was cancelled)
    now[0] = 0.4
    assert not breaker.allow()
    now[0] = 0.6
    assert breaker.allow()


@pytest.mark.parametrize("url", ["postgres://x", "http://localhost"])
def test_unsupported_cache_url(model_dir: Path, url: str) -> None:
    from tailor.errors import ConfigError
    from tailor.serving.cache import open_cache
    from tailor.serving.keys import Keys

    with pytest.raises(ConfigError, match="unsupported cache URL"):
        open_cache(url, Keys())
