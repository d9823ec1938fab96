"""The roles of docs/streaming.md from one settings file: ``tailor serve --config`` and
``tailor stream --config`` as real processes over one model store, the shared Redis as cache (a
unique key prefix) and a Redis stream as the event log (a unique name). A purchase posted to the
server leaves the buyer's cached list within 2 s (once the consumer's first micro-batch,
which loads numba, is behind it); SIGTERM stops both with status 0 and the
consumer's last snapshot in the store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tailor.streaming.consumer import STREAM_FILE
from tailor.testing.streaming import write_store

pytestmark = pytest.mark.integration

SHARED_REDIS = "redis://127.0.0.1:6379/0"
FRESH_WITHIN_S = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    """This machine's environment without TAILOR_* settings (the file says everything)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TAILOR_")}


def _start(role: str, settings: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from tailor.cli import main; main()", role]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--config", str(settings)], env=_env(), stdout=out, stderr=subprocess.STDOUT
        )


def _call(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers={"Content-Type": "application/json"} if data else {},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def buy_top(port: int, user: str, within_s: float) -> float:
    """Post a purchase of ``user``'s top cached item; the seconds until a GET answers, from
    the cache, a list without it (fails after ``within_s``)."""
    path = f"/v1/recommendations/{user}?n=3"  # a full list: no backfill from the server
    for _ in range(100):  # the first answer is scored live and written back to the cache
        _, answer = _call(port, path)
        if answer["source"] == "cache":
            break
        time.sleep(0.05)
    assert answer["source"] == "cache"
    top = answer["items"][0]["item_id"]
    event = {
        "event_id": f"roles-{uuid.uuid4().hex[:8]}",
        "user_id": user,
        "item_id": top,
        "type": "purchase",
        "timestamp": int(time.time()),
    }
    start = time.monotonic()
    status, body = _call(port, "/v1/events", {"events": [event]})
    assert (status, body["accepted"]) == (202, 1)
    while True:
        _, answer = _call(port, path)
        items = [entry["item_id"] for entry in answer["items"]]
        elapsed = time.monotonic() - start
        if top not in items:
            assert answer["source"] == "cache" and items  # the list the consumer rewrote
            return elapsed
        assert elapsed < within_s, f"{user} still has {top} after {elapsed:.2f} s: {answer}"
        time.sleep(0.02)


@pytest.fixture
def names(require: Callable[[bool, str], None]) -> Iterator[tuple[str, str]]:
    """A key prefix and a stream name of this test's own on the shared Redis."""
    client = redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=0.5)
    try:
        up = bool(client.ping())
    except redis.RedisError:
        up = False
    require(up, "no Redis on 127.0.0.1:6379")
    tag = uuid.uuid4().hex[:10]
    prefix, stream = f"tailor-test-roles-{tag}", f"tailor-test-roles-{tag}:events"
    yield prefix, stream
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    client.delete(*keys, stream, f"{stream}:dead", f"{stream}:dead:ids")
    client.close()


def test_serve_and_stream_from_one_config(names: tuple[str, str], tmp_path: Path) -> None:
    prefix, stream = names
    store = write_store(tmp_path / "store", "ease")
    base = store.active()
    port = _free_port()
    settings = tmp_path / "tailor.toml"
    settings.write_text(
        f"""\
[serve]
model_dir = "{store.root}"
port = {port}
redis_url = "{SHARED_REDIS}"
key_prefix = "{prefix}"
event_log_url = "{SHARED_REDIS}?stream={stream}&group=tailor"

[stream]
snapshot_every_s = 600
"""
    )
    server = _start("serve", settings, tmp_path / "serve.log")
    consumer = _start("stream", settings, tmp_path / "stream.log")
    try:
        deadline = time.monotonic() + 60
        while True:  # both up: the server answers, the consumer has opened the store
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert consumer.poll() is None, (tmp_path / "stream.log").read_text()
            assert time.monotonic() < deadline, "serve or stream did not start in 60 s"
            try:
                ready = _call(port, "/health/ready")[0] == 200
            except OSError:
                ready = False
            if ready and "stream_opened" in (tmp_path / "stream.log").read_text():
                break
            time.sleep(0.1)

        # the consumer's first micro-batch loads numba and compiles: warm it up on u6 first
        buy_top(port, "u6", within_s=60.0)
        assert buy_top(port, "u0", within_s=FRESH_WITHIN_S) < FRESH_WITHIN_S
    finally:
        for proc in (consumer, server):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in (consumer, server):
            try:
                codes.append(proc.wait(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
    assert codes == [0, 0], (tmp_path / "stream.log").read_text()[-2000:]
    snapshots = [v for v in store.versions() if v != base]
    assert snapshots == [f"{base}.s1"] and store.active() == snapshots[0]
    meta = json.loads((store.path(snapshots[0]) / STREAM_FILE).read_text())
    assert meta["base_version"] == base and meta["position"]  # the purchase is in it
