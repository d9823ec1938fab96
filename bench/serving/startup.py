"""Serve start-up time: from starting ``tailor serve`` to the first ``/health/ready`` 200.

Builds (once, cached under ``--model-dir``) a demo-like model directory: EASE (defaults) fitted
on the bundled Online Retail data as ``tailor data prepare`` cleans it (4,339 users, 3,665 items),
with ``popularity/`` and ``items.parquet``, exactly what ``tailor fit`` writes. Then, ``--runs``
times, starts ``tailor serve --model-dir DIR --port P`` as a fresh process
(memory:// cache) and polls ``/health/ready`` every 5 ms until it answers 200; the wall time from
``Popen`` to that answer is one sample, and the server process's CPU time until then another
(user + system from /proc: it does not depend on what else the machine runs). Also times
``import tailor.serving.app`` alone in a fresh process and lists which heavy modules that import
loads.

Before/after comparisons run the same script with ``PYTHONPATH`` pointing at another source tree
(``git archive`` of the older commit): the child processes inherit it.

    .venv/bin/python bench/serving/startup.py [--runs 7] [--label after] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parents[1] / "results" / "serving_startup.json"
HEAVY = (
    "numba",
    "implicit",
    "plotly",
    "scipy.stats",
    "sklearn",
    "hnswlib",
    "tailor.evaluation",
    "tailor.models._mf_kernels",
    "tailor.models._sparse_kernels",
    "tailor.models.mf_sgd",
    "tailor.models.implicit_models",
    "tailor.models.knn",
    "tailor.models.ease",
)


def build_model_dir(path: Path) -> Path:
    """EASE on the cleaned Online Retail data, as ``tailor fit --model ease`` writes it."""
    if (path / "manifest.json").is_file():
        return path
    from tailor.data.prepare import prepare
    from tailor.models.model_dir import fit_model_dir

    prepared, _ = prepare("online-retail")
    fit_model_dir(prepared.interactions, "ease", {}, path, items=prepared.items, force=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/health/ready")
        status = conn.getresponse().status
        conn.close()
        return status == 200
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(model_dir: Path, timeout_s: float = 120.0) -> tuple[float, float]:
    """Seconds from Popen to the first ready 200, and the server's CPU seconds until then
    (independent of what else the machine runs)."""
    port = free_port()
    entry = "import sys; from tailor.cli import main; main(sys.argv[1:])"
    cmd = [sys.executable, "-c", entry, "serve", "--model-dir", str(model_dir)]
    cmd += ["--port", str(port)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout_s:
            if ready(port):
                return time.perf_counter() - start, cpu_seconds(proc.pid)
            if proc.poll() is not None:
                raise RuntimeError(f"tailor serve exited with {proc.returncode}")
            time.sleep(0.005)
        raise RuntimeError("not ready in time")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def import_cost() -> dict[str, Any]:
    """Wall time of ``import tailor.serving.app`` in a fresh process and the heavy modules it
    loaded."""
    code = (
        "import sys, time, json; t = time.perf_counter(); import tailor.serving.app; "
        "s = time.perf_counter() - t; "
        f"print(json.dumps([s, sorted(m for m in {HEAVY!r} if m in sys.modules)]))"
    )
    samples, loaded = [], []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        seconds, loaded = json.loads(out.stdout)
        samples.append(seconds)
    return {"import_s_best": round(min(samples), 3), "heavy_modules_loaded": loaded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--label", default="after")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/tailor-startup-model"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    model_dir = build_model_dir(args.model_dir)
    one_start(model_dir)  # warm the page cache and numba's on-disk cache
    pairs = [one_start(model_dir) for _ in range(args.runs)]
    samples = [wall for wall, _ in pairs]
    cpu = [c for _, c in pairs]
    import tailor

    result = {
        "tailor_source": str(Path(tailor.__file__).parent),
        "model": "ease on online-retail (prepared), tailor fit layout",
        "runs": args.runs,
        "ready_s_best": round(min(samples), 3),
        "ready_s_median": round(statistics.median(samples), 3),
        "ready_s_samples": [round(s, 3) for s in samples],
        "ready_cpu_s_best": round(min(cpu), 3),
        "ready_cpu_s_median": round(statistics.median(cpu), 3),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        **import_cost(),
    }
    stored = json.loads(args.out.read_text()) if args.out.is_file() else {}
    stored[args.label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stored, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
