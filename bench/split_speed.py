"""Time the three split strategies (plus validation) on all of Online Retail.

Reads ../shared/data/online-retail/online_retail.csv.gz with plain pandas and minimal cleaning
(rows with a CustomerID and a positive quantity), then reports the best of 5 runs of each split
in bench/results/split_speed.json. Run: .venv/bin/python bench/split_speed.py
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tailor.data.split import (
    Split,
    random_split,
    temporal_split,
    user_temporal_split,
    with_validation,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / ".." / "shared" / "data" / "online-retail" / "online_retail.csv.gz"
RESULT = ROOT / "bench" / "results" / "split_speed.json"
REPEATS = 5


def load() -> pd.DataFrame:
    raw = pd.read_csv(SOURCE, usecols=["StockCode", "Quantity", "InvoiceDate", "CustomerID"])
    raw = raw[raw["CustomerID"].notna() & (raw["Quantity"] > 0)]
    return pd.DataFrame(
        {
            "user_id": raw["CustomerID"].astype("int64").astype(str),
            "item_id": raw["StockCode"].astype(str),
            "timestamp": pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S"),
            "value": raw["Quantity"].astype(float),
        }
    ).reset_index(drop=True)


def best_of(fn: Callable[[], Split]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    frame = load()
    cases: dict[str, Callable[[], Split]] = {
        "temporal (cut 2011-11-09)": lambda: temporal_split(frame, cut="2011-11-09"),
        "user-temporal (last 20 %)": lambda: user_temporal_split(frame, last_fraction=0.2),
        "random (20 %)": lambda: random_split(frame, test_fraction=0.2, seed=0),
    }
    results = {}
    for name, fn in cases.items():
        alone = best_of(fn)
        with_val = best_of(lambda fn=fn: with_validation(fn(), fraction=0.15))  # type: ignore[misc]
        results[name] = {"split_s": round(alone, 4), "split_and_validation_s": round(with_val, 4)}
        print(f"{name:28s} split {alone:.3f} s   + validation {with_val:.3f} s")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "rows": len(frame),
                "repeats": REPEATS,
                "statistic": "best of repeats, seconds",
                "machine": f"{platform.machine()}, python {platform.python_version()}",
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
