"""A real ``tailor serve`` (uvicorn subprocess on a free port) over a planted model store and
a planted SQLite event log, for the dashboard and demo-shop tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dashboard_browser import CHROMIUM, Browser
from dashboard_planted import experiment_events, planted_events, write_store

from tailor.streaming.sqlite_log import SqliteEventLog


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """``tailor serve`` on a planted store (v2 = EASE active) and event log, sampling its
    counters every 0.5 s; one per test module (each sees only the planted events and its own).
    A module with ``PLANT_EXPERIMENT = True`` also gets experiment ``ab`` declared and its
    planted events (``experiment_events``)."""
    experiment = getattr(request.module, "PLANT_EXPERIMENT", False)
    base = tmp_path_factory.mktemp("dashboard")
    write_store(base / "store")
    log_path = base / "events.db"
    sink = SqliteEventLog(log_path)
    now = datetime.now(UTC)
    sink.append(planted_events(now) + (experiment_events(now) if experiment else []))
    sink.close()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAILOR_")},
        "TAILOR_MODEL_DIR": str(base / "store"),
        "TAILOR_REDIS_URL": "memory://",
        "TAILOR_EVENT_LOG_URL": f"sqlite:///{log_path}",
        "TAILOR_DASHBOARD_SAMPLE_S": "0.5",
        # the tests compare the page's lists with the API's: no fallback because the shared
        # machine is slow (the budget's own behaviour is tested in tests/serving)
        "TAILOR_SCORING_BUDGET_MS": "5000",
        # the shop sends its own exposures; the server's (experiments) would add lists of the
        # warm-up calls below to the planted ones
        "TAILOR_EXPOSURE_LOG": "off",
    }
    if experiment:
        declared = base / "experiments.toml"
        declared.write_text(
            '[[experiments]]\nname = "ab"\nprimary_metric = "ctr"\n'
            '[[experiments.variants]]\nname = "A"\n[[experiments.variants]]\nname = "B"\n'
        )
        env["TAILOR_EXPERIMENTS_FILE"] = str(declared)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tailor.serving.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=open(base / "server.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((base / "server.log").read_text()[-3000:])
        time.sleep(0.2)
    # first calls compile the model's kernels: warm the similar-items and history paths
    httpx.get(url + "/v1/items/i0/similar?n=6", timeout=30)
    warm = {"user_ids": ["warm-up"], "n": 6, "context": {"cart_items": ["i0"]}}
    httpx.post(url + "/v1/recommendations", json=warm, timeout=30)
    try:
        yield Server(url, base / "store", log_path, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="package")
def chromium(
    tmp_path_factory: pytest.TempPathFactory, require: Callable[[bool, str], None]
) -> Iterator[Browser]:
    """One headless Chromium for the package's page tests."""
    require(CHROMIUM.exists(), "needs Debian's chromium at /usr/bin/chromium (make chromium)")
    shared = Browser(tmp_path_factory.mktemp("chromium"))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[Browser]:
    """The shared Chromium on a blank page with no recorded event (so a test sees only its own
    errors), left on a blank page (no page keeps polling a server that is gone)."""
    chromium.goto("about:blank")
    chromium.events.clear()
    yield chromium
    chromium.goto("about:blank")
