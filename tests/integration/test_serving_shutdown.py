"""A real ``tailor serve`` process: SIGTERM drains every request already sent, then exits 0; a
broken model folder starts, answers from the fallback and says why on /health/ready."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
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


def _start(model: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``tailor serve --model-dir MODEL`` on a free port, once it answers /health/live."""
    port = _free_port()
    env = {**os.environ, "TAILOR_SHUTDOWN_GRACE_S": str(GRACE_S)}
    env = {k: v for k, v in env.items() if k not in ("TAILOR_SETTINGS_FILE", "TAILOR_REDIS_URL")}
    command = [sys.executable, "-c", "from tailor.cli import main; main()", "serve"]
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
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1):
                return proc, port
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "tailor serve did not start"
            time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = _start(write_model_dir(tmp_path / "model"), tmp_path / "serve.log")
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


def test_broken_model_folder_starts_and_says_why(tmp_path: Path) -> None:
    """Today a truncated params.npz stopped ``tailor serve`` at start-up with a traceback."""
    model = write_model_dir(tmp_path / "model")
    raw = (model / "params.npz").read_bytes()
    (model / "params.npz").write_bytes(raw[: len(raw) // 2])
    log = tmp_path / "serve.log"
    proc, port = _start(model, log)
    try:
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/v1/recommendations/u0?n=2", timeout=5) as r:
            body = json.loads(r.read())
        assert (body["source"], [i["item_id"] for i in body["items"]]) == ("fallback", ["i0", "i4"])
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}/health/ready", timeout=5)
        assert info.value.code == 503
        reason = json.loads(info.value.read())["reason"]
        assert reason == "model: params.npz is truncated or corrupt (BadZipFile)"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GRACE_S + 5) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
