"""Server CPU per request of the hot paths, in-process: no sockets, no load generator.

Builds a model directory (EASE on a random catalogue of 1,000 items and 2,000 users), starts the
app's lifespan with ``memory://`` or a Redis URL and ``warm_on_start``, then calls the ASGI app
directly ``--requests`` times per scenario and divides the process CPU time by that count. What
is measured is the app's own work (routing, validation, cache read, filters, serialisation,
middleware, metrics); uvicorn's HTTP parsing is not included.

Scenarios: ``cache_hit`` (``/v1/recommendations/{user}?n=10``, precomputed list) and
``live`` (``...&exclude_seen=false``: never cached, scored every time), then
``cache_hit_full_stack`` (the same requests with the app's fast path off: FastAPI's whole
middleware stack and router, as before serving/fastpath.py) and ``cache_hit_again`` (fast path
on again), so the two are compared in one process under the same machine load.

    .venv/bin/python bench/serving/hot_path.py [--requests 2000] [--redis URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models import create_model
from tailor.models.popular import Popularity
from tailor.serving.app import create_app
from tailor.serving.fastpath import ServingApp
from tailor.serving.settings import ServeSettings

RESULTS = Path(__file__).parents[1] / "results" / "serving_hot_path.json"


def model_dir(root: Path, users: int = 2000, items: int = 1000, per_user: int = 20) -> Path:
    """A ``tailor fit``-shaped directory: EASE + popularity/ + items.parquet."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "user_id": np.repeat([f"u{k}" for k in range(users)], per_user),
            "item_id": [f"i{k}" for k in rng.zipf(1.3, users * per_user) % items],
            "timestamp": pd.Timestamp("2024-01-01"),
            "weight": np.float32(1.0),
        }
    ).drop_duplicates(["user_id", "item_id"])
    catalog = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(items)],
            "category": [f"c{k % 10}" for k in range(items)],
        }
    )
    data = Dataset.from_frame(frame, items=catalog)
    path = root / "model"
    create_model("ease").fit(data).save(path)
    Popularity().fit(data).save(path / "popularity")
    catalog.to_parquet(path / "items.parquet")
    return path


async def call(app: Any, path: str, query: str) -> tuple[int, bytes]:
    """One GET through the ASGI interface; returns (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def scenario(app: Any, users: list[str], query: str, requests: int) -> dict[str, Any]:
    """CPU ms per request over ``requests`` calls (best of three rounds) and the sources seen."""
    sources: dict[str, int] = {}
    for user in users[:200]:  # warm-up: code paths, caches of compiled patterns
        await call(app, f"/v1/recommendations/{user}", query)
    rounds = []
    for _ in range(3):
        start = time.process_time()
        for k in range(requests):
            status, body = await call(app, f"/v1/recommendations/{users[k % len(users)]}", query)
            if status != 200:
                raise RuntimeError(f"status {status}: {body[:200]!r}")
            source = json.loads(body)["source"]
            sources[source] = sources.get(source, 0) + 1
        rounds.append((time.process_time() - start) / requests * 1000)
    return {
        "cpu_ms_per_request": round(min(rounds), 4),
        "cpu_ms_rounds": [round(r, 4) for r in rounds],
        "cpu_ms_median": round(statistics.median(rounds), 4),
        "sources": sources,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = model_dir(Path(tmp))
        settings = ServeSettings.model_validate(
            {
                "model_dir": path,
                "redis_url": args.redis or "memory://",
                "warm_on_start": True,
                "key_prefix": f"bench-hot-{time.time_ns()}",
                "cache_ttl_s": 600,
            }
        )
        app = create_app(settings)
        assert isinstance(app, ServingApp)
        users = [f"u{k}" for k in range(2000)]
        async with app.router.lifespan_context(app):
            results = {
                "cache_hit": await scenario(app, users, "n=10", args.requests),
                "live": await scenario(app, users, "n=10&exclude_seen=false", args.requests),
            }
            app.fast_path_enabled = False  # the same requests through FastAPI's whole stack
            results["cache_hit_full_stack"] = await scenario(app, users, "n=10", args.requests)
            app.fast_path_enabled = True
            results["cache_hit_again"] = await scenario(app, users, "n=10", args.requests)
    return {
        "requests": args.requests,
        "cache": "redis" if args.redis else "memory",
        "note": "process CPU time / request of in-process ASGI calls (client work included, "
        "about 0.05 ms); best of three rounds",
        **results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis", default=None, help="redis:// URL (default: memory://)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--label", default=None, help="store the result under this key")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    stored = json.loads(args.out.read_text()) if args.out.is_file() else {}
    stored[args.label or result["cache"]] = result
    args.out.write_text(json.dumps(stored, indent=2) + "\n")
    print(json.dumps(result, indent=2))
