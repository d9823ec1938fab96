"""Recall@10 and time per query of ANN candidate retrieval against exact scoring.

Two kinds of model, both with the serving defaults (``AnnSettings()``) and seen items left out:

- ``real``: ALS (64 factors, 15 iterations) fitted on Online Retail purchases, every user;
- ``ITEMSxFACTORS``: random factor models (standard normal user and item factors, the hard case
  for a graph index: no structure at all), 300 users with 10 seen items each.

Writes ``bench/results/serving_ann.json``.

    .venv/bin/python bench/serving/ann_recall.py [--sizes real 20000x16 50000x64]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models import ALS
from tailor.pipeline.ann import AnnSettings, build_ann
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.scoring import ModelIndex, score_user

RESULTS = Path(__file__).parents[1] / "results" / "serving_ann.json"


def random_model(items: int, factors: int, users: int, seed: int = 0) -> Any:
    """An ALS model whose factors are replaced by standard normal draws."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k % users}" for k in range(users * 10)],
            "item_id": [f"i{k}" for k in rng.choice(items, users * 10)],
            "weight": np.float32(1.0),
        }
    )
    extra = pd.DataFrame({"item_id": [f"i{k}" for k in range(items)]})
    model = ALS(factors=factors, iterations=1, seed=seed).fit(
        Dataset.from_frame(frame, items=extra)
    )
    n_items = len(model.items)
    arrays = dict(model.state_arrays())
    arrays["user_factors"] = rng.normal(size=(len(model.users), factors)).astype(np.float32)
    arrays["item_factors"] = rng.normal(size=(n_items, factors)).astype(np.float32)
    model.load_state(arrays)
    return model


def real_model() -> Any:
    """ALS on Online Retail, as the serving benchmark fits it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from run import read_online_retail

    from tailor.models import create_model

    data = Dataset.from_frame(read_online_retail())
    return create_model("als", {"factors": 64, "iterations": 15, "seed": 42}).fit(data)


def measure(model: Any, users: int) -> dict[str, Any]:
    factors = model.item_factors.shape[1]
    index = ModelIndex.build(model, Catalog())
    start = time.perf_counter()
    ann = build_ann(model, AnnSettings(min_items=1))
    build_s = time.perf_counter() - start
    assert ann is not None
    start = time.process_time()
    exact = [score_user(model, index, u, 10) for u in range(users)]
    exact_ms = (time.process_time() - start) / users * 1000
    start = time.process_time()
    approx = [score_user(model, index, u, 10, ann=ann) for u in range(users)]
    ann_ms = (time.process_time() - start) / users * 1000
    recalls = [
        len({i for i, _ in e} & {i for i, _ in a}) / 10 for e, a in zip(exact, approx, strict=True)
    ]
    return {
        "items": len(model.items),
        "factors": factors,
        "users": users,
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "min_recall_at_10": float(np.min(recalls)),
        "build_s": round(build_s, 2),
        "exact_cpu_ms_per_user": round(exact_ms, 3),
        "ann_cpu_ms_per_user": round(ann_ms, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["real", "20000x16", "50000x64"])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        if size == "real":
            model = real_model()
            result = {"model": "als-online-retail", **measure(model, len(model.users))}
        else:
            items, factors = (int(x) for x in size.split("x"))
            model = random_model(items, factors, args.users)
            result = {"model": "random-normal", **measure(model, args.users)}
        results.append(result)
        print(json.dumps(result))
    settings = AnnSettings()
    payload = {
        "settings": {
            "candidate_factor": settings.candidate_factor,
            "ef_search": settings.ef_search,
            "m": settings.m,
            "ef_construction": settings.ef_construction,
        },
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
