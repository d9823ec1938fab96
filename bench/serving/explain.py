"""Latency of ``GET /v1/recommendations/{user}?explain=true`` next to the plain request.

Fits RecencyEASE and ALS (default parameters) on the bundled Online Retail data (``prepare``),
writes ``tailor fit``-shaped folders, starts the app in-process (``memory://`` cache,
``warm_on_start``: plain requests are cache hits; explained ones are the same hit plus the
explanations), then calls the ASGI app one request at a time over ``--requests`` users (every
request a different user, cycling) and records each request's wall time. Reports p50 / p99 /
max in ms, the ``explain_status`` counts, and the machine's load average before and after
(other work on the machine inflates the tails: read them with it).

    .venv/bin/python bench/serving/explain.py [--requests 1000] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from hot_path import call  # the ASGI call of the hot-path benchmark

from tailor.data.prepare import prepare
from tailor.models.model_dir import fit_model_dir
from tailor.serving.app import create_app
from tailor.serving.settings import ServeSettings

RESULTS = Path(__file__).parents[1] / "results" / "serving_explain.json"
MODELS = ("recency-ease", "als")


async def timed(app: Any, users: list[str], query: str, requests: int) -> dict[str, Any]:
    """Wall ms per request (sequential) and the explain_status counts."""
    for user in users[:100]:  # warm-up: code paths, the Gram matrix of ALS
        await call(app, f"/v1/recommendations/{user}", query)
    times, statuses = [], {}
    for k in range(requests):
        start = time.perf_counter()
        status, body = await call(app, f"/v1/recommendations/{users[k % len(users)]}", query)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"status {status}: {body[:200]!r}")
        answer = json.loads(body)
        key = f"{answer['source']}/{answer.get('explain_status', 'plain')}"
        statuses[key] = statuses.get(key, 0) + 1
    ms = np.array(times)
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "answers": statuses,
    }


async def bench_model(name: str, root: Path, frame: Any, requests: int) -> dict[str, Any]:
    folder = root / name
    start = time.perf_counter()
    fit_model_dir(frame, name, {}, folder)
    fit_s = time.perf_counter() - start
    settings = ServeSettings.model_validate(
        {"model_dir": folder, "redis_url": "memory://", "warm_on_start": True}
    )
    app = create_app(settings)
    users = sorted(frame["user_id"].astype(str).unique().tolist())
    users = [users[k] for k in np.random.default_rng(0).permutation(len(users))]
    async with app.router.lifespan_context(app):
        plain = await timed(app, users, "n=10", requests)
        explained = await timed(app, users, "n=10&explain=true", requests)
    return {
        "fit_s": round(fit_s, 1),
        "scoring_budget_ms": settings.scoring_budget_ms,
        "plain": plain,
        "explain": explained,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    frame = prepare("online-retail")[0].interactions
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = {m: await bench_model(m, Path(tmp), frame, args.requests) for m in MODELS}
    return {
        "dataset": "online-retail (bundled, prepare defaults)",
        "requests": args.requests,
        "method": "in-process ASGI calls, one at a time; wall time per request; n=10; "
        "plain = warm cache hit, explain = the same hit plus explanations (top 3)",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        **results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
