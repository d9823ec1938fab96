"""Several servers behind one Redis: throughput from 1 to 4 processes, a version switch under load.

Set-up: two ALS versions (64 factors, seeds 1 and 2, so their lists differ) fitted on Online
Retail and published into one registry root; a private redis-server on a free port (the shared
one is never touched); v1 active. For each layout:

- ``workers N``: one ``tailor serve --workers N`` (uvicorn's supervisor, one shared socket);
- ``processes N``: N separate ``tailor serve`` processes, each on its own port, all on one Redis.

every server starts with ``--warm`` (each version's lists precomputed under its own keys before
it serves). Then, for ``--seconds``: ``hey`` at full speed (closed loop, ``--connections`` per
port, cache hits for one user) on every port, and a checker that asks for a sample of users
round-robin over the ports and keeps every answer (its source too: a ``fallback`` answer,
popular items when scoring ran out of its time budget, is counted apart). A third of the way,
``tailor serve activate v2`` moves the registry's pointer; servers poll it every
``reload_poll_s`` (2 s), and the checker goes on until every port has answered from v2.

Checked per layout: no answer other than 200 (hey's status counts and the checker's), every
checked answer is a whole version (its items are exactly that version's list for that user, as
the pipeline's batch path computes it offline, and ``model_version`` names it), no answer from
v1 once a v2 answer was seen on the same port plus the poll interval, and for ``workers N`` one
``/metrics`` scrape counts every request of every worker (the counts sum over processes).

    .venv/bin/python bench/scale/servers.py [--seconds 10] [--layouts workers:1,workers:2,...]

Writes ``bench/results/scale_servers.json``.
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
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "serving"))
from run import TAILOR, Redis, free_port, read_online_retail, stop, wait_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scale_servers.json"
LAYOUTS = "workers:1,workers:2,workers:4,processes:2,processes:4"
POLL_S = 2.0


def fit_versions(work: Path) -> tuple[Path, list[str], dict[str, dict[str, list[str]]]]:
    """Two ALS versions in a registry root; the users and each version's expected top 10."""
    from tailor.data.dataset import Dataset
    from tailor.models import Popularity, create_model
    from tailor.pipeline.core import Pipeline, Query

    data = Dataset.from_frame(read_online_retail())
    registry = work / "registry"
    users = data.users.ids[:: max(len(data.users) // 300, 1)].tolist()
    expected: dict[str, dict[str, list[str]]] = {}
    for seed, version in ((1, "v1"), (2, "v2")):
        folder = work / version
        create_model("als", {"factors": 64, "iterations": 15, "seed": seed}).fit(data).save(folder)
        Popularity().fit(data).save(folder / "popularity")
        recs = Pipeline.from_model_dir(folder).recommend(users, Query(n=10)).recs
        expected[version] = recs.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()
        subprocess.run(
            [TAILOR, "serve", "publish", "--registry", str(registry), str(folder),
             "--version", version, *(["--activate"] if version == "v1" else [])],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return registry, users, expected


def start(registry: Path, redis_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TAILOR_SCORING_THREADS": "1", "TAILOR_RELOAD_POLL_S": str(POLL_S)}
    proc = subprocess.Popen(
        [TAILOR, "serve", "--model-dir", str(registry), "--redis", redis_url, "--port", str(port),
         "--workers", str(workers), "--warm"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} not ready within 120 s")


class Checker(threading.Thread):
    """Asks for sample users round-robin over the ports until stopped; keeps every answer."""

    def __init__(self, ports: list[int], users: list[str]) -> None:
        super().__init__(daemon=True)
        self.ports, self.users = ports, users
        # (time, port index, user, status, model_version, items, source)
        self.answers: list[tuple[float, int, str, int, str | None, list[str], str]] = []
        self.stopped = threading.Event()

    def saw_v2_everywhere(self) -> bool:
        return {a[1] for a in self.answers if a[4] == "v2"} == set(range(len(self.ports)))

    def first_v2_after(self, switched: float) -> list[float | None]:
        """Per port: seconds from the activation command's return to its first v2 answer."""
        first = {}
        for t, port, _user, _status, version, *_ in self.answers:
            if version == "v2":
                first.setdefault(port, round(t - switched, 2))
        return [first.get(p) for p in range(len(self.ports))]

    def run(self) -> None:
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=5) for p in self.ports]
        k = 0
        while not self.stopped.is_set():
            port, user = k % len(self.ports), self.users[k % len(self.users)]
            try:
                r = clients[port].get(f"/v1/recommendations/{user}", params={"n": 10})
                body = r.json() if r.status_code == 200 else {}
                items = [i["item_id"] for i in body.get("items", [])]
                version, source = body.get("model_version"), body.get("source", "")
                self.answers.append(
                    (time.monotonic(), port, user, r.status_code, version, items, source)
                )
            except httpx.HTTPError as exc:
                self.answers.append((time.monotonic(), port, user, 0, repr(exc), [], "error"))
            k += 1
        for c in clients:
            c.close()


def check(checker: Checker, expected: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    bad_status = sum(1 for a in checker.answers if a[3] != 200)
    mixed = 0
    examples: list[dict[str, Any]] = []
    unknown_version = 0
    stale = 0
    first_v2: dict[int, float] = {}
    fallback = 0
    for t, port, user, status, version, items, source in checker.answers:
        if status != 200:
            continue
        if source == "fallback":  # popular items: the model ran out of its time budget
            fallback += 1
            continue
        if version not in expected:
            unknown_version += 1
            continue
        if items != expected[version].get(user):
            mixed += 1
            if len(examples) < 3:
                examples.append({"user": user, "version": version, "got": items,
                                 "expected": expected[version].get(user)})  # fmt: skip
        if version == "v2":
            first_v2.setdefault(port, t)
        elif port in first_v2 and t > first_v2[port] + POLL_S + 1:
            stale += 1
    versions = [a[4] for a in checker.answers if a[3] == 200]
    return {
        "checked": len(checker.answers),
        "non_200": bad_status,
        "fallback": fallback,
        "not_a_whole_version": mixed,
        "unknown_version": unknown_version,
        "v1_after_v2_on_a_port": stale,
        "answers_v1": versions.count("v1"),
        "answers_v2": versions.count("v2"),
        "examples": examples,
    }


def redis_per_list(port: int) -> dict[str, Any]:
    """Memory of the cached lists in Redis: MEMORY USAGE of every list key, and INFO's total."""
    import redis

    client = redis.Redis(port=port)
    keys = list(client.scan_iter(match="*:recs:*", count=1000))
    usage = [int(client.memory_usage(k) or 0) for k in keys]
    info = client.info("memory")
    client.close()
    return {
        "lists": len(keys),
        "bytes_per_list_mean": round(sum(usage) / max(len(usage), 1), 1),
        "bytes_per_list_max": max(usage, default=0),
        "used_memory_bytes": info["used_memory"],
    }


def scraped_requests(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    route = r'route="/v1/recommendations/\{[^"]*\}"'
    pattern = r"tailor_serving_request_seconds_count\{[^}]*" + route + r"[^}]*\}\s+([\d.e+]+)"
    return sum(float(v) for v in re.findall(pattern, text))


def run_layout(
    kind: str, n: int, registry: Path, redis: Redis, users: list[str], expected: Any, args: Any
) -> dict[str, Any]:
    url = f"redis://127.0.0.1:{redis.port}/0"
    subprocess.run(
        ["redis-cli", "-p", str(redis.port), "flushall"], check=True, capture_output=True
    )
    subprocess.run([TAILOR, "serve", "activate", "--registry", str(registry), "v1"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    ports = [free_port() for _ in range(1 if kind == "workers" else n)]
    workers = n if kind == "workers" else 1
    servers = [start(registry, url, p, workers) for p in ports]
    try:
        checker = Checker(ports, users)
        checker.start()
        results: list[dict[str, Any]] = []
        threads = [
            threading.Thread(
                target=lambda p=p: results.append(
                    hey_full(f"http://127.0.0.1:{p}/v1/recommendations/{users[0]}?n=10", args)
                )
            )
            for p in ports
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(args.seconds / 3)
        activate = [TAILOR, "serve", "activate", "--registry", str(registry), "v2"]
        subprocess.run(activate, check=True, stdout=subprocess.DEVNULL)
        switched_at = time.monotonic() - t0
        for t in threads:
            t.join()
        # keep checking until every port answers from v2 (poll + load + warm), at most 120 s
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not checker.saw_v2_everywhere():
            time.sleep(0.5)
        time.sleep(POLL_S)
        checker.stopped.set()
        checker.join()
        sent = sum(r["requests"] for r in results) + len(checker.answers)
        scraped = scraped_requests(ports[0]) if kind == "workers" else None
        return {
            "layout": f"{kind} {n}",
            "requests_per_s": round(sum(r["requests_per_s"] for r in results), 1),
            "hey": results,
            "switch_at_s": round(switched_at, 2),
            "first_v2_after_switch_s": checker.first_v2_after(t0 + switched_at),
            "check": check(checker, expected),
            "requests_sent": sent,
            "requests_in_metrics": scraped,
            "redis": redis_per_list(redis.port),
            "load_after": round(os.getloadavg()[0], 2),
        }
    finally:
        for s in servers:
            stop(s)


def hey_full(url: str, args: Any) -> dict[str, Any]:
    """hey at full speed (closed loop, no rate cap) for --seconds: throughput, p50/p99, statuses."""
    cmd = ["hey", "-z", f"{args.seconds}s", "-c", str(args.connections), url]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    statuses = {code: int(k) for code, k in re.findall(r"\[(\d+)\]\s+(\d+) responses", text)}
    quantiles = dict(re.findall(r"(\d+)% in ([\d.]+) secs", text))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    return {
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "p50_ms": float(quantiles.get("50", "nan")) * 1000,
        "p99_ms": float(quantiles.get("99", "nan")) * 1000,
        "statuses": statuses,
        "requests": sum(statuses.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--layouts", default=LAYOUTS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("hey is needed (apt-get install -y hey)")
    work = Path(tempfile.mkdtemp(prefix="tailor-bench-servers-"))
    redis = Redis(free_port())
    redis.start()
    try:
        registry, users, expected = fit_versions(work)
        rows = []
        for layout in args.layouts.split(","):
            kind, n = layout.split(":")
            row = run_layout(kind, int(n), registry, redis, users, expected, args)
            print(json.dumps({k: v for k, v in row.items() if k != "hey"}), flush=True)
            rows.append(row)
    finally:
        redis.kill()
        shutil.rmtree(work, ignore_errors=True)
    payload = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "connections_per_port": args.connections,
        "seconds": args.seconds,
        "layouts": rows,
    }
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
