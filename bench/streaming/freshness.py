"""Freshness: from ``POST /v1/events`` to a changed answer from ``GET /v1/recommendations``.

The model: RecencyEASE (defaults) fitted on the whole cleaned Online Retail data (what
``tailor data prepare online-retail`` + ``tailor fit --model recency-ease`` make), published
into a model store. Two set-ups, each a real ``tailor serve`` (uvicorn) on a free loopback port:

* ``embedded``: one process, ``[serve] stream = true``, the SQLite event log
  (``sqlite:////abs/path.db``) and the in-process ``memory://`` cache;
* ``redis``: ``tailor serve`` with the shared Redis as cache (a unique ``key_prefix``) and the
  log on a Redis stream (a unique stream name), plus a separate ``tailor stream`` process.

One trial, for a known customer not used before: ``GET`` the list until it is answered from the
cache (the first GET scores live and writes the list back), ``POST`` one purchase of the list's
top item, then ``GET`` every 10 ms until the list no longer holds that item (the consumer folded
the purchase in and rewrote the cached list; seen items are never recommended). The time from
sending the POST to that answer is one sample.

    .venv/bin/python bench/streaming/freshness.py [--trials 200] [--setups embedded,redis]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from _common import (
    TAILOR,
    Client,
    free_port,
    load,
    machine,
    percentiles,
    process,
    server,
    write_results,
    write_settings,
    write_store,
)

POLL_S = 0.010
TIMEOUT_S = 10.0
REDIS = "redis://127.0.0.1:6379/0"


def items_of(body: bytes) -> tuple[list[str], str]:
    data = orjson.loads(body)
    return [entry["item_id"] for entry in data["items"]], data["source"]


def trial(client: Client, user: str, k: int, stamp: int, run: str) -> dict[str, Any]:
    path = f"/v1/recommendations/{user}?n=10"
    source = ""
    for _ in range(50):  # until the list is the cached one (write-back is asynchronous)
        status, body = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        items, source = items_of(body)
        if source == "cache":
            break
        time.sleep(POLL_S)
    if not items:
        return {"user": user, "skipped": "empty list"}
    top = items[0]
    event = {
        "event_id": f"{run}-{k}",
        "user_id": user,
        "item_id": top,
        "type": "purchase",
        "timestamp": stamp,
        "value": 1.0,
    }
    payload = orjson.dumps({"events": [event]})
    start = time.perf_counter()
    status, body = client.request("POST", "/v1/events", payload)
    posted = time.perf_counter() - start
    if status != 202:
        raise RuntimeError(f"POST /v1/events: {status} {body[:200]!r}")
    polls = 0
    while True:
        status, body = client.request("GET", path)
        polls += 1
        elapsed = time.perf_counter() - start
        now_items, now_source = items_of(body)
        if top not in now_items:
            return {
                "user": user,
                "seconds": elapsed,
                "post_s": posted,
                "polls": polls,
                "warm_source": source,
                "changed_source": now_source,
            }
        if elapsed > TIMEOUT_S:
            return {"user": user, "timeout": True, "seconds": elapsed, "polls": polls}
        time.sleep(POLL_S)


def run_trials(port: int, users: list[str], stamp0: int, run: str) -> dict[str, Any]:
    client = Client(port)
    rows = []
    load_before = machine()["load_avg"]
    start = time.perf_counter()
    try:
        for k, user in enumerate(users):
            rows.append(trial(client, user, k, stamp0 + k, run))
    finally:
        client.close()
    seconds = [r["seconds"] for r in rows if "seconds" in r and not r.get("timeout")]
    timeouts = sum(1 for r in rows if r.get("timeout"))
    return {
        "freshness_s": percentiles(seconds) if seconds else None,
        "post_s": percentiles([r["post_s"] for r in rows if "post_s" in r]),
        "timeouts": timeouts,
        "skipped": sum(1 for r in rows if "skipped" in r),
        "changed_sources": sorted({r.get("changed_source", "") for r in rows} - {""}),
        "wall_s": round(time.perf_counter() - start, 1),
        "load_before": load_before,
        "load_after": machine()["load_avg"],
        "trials": rows,
    }


def embedded(store: Path, work: Path, users: list[str], stamp0: int) -> dict[str, Any]:
    port = free_port()
    db = (work / "events.db").resolve()
    settings = write_settings(
        work / "embedded.toml",
        {
            "serve": {
                "model_dir": store,
                "port": port,
                "redis_url": "memory://",
                "event_log_url": f"sqlite:///{db}",
                "stream": True,
            }
        },
    )
    with server(settings, port, work / "serve-embedded.log"):
        result = run_trials(port, users, stamp0, f"fresh-emb-{uuid.uuid4().hex[:8]}")
    result["setup"] = {
        "processes": "one tailor serve (uvicorn, 1 worker) with the consumer in a thread",
        "event_log_url": "sqlite:////ABS/events.db",
        "cache": "memory://",
    }
    return result


def redis_setup(store: Path, work: Path, users: list[str], stamp0: int) -> dict[str, Any]:
    import redis

    port = free_port()
    tag = uuid.uuid4().hex[:10]
    prefix, stream = f"bench-fresh-{tag}", f"bench-fresh-{tag}:events"
    log_url = f"{REDIS}?stream={stream}&group=g"
    settings = write_settings(
        work / "redis.toml",
        {
            "serve": {
                "model_dir": store,
                "port": port,
                "redis_url": REDIS,
                "key_prefix": prefix,
                "event_log_url": log_url,
            }
        },
    )
    client = redis.Redis.from_url(REDIS)
    try:
        with (
            server(settings, port, work / "serve-redis.log"),
            process(
                [str(TAILOR), "stream", "--config", str(settings), "--quiet"],
                work / "stream-redis.log",
            ) as consumer,
        ):
            wait_consumer(work / "stream-redis.log", consumer)
            result = run_trials(port, users, stamp0, f"fresh-redis-{tag}")
    finally:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        keys += [stream, f"{stream}:dead", f"{stream}:dead:ids"]
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
    result["setup"] = {
        "processes": "tailor serve (uvicorn, 1 worker) + tailor stream",
        "event_log_url": "redis://127.0.0.1:6379/0?stream=bench-fresh-<random>:events&group=g",
        "cache": "redis://127.0.0.1:6379/0, key_prefix bench-fresh-<random>",
    }
    return result


def wait_consumer(log: Path, proc: Any, timeout_s: float = 120.0) -> None:
    """Until ``tailor stream`` has opened the store (it prints nothing with --quiet, so wait
    for its process to have loaded: a fixed pause after start, checked alive)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tailor stream exited with {proc.returncode}: {log.read_text()}")
        if "stream_opened" in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"tailor stream did not open in {timeout_s} s: see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--setups", default="embedded,redis")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    setups = [s for s in args.setups.split(",") if s]

    data = load("online-retail")
    with tempfile.TemporaryDirectory(prefix="tailor-fresh-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        fit_s = write_store(work / "store-base", data.interactions, data.items)
        print(f"recency-ease on Online Retail: fitted in {fit_s:.1f} s", file=sys.stderr)
        counts = data.interactions.groupby("user_id").size()
        eligible = np.sort(counts[counts >= 5].index.to_numpy().astype(str))
        rng = np.random.default_rng(args.seed)
        users = [str(u) for u in rng.choice(eligible, size=args.trials, replace=False)]
        stamp0 = int(data.interactions["timestamp"].max().timestamp()) + 60
        results: dict[str, Any] = {}
        for setup in setups:
            store = work / f"store-{setup}"
            shutil.copytree(work / "store-base", store)
            run = embedded if setup == "embedded" else redis_setup
            results[setup] = run(store, work, users, stamp0)
            fresh = results[setup]["freshness_s"]
            print(f"{setup}: {json.dumps(fresh)}", file=sys.stderr)
        payload = {
            "benchmark": "freshness: POST /v1/events -> changed GET /v1/recommendations/{user}",
            "command": "python bench/streaming/freshness.py " + shlex.join(argv or sys.argv[1:]),
            "model": "recency-ease (defaults) on the whole cleaned Online Retail data",
            "fit_s": round(fit_s, 2),
            "trials": args.trials,
            "poll_ms": POLL_S * 1000,
            "target_p95_s": 1.0,
            "users": "distinct customers with >= 5 interactions, seeded choice",
            "machine": machine(),
            "setup_s": round(time.perf_counter() - t0, 1),
            "results": results,
        }
    path = write_results("freshness", payload)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
