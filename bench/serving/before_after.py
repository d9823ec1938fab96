"""Cache hits under hey, two versions of the code interleaved on the same machine and load.

Exports ``src/`` of ``--before`` (default: the commit before the fast path and the coalesced
Redis reads) and of ``--after`` (default: HEAD) with ``git archive``, then runs
``external.py`` (hey, one uvicorn worker, a private redis-server) with each on ``PYTHONPATH``,
alternating before/after ``--rounds`` times, so a busy machine slows both alike. Writes
``bench/results/serving_fastpath_ab.json``: every run's latency percentiles, the server's CPU
time per request and the load averages.

    python bench/serving/before_after.py --rounds 2 --seconds 8 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench/results/serving_fastpath_ab.json"
BEFORE = "d9d9499"
"""The last commit before serving/fastpath.py and cache.CoalescedGets."""


def export(rev: str, into: Path) -> Path:
    """``src/`` of ``rev`` under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure(src: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """external.py with ``src`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(ROOT / "bench/serving/external.py"), "--seconds",
               str(args.seconds), "--repeat", str(args.repeat), "--connections",
               str(args.connections), "--out", str(out)]  # fmt: skip
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="tailor-ab-") as tmp:
        trees = {
            "before": export(args.before, Path(tmp) / "before"),
            "after": export(args.after, Path(tmp) / "after"),
        }
        for _ in range(args.rounds):
            for name, src in trees.items():
                result = measure(src, args, Path(tmp) / f"{name}.json")
                runs[name].extend(result["runs"])
                print(name, json.dumps(result["runs"]), flush=True)
    summary = {
        name: {
            "server_cpu_ms_per_request": [r["server_cpu_ms_per_request"] for r in rs],
            "p50_ms": [round(r["p50_ms"], 2) for r in rs],
            "p99_ms": [round(r["p99_ms"], 2) for r in rs],
        }
        for name, rs in runs.items()
    }
    result = {
        "command": "python bench/serving/before_after.py " + " ".join(sys.argv[1:]),
        "before": args.before,
        "after": args.after,
        "load": f"hey -c {args.connections} -q {round(1000 / args.connections)}, one worker",
        "summary": summary,
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
