"""``tailor serve --workers 2``: /metrics aggregates every worker, whichever one answers it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tailor.testing.serving import write_model_dir

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    # a new connection each time, so the kernel hands requests to either worker
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def _sample_sum(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def _per_worker(tmp_path: Path, kind: str, *parts: str) -> dict[str, float]:
    """The sum of one metric's values per worker process, read from each worker's own file
    (``{kind}_{pid}.db``) in the metrics folder: the ground truth of who answered what (the
    files hold histogram buckets uncumulated, so their sum is the count)."""
    from prometheus_client.mmap_dict import MmapedDict

    (folder,) = tmp_path.glob("tailor-metrics-*")
    out = {}
    for path in folder.glob(f"{kind}_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))
        out[path.stem] = sum(v for key, v, *_ in values if all(p in key for p in parts))
    return out


def test_metrics_sum_over_workers(tmp_path: Path) -> None:
    model = write_model_dir(tmp_path / "model")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAILOR_", "PROMETHEUS_"))}
    env["TMPDIR"] = str(tmp_path)  # where tailor serve creates its metrics folder
    command = [sys.executable, "-c", "from tailor.cli import main; main()", "serve"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--model-dir", str(model), "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(f"{base}/health/ready")[0] == 200:
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "tailor serve did not start"
                time.sleep(0.2)
        time.sleep(1.0)  # the second worker's start-up (a request waits for a worker anyway)
        for k in range(20):
            status, _ = _get(f"{base}/v1/recommendations/u{k % 12}?n=3")
            assert status == 200
        answers = _per_worker(tmp_path, "counter", "tailor_serving_answers_total")
        assert len(answers) == 2 and sum(answers.values()) == 20.0, answers
        # scrape until both workers have answered a scrape (the kernel picks the worker): each
        # answer holds all 20, including those of a worker that answered none of the 20
        scrapes: dict[str, float] = {}
        for _ in range(200):
            if len(scrapes) == 2 and min(scrapes.values()) > 0:
                break
            _, text = _get(f"{base}/metrics")
            assert _sample_sum(text, "tailor_serving_answers_total") == 20.0
            route = 'route="/v1/recommendations/{user_id}",status="200"'
            count = re.search(
                rf"^tailor_serving_request_seconds_count{{{route}}} (\S+)$", text, re.M
            )
            assert count is not None and float(count.group(1)) == 20.0
            hits = _sample_sum(text, 'tailor_serving_cache_lookups_total{result="hit"}')
            lookups = _sample_sum(text, "tailor_serving_cache_lookups_total")
            assert lookups == 20.0
            ratio = re.search(r"^tailor_serving_cache_hit_ratio (\S+)$", text, re.M)
            assert ratio is not None and float(ratio.group(1)) == pytest.approx(hits / 20)
            model_info = re.findall(r"^tailor_serving_model_info{.*} (\S+)$", text, re.M)
            assert model_info == ["1.0"]
            scrapes = _per_worker(tmp_path, "histogram", '"/metrics"', "_bucket")
        assert len(scrapes) == 2 and min(scrapes.values()) > 0, (answers, scrapes)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert not list(tmp_path.glob("tailor-metrics-*")), "the metrics folder is removed at exit"
