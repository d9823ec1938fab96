"""Evaluation speed: 1,000,000 users x top-100 recommendations, 1-20 relevant items per user.

Inputs are built first (not timed) the way ``tailor.evaluation.read_recs`` returns a Parquet
file: categorical (dictionary-encoded) id columns and integer ranks. The timed call is the
library's ``evaluate`` with K = 5, 10, 20, metric@K curves for K = 1..100 and bootstrap/normal
confidence intervals. Writes bench/results/evaluate_speed.json.

Run: ``.venv/bin/python bench/evaluate_speed.py [--users N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.evaluation import evaluate

RESULTS = Path(__file__).parent / "results" / "evaluate_speed.json"
N_ITEMS = 50_021  # prime, so a stride walk gives distinct items within a list


def make_inputs(n_users: int, width: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommendations (distinct items per list) and truth (1-20 items, about half listed)."""
    rng = np.random.default_rng(seed)
    user_ids = np.array([f"u{u}" for u in range(n_users)], dtype=object)
    item_ids = np.array([f"i{i}" for i in range(N_ITEMS)], dtype=object)
    offset = rng.integers(0, N_ITEMS, n_users)
    step = rng.integers(1, N_ITEMS, n_users)
    lists = (offset[:, None] + np.arange(width) * step[:, None]) % N_ITEMS
    recs = pd.DataFrame(
        {
            "user_id": pd.Categorical.from_codes(
                np.repeat(np.arange(n_users, dtype=np.int32), width), user_ids
            ),
            "item_id": pd.Categorical.from_codes(lists.ravel().astype(np.int32), item_ids),
            "rank": np.tile(np.arange(1, width + 1, dtype=np.int16), n_users),
        }
    )
    sizes = rng.integers(1, 21, n_users)
    users = np.repeat(np.arange(n_users, dtype=np.int32), sizes)
    listed = lists[users, rng.integers(0, width, len(users))]
    random_items = rng.integers(0, N_ITEMS, len(users))
    items = np.where(rng.random(len(users)) < 0.5, listed, random_items).astype(np.int32)
    truth = pd.DataFrame(
        {
            "user_id": pd.Categorical.from_codes(users, user_ids),
            "item_id": pd.Categorical.from_codes(items, item_ids),
        }
    )
    return recs, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    small_recs, small_truth = make_inputs(1000, args.width)
    evaluate(small_recs, small_truth, (5, 10, 20))  # load numba's cached kernels
    started = time.perf_counter()
    recs, truth = make_inputs(args.users, args.width)
    generate_s = time.perf_counter() - started
    times, no_curves = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = evaluate(recs, truth, (5, 10, 20), curve_k=args.width)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        evaluate(recs, truth, (5, 10, 20), curve_k=0)
        no_curves.append(time.perf_counter() - started)
        print(f"evaluate: {times[-1]:.2f} s with curves, {no_curves[-1]:.2f} s without")
    out = {
        "users": args.users,
        "recommendations": len(recs),
        "truth_rows": len(truth),
        "k": [5, 10, 20],
        "curve_k": args.width,
        "seconds_best": round(min(times), 3),
        "seconds_all": [round(t, 3) for t in times],
        "seconds_best_without_curves": round(min(no_curves), 3),
        "generate_seconds_untimed": round(generate_s, 3),
        "ndcg@10": result.metrics["ndcg@10"],
        "recall@20": result.metrics["recall@20"],
        "ci_method": result.metrics["ci"]["method"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
