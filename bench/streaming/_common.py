"""Shared helpers of the streaming benchmarks: data, model stores, servers, machine load.

Nothing here writes into the repository except the results under ``bench/results``; model
stores, event logs and settings files live in temporary folders.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
ML100K = ROOT.parent / "shared" / "data" / "ml-100k"
"""Read in place (its licence forbids copying it into the project)."""
TAILOR = Path(sys.executable).parent / "tailor"

TEST_START = {"online-retail": "2011-11-09", "ml-100k": "1998-03-07"}
"""First day of each data set's test period: Online Retail as in the README and the demo (the
last 30 days); ML-100K at about its 0.8 time quantile (the last 47 days, 20,001 ratings)."""


@dataclass
class Data:
    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None
    cleaning: Any
    """The source's CleaningConfig: the event rules of the stream are the batch rules."""


def load(name: str) -> Data:
    """``tailor data prepare``'s tables for ``online-retail`` (bundled) or ``ml-100k``."""
    from tailor.data.cleaning import CleaningConfig
    from tailor.data.prepare import prepare
    from tailor.data.sources import get_source

    source = "movielens-100k" if name == "ml-100k" else name
    prepared, _ = prepare(source, ML100K if name == "ml-100k" else None)
    cleaning = CleaningConfig.from_table({}, get_source(source).cleaning_defaults)
    return Data(name, prepared.interactions, prepared.items, cleaning)


def test_period(data: Data) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) at the data set's test start (a global time cut)."""
    times = data.interactions["timestamp"]
    cut = pd.Timestamp(TEST_START[data.name])
    return data.interactions[times < cut], data.interactions[times >= cut]


def event_type(data: Data) -> str:
    return "rating" if data.name == "ml-100k" else "purchase"


def events_of(frame: pd.DataFrame, prefix: str) -> list[dict[str, Any]]:
    """Interaction rows as the JSON events a shop would send, in time order."""
    frame = frame.sort_values("timestamp", kind="stable")
    stamps = frame["timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    out = []
    for k, (user, item, kind, value, stamp) in enumerate(
        zip(
            frame["user_id"].to_numpy(),
            frame["item_id"].to_numpy(),
            frame["event_type"].to_numpy(),
            frame["value"].to_numpy(),
            stamps,
            strict=True,
        )
    ):
        event = {
            "event_id": f"{prefix}-{k}",
            "user_id": str(user),
            "item_id": str(item),
            "type": str(kind),
            "timestamp": int(stamp),
        }
        if value == value:  # not NaN
            event["value"] = float(value)
        out.append(event)
    return out


def write_store(
    root: Path,
    frame: pd.DataFrame,
    items: pd.DataFrame | None,
    model: str = "recency-ease",
    params: Mapping[str, Any] | None = None,
) -> float:
    """A model store at ``root`` whose active version is ``model`` fitted on ``frame`` with its
    popularity fallback (what ``tailor fit`` + ``tailor serve publish --activate`` make).
    Returns the fit's seconds."""
    from tailor.models.model_dir import fit_model_dir
    from tailor.serving.registry import ModelRegistry

    staging = root.parent / f".{root.name}-fit"
    start = time.perf_counter()
    fit_model_dir(frame, model, dict(params or {}), staging, items=items, force=True)
    seconds = time.perf_counter() - start
    root.mkdir(parents=True, exist_ok=True)
    store = ModelRegistry(root)
    store.activate(store.publish(staging))
    shutil.rmtree(staging, ignore_errors=True)
    return seconds


def machine(note: str = "") -> dict[str, Any]:
    """What the numbers ran on, with the load average (shared machine) at this moment."""
    load1, load5, load15 = os.getloadavg()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_avg": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        **({"note": note} if note else {}),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    return json.dumps(value)


def write_settings(path: Path, tables: Mapping[str, Mapping[str, Any]]) -> Path:
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Client:
    """One keep-alive HTTP connection to a local server."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10.0)
            raise

    def close(self) -> None:
        self.conn.close()


def _ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/health/ready")
        status = conn.getresponse().status
        conn.close()
        return status == 200
    except OSError:
        return False


@contextmanager
def process(args: list[str], log: Path, env: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A child process (stdout + stderr to ``log``), terminated (then killed) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextmanager
def server(
    settings: Path, port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """``tailor serve --config SETTINGS`` (real uvicorn) once /health/ready answers 200."""
    with process([str(TAILOR), "serve", "--config", str(settings)], log, env) as proc:
        deadline = time.monotonic() + 120
        while not _ready(port):
            if proc.poll() is not None:
                raise RuntimeError(f"tailor serve exited with {proc.returncode}: see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tailor serve not ready in 120 s: see {log}")
            time.sleep(0.05)
        yield proc


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=float)
    return {
        "n": len(samples),
        "p50": round(float(np.percentile(a, 50)), 4),
        "p95": round(float(np.percentile(a, 95)), 4),
        "max": round(float(a.max()), 4),
        "mean": round(float(a.mean()), 4),
    }


def write_results(name: str, payload: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"streaming_{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
