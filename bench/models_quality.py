"""A quick accuracy check of the item-kNN, EASE, ALS and BPR models on MovieLens 100K.

Protocol (the one of the side-by-side benchmark, issue 4): each user's ratings ordered by time,
the last 20 % to test; validation = the last 20 % of each user's training part; every rating is
a positive; full ranking over the training items minus the user's own training items. A small
grid per model is scored on validation (fit on train minus validation), the best setting is
refitted on the whole training part and scored on test. NDCG@10 with binary relevance, averaged
over test users. This is a sanity check of the implementations, not the peer benchmark.
Writes bench/results/models_quality.json.

Run: .venv/bin/python bench/models_quality.py
"""

from __future__ import annotations

import json
import time
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models import create_model

ROOT = Path(__file__).resolve().parents[1]
ML100K = (ROOT / "../shared/data/ml-100k/u.data").resolve()
RESULT = ROOT / "bench" / "results" / "models_quality.json"
N = 10

GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "itemknn": {"k": [20, 50, 100, 200], "shrink": [0.0, 10.0]},
    "ease": {"regularization": [100.0, 300.0, 500.0, 1000.0]},
    "als": {"factors": [32, 64, 128], "regularization": [0.01, 0.1, 1.0], "binary": [True]},
    "bpr": {"factors": [64], "learning_rate": [0.01, 0.05, 0.1], "iterations": [100, 300]},
}


def last_fraction(frame: pd.DataFrame, frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the first (1 - frac) of the time-ordered rows, and the rest."""
    ordered = frame.sort_values(["user_id", "timestamp"], kind="stable")
    pos = ordered.groupby("user_id").cumcount()
    size = ordered.groupby("user_id")["item_id"].transform("size")
    tail = pos >= np.ceil(size * (1 - frac))
    return ordered[~tail], ordered[tail]


def ndcg(model: Any, truth: pd.DataFrame) -> float:
    """Mean NDCG@N of ``model`` over the users of ``truth`` (binary relevance)."""
    users = truth["user_id"].unique()
    recs = model.recommend(users, n=N).to_frame()
    hit = recs.merge(truth[["user_id", "item_id"]].drop_duplicates(), how="inner")
    discount = 1.0 / np.log2(np.arange(2, N + 2))
    dcg = pd.Series(discount[hit["rank"].to_numpy() - 1]).groupby(hit["user_id"].to_numpy()).sum()
    n_rel = truth.groupby("user_id")["item_id"].nunique().clip(upper=N)
    idcg = n_rel.map(lambda k: discount[:k].sum())
    return float((dcg.reindex(idcg.index, fill_value=0.0) / idcg).mean())


def main() -> None:
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    frame = frame.astype({"user_id": str, "item_id": str})
    train, test = last_fraction(frame, 0.2)
    fit_part, val = last_fraction(train, 0.2)
    data_val, data_test = Dataset.from_frame(fit_part), Dataset.from_frame(train)
    results: dict[str, Any] = {}
    for name, grid in GRIDS.items():
        trials = []
        for values in product(*grid.values()):
            params = dict(zip(grid, values, strict=True)) | ({"seed": 0} if grid else {})
            score = ndcg(create_model(name, params).fit(data_val), val)
            trials.append({"params": params, "validation_ndcg@10": round(score, 4)})
        best = max(trials, key=lambda t: t["validation_ndcg@10"])
        start = time.perf_counter()
        model = create_model(name, best["params"]).fit(data_test)
        fit_s = time.perf_counter() - start
        results[name] = {
            "chosen": best["params"],
            "test_ndcg@10": round(ndcg(model, test), 4),
            "fit_s": round(fit_s, 2),
            "trials": trials,
        }
        print(name, best["params"], results[name]["test_ndcg@10"])
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"dataset": "ml-100k", "n": N, "models": results}, indent=2))
    print(f"written to {RESULT}")


if __name__ == "__main__":
    main()
