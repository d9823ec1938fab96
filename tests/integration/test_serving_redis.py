"""Serving against real Redis: the shared server (own key prefix) and a private redis-server that
the test kills and restarts (the shared one on 6379 is never touched)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.testing.serving import (
    U0_FALLBACK,
    U0_MODEL,
    items_of,
    serve_settings,
    write_model_dir,
)

pytestmark = pytest.mark.integration

SHARED_URL = "redis://127.0.0.1:6379/0"


def _shared_available() -> bool:
    try:
        return bool(redis.Redis.from_url(SHARED_URL, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def prefix(require: Callable[[bool, str], None]) -> Iterator[str]:
    require(_shared_available(), "no Redis on 127.0.0.1:6379")
    name = f"tailor-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(SHARED_URL)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)


def test_warm_then_cache_hits_under_versioned_keys(model_dir: Path, prefix: str) -> None:
    settings = serve_settings(
        model_dir, redis_url=SHARED_URL, key_prefix=prefix, warm_on_start=True
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 5})
        assert (r.json()["source"], items_of(r)) == ("cache", U0_MODEL)
        version = r.json()["model_version"]
        assert c.get("/health/ready").status_code == 200
    raw = redis.Redis.from_url(SHARED_URL, decode_responses=True)
    assert raw.get(f"{prefix}:active-version") == version
    assert raw.get(f"{prefix}:{version}:recs:u0") == (
        '[["i4",6.0],["i1",4.0],["i6",4.0],["i7",4.0],["i5",4.0]]'
    )
    assert raw.ttl(f"{prefix}:{version}:recs:u0") > 0


def test_live_scored_list_is_written_back_with_ttl(model_dir: Path, prefix: str) -> None:
    settings = serve_settings(model_dir, redis_url=SHARED_URL, key_prefix=prefix, cache_ttl_s=300)
    raw = redis.Redis.from_url(SHARED_URL, decode_responses=True)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 2})
        assert (r.json()["source"], items_of(r)) == ("model", U0_MODEL[:2])
        key = f"{prefix}:{r.json()['model_version']}:recs:u0"
        deadline = time.monotonic() + 1.0
        while raw.get(key) is None and time.monotonic() < deadline:  # written in the background
            time.sleep(0.01)
        assert raw.get(key) == '[["i4",6.0],["i1",4.0],["i6",4.0],["i7",4.0],["i5",4.0]]'
        assert 0 < raw.ttl(key) <= 300
        r = c.get("/v1/recommendations/u0", params={"n": 2})
        assert (r.json()["source"], items_of(r)) == ("cache", U0_MODEL[:2])


def test_rate_limit_is_shared_between_instances(model_dir: Path, prefix: str) -> None:
    from tailor.serving.auth import hash_key

    keys = [{"name": "shop", "sha256": hash_key("k-123456"), "scope": "read"}]
    settings = serve_settings(
        model_dir, redis_url=SHARED_URL, key_prefix=prefix, api_keys=keys, rate_limit_per_s=4
    )
    headers = {"X-API-Key": "k-123456"}
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        statuses = [(a if k % 2 else b).get("/v1/popular", headers=headers).status_code
                    for k in range(8)]  # fmt: skip
    assert statuses == [200] * 4 + [429] * 4


def test_moving_window_in_redis_across_a_second_boundary(model_dir: Path, prefix: str) -> None:
    """5/s: five requests at x.9 s and five at (x+1).1 s. The fixed one-second windows let all
    ten through; the moving window (shared in Redis by two instances) admits five."""
    from tailor.serving.auth import hash_key

    keys = [{"name": "shop", "sha256": hash_key("k-123456"), "scope": "read"}]
    settings = serve_settings(
        model_dir, redis_url=SHARED_URL, key_prefix=prefix, api_keys=keys, rate_limit_per_s=5
    )
    headers = {"X-API-Key": "k-123456"}
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        a.get("/health/live")
        time.sleep((0.9 - time.time() % 1) % 1)  # to x.9
        first = [(a if k % 2 else b).get("/v1/popular", headers=headers) for k in range(5)]
        time.sleep((0.1 - time.time() % 1) % 1)  # to (x+1).1
        second = [(a if k % 2 else b).get("/v1/popular", headers=headers) for k in range(5)]
        keys_written = redis.Redis.from_url(SHARED_URL).keys(f"{prefix}:rate:*")
    assert [r.status_code for r in first] == [200] * 5
    assert [r.status_code for r in second] == [429] * 5
    assert {r.headers["retry-after"] for r in second} == {"1"}
    assert keys_written == [f"{prefix}:rate:key/shop/5/1/second".encode()]


# ---- a private redis-server that the test kills -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server on its own port, without persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while True:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.1).ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis(require: Callable[[bool, str], None]) -> Iterator[PrivateRedis]:
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis(_free_port())
    server.start()
    yield server
    server.kill()


def _get(c: TestClient) -> tuple[Any, float]:
    start = time.perf_counter()
    r = c.get("/v1/recommendations/u0", params={"n": 3})
    return r, time.perf_counter() - start


def test_redis_killed_then_back(tmp_path: Path, private_redis: PrivateRedis) -> None:
    model = write_model_dir(tmp_path / "m")
    settings = serve_settings(model, redis_url=private_redis.url, warm_on_start=True)
    with TestClient(create_app(settings)) as c:
        assert _get(c)[0].json()["source"] == "cache"

        private_redis.kill()
        outage = [_get(c) for _ in range(30)]
        assert {r.status_code for r, _ in outage} == {200}
        assert {r.json()["source"] for r, _ in outage} == {"fallback"}
        assert {tuple(items_of(r)) for r, _ in outage} == {tuple(U0_FALLBACK)}
        assert max(t for _, t in outage) < 0.1

        private_redis.start()  # empty: lists are gone, live scoring answers
        back = time.monotonic()
        while (r := _get(c)[0]).json()["source"] == "fallback":
            assert time.monotonic() - back < 1.0, "not recovered within 1 s of Redis returning"
            time.sleep(0.01)
        assert r.json()["source"] == "model"
        assert c.get("/health/ready").status_code == 200
