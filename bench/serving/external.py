"""Cache-hit latency measured by an external load generator, `hey` (Debian: apt-get install hey):
1,000 req/s (20 connections x 50 req/s each) for --seconds against one uvicorn worker whose lists
were precomputed into a private redis-server. Writes bench/results/serving_external.json (or
--out), with the server's CPU time per request and the machine's load average around each run.

How hey loads the server: each connection is closed-loop (a slow answer delays that
connection's next request) and paced by its own ticker of 1/q seconds, and all tickers start
together, so the requests arrive in bursts of ``-c`` at once every 1/q seconds (20 requests
within about 0.5 ms every 20 ms by default), not spread over the second. A request's latency is
then mostly the time the server needs for the burst ahead of it: fewer connections at a higher
rate each (``--connections 10``: bursts of 10 every 10 ms) is a gentler load at the same
1,000 req/s. Latency is counted from when hey sent the request, not from when it was due.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from run import (
    TAILOR,
    WARM_ENV,
    Redis,
    build_model,
    cpu_seconds,
    free_port,
    start_server,
    stop,
    warmup,
)

RESULTS = Path(__file__).parents[1] / "results" / "serving_external.json"


def hey(
    url: str, seconds: float, connections: int, prefix: list[str], server_pid: int
) -> dict[str, Any]:
    """One hey run: its summary, the server's CPU time per answered request, load averages."""
    rate = max(1, round(1000 / connections))  # hey's -q is per connection
    load_before = os.getloadavg()
    cpu_before = cpu_seconds(server_pid)
    out = subprocess.run(
        [*prefix, "hey", "-z", f"{seconds}s", "-c", str(connections), "-q", str(rate), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu = cpu_seconds(server_pid) - cpu_before
    pct = {f"p{p}_ms": float(s) * 1000 for p, s in re.findall(r"(\d+)% in ([\d.]+) secs", out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    answered = sum(int(n) for n in codes.values())
    return {
        "requests_per_s": rps,
        **pct,
        "statuses": codes,
        "server_cpu_ms_per_request": round(1000 * cpu / max(answered, 1), 3),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--connections", type=int, default=20, help="hey -c; each sends 1000/c req/s (-q)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
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
        warm = [TAILOR, "serve", "warm", "--model-dir", str(workdir / "model"), "--redis", url]
        subprocess.run(warm, check=True, stdout=subprocess.DEVNULL, env=WARM_ENV)
        port = free_port()
        server = start_server(workdir / "model", url, port, prefix=server_cpu)
        try:
            warmup(port, users)
            target = f"http://127.0.0.1:{port}/v1/recommendations/{users[0]}?n=10"
            runs = [
                hey(target, args.seconds, args.connections, other_cpu, server.pid)
                for _ in range(args.repeat)
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
    command = "python bench/serving/external.py " + " ".join(sys.argv[1:])
    result = {"command": command, "load": load, "machine_load": os.getloadavg(), "runs": runs}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
