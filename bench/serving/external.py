"""Cache-hit latency measured by an external load generator, `hey` (Debian: apt-get install hey):
1,000 req/s (20 connections x 50 req/s each) for --seconds against one uvicorn worker whose lists
were precomputed into a private redis-server. Writes bench/results/serving_external.json.

`hey` is closed-loop per connection (a slow answer delays that connection's next request), so its
p99 complements run.py's open-loop generator rather than replacing it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import TAILOR, Redis, build_model, free_port, start_server, stop, warmup

RESULTS = Path(__file__).parents[1] / "results" / "serving_external.json"


def hey(url: str, seconds: float, connections: int, prefix: list[str]) -> dict[str, float | int]:
    rate = max(1, round(1000 / connections))  # hey's -q is per connection
    out = subprocess.run(
        [*prefix, "hey", "-z", f"{seconds}s", "-c", str(connections), "-q", str(rate), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pct = {f"p{p}_ms": float(s) * 1000 for p, s in re.findall(r"(\d+)% in ([\d.]+) secs", out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"requests_per_s": rps, **pct, "statuses": codes}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="Run the server on CPU 0 and hey and Redis on CPU 1 (taskset), so the load "
        "generator does not take the server's core",
    )
    args = parser.parse_args()
    server_cpu = ["taskset", "-c", "0"] if args.pin else []
    other_cpu = ["taskset", "-c", "1"] if args.pin else []
    if shutil.which("hey") is None:
        sys.exit("hey is needed (apt-get install -y hey)")
    workdir = Path(tempfile.mkdtemp(prefix="tailor-bench-external-"))
    redis = Redis(free_port(), prefix=other_cpu)
    redis.start()
    try:
        info = build_model(workdir / "model")
        users = info.pop("user_ids")
        url = f"redis://127.0.0.1:{redis.port}/0"
        subprocess.run([TAILOR, "serve", "warm", "--model-dir", str(workdir / "model"),
                        "--redis", url], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        port = free_port()
        server = start_server(workdir / "model", url, port, prefix=server_cpu)
        try:
            warmup(port, users)
            target = f"http://127.0.0.1:{port}/v1/recommendations/{users[0]}?n=10"
            runs = [
                hey(target, args.seconds, args.connections, other_cpu) for _ in range(args.repeat)
            ]
        finally:
            stop(server)
    finally:
        redis.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    rate = max(1, round(1000 / args.connections))
    load = f"hey -c {args.connections} -q {rate} (1,000 req/s), one uvicorn worker"
    if args.pin:
        load += "; server on CPU 0, hey and Redis on CPU 1 (taskset)"
    result = {"load": load, "machine_load": os.getloadavg(), "runs": runs}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
