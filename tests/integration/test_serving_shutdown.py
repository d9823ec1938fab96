"""A real ``tailor serve`` process: SIGTERM drains every request already sent, then exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailor.testing.serving import write_model_dir

pytestmark = pytest.mark.integration

GRACE_S = 10
CONCURRENT = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    env = {**os.environ, "TAILOR_SHUTDOWN_GRACE_S": str(GRACE_S)}
    env = {k: v for k, v in env.items() if k not in ("TAILOR_SETTINGS_FILE", "TAILOR_REDIS_URL")}
    model = write_model_dir(tmp_path / "model")
    command = [sys.executable, "-c", "from tailor.cli import main; main()", "serve"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--model-dir", str(model), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1):
                break
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "tailor serve did not become ready"
            time.sleep(0.1)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def _send_all_then_read(port: int, pid: int) -> list[tuple[int, dict[str, object]]]:
    """Open CONCURRENT connections, send one slow-ish request on each (100 users scored live),
    SIGTERM the server once every request is on the wire, then read every answer."""
    body = json.dumps({"user_ids": [f"u{k % 12}" for k in range(100)], "exclude_seen": False})
    request = (
        f"POST /v1/recommendations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    ).encode()
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONCURRENT)]
    for _, writer in streams:
        writer.write(request)
    await asyncio.gather(*(writer.drain() for _, writer in streams))
    os.kill(pid, signal.SIGTERM)
    ready = await _ready_while_draining(port)

    async def read(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
        try:
            raw = await asyncio.wait_for(reader.read(), GRACE_S + 5)  # until the server closes
        except ConnectionError:
            return 0, {}
        head, _, payload = raw.partition(b"\r\n\r\n")
        if not head:
            return 0, {}  # the connection was dropped without an answer
        return int(head.split()[1]), json.loads(payload)

    answers = await asyncio.gather(*(read(reader) for reader, _ in streams))
    for _, writer in streams:
        writer.close()
    return [*answers, await ready]


async def _ready_while_draining(port: int) -> asyncio.Task[tuple[int, dict[str, object]]]:
    """GET /health/ready sent after the SIGTERM: still answered, 503 "shutting down"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health/ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    await writer.drain()

    async def read() -> tuple[int, dict[str, object]]:
        raw = await asyncio.wait_for(reader.read(), GRACE_S + 5)
        head, _, payload = raw.partition(b"\r\n\r\n")
        writer.close()
        return int(head.split()[1]), json.loads(payload)

    return asyncio.create_task(read())


def test_sigterm_drains_every_request_in_flight(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = server
    start = time.monotonic()
    *answers, ready = asyncio.run(_send_all_then_read(port, proc.pid))
    assert [status for status, _ in answers] == [200] * CONCURRENT
    assert all(len(body["results"]) == 100 for _, body in answers)  # type: ignore[arg-type]
    assert ready == (
        503,
        {
            "status": "unavailable",
            "checks": {"model": True, "fallback": True, "cache": True},
            "reason": "shutting down",
        },
    )
    assert proc.wait(timeout=GRACE_S + 5) == 0
    assert time.monotonic() - start < GRACE_S
