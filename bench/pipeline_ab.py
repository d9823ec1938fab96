"""Before/after of the pipeline change, in one process so the machine's load hits both sides.

Two A/B pairs on all of MovieLens 100K (943 users, 1,682 items; default hyperparameters, seed 0):

1. ``mask_top_n``: recommend-all at n=10 as ``RecommenderBase.recommend`` computes it, with the
   step before the change (copy the score block, write -inf for non-finite and seen items,
   ``top_n``) against ``masked_top_n`` (one kernel pass over the unmodified scores), both ending
   in the same ``ranked_recs``. ``frame`` adds what ``model.recommend`` returns now (a RecsFrame).
2. ``lists``: the lists ``tailor recommend``/evaluation build for every user plus two unknown
   ones, at n=10 and n=100: the old ``recommend_with_fallback`` (reproduced here: recommend,
   frame, source column, popular rows for unknown users, reorder) against
   ``Pipeline.recommend`` (filters, backfill, fallback, sources).

CPU time (``time.process_time``) with single-threaded BLAS, the variants interleaved, best of
``--repeats``. Writes bench/results/pipeline_ab.json.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/pipeline_ab.py
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.models import Popularity, create_model
from tailor.models._topn import masked_top_n
from tailor.models.base import SCORE_BATCH, ranked_recs, top_n
from tailor.pipeline import Pipeline, Query

ROOT = Path(__file__).resolve().parents[1]
ML100K = (ROOT / "../shared/data/ml-100k/u.data").resolve()
RESULT = ROOT / "bench" / "results" / "pipeline_ab.json"
MODELS = ["popularity", "itemknn", "ease", "als", "bpr", "mf-sgd"]


def old_step(model: Any, ids: np.ndarray, n: int) -> Any:
    """recommend-all with the mask + top-n step as it was before masked_top_n."""
    nums = model.users.numbers(ids)
    known = np.flatnonzero(nums >= 0)
    parts = []
    for start in range(0, len(known), SCORE_BATCH):
        rows = known[start : start + SCORE_BATCH]
        scores = np.array(model.score_rows(nums[rows]), dtype=np.float32, copy=True, order="C")
        scores[~np.isfinite(scores)] = -np.inf
        sub = model.seen[nums[rows]]
        hit = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        scores[hit, sub.indices] = -np.inf
        parts.append((rows, *top_n(scores, n)))
    return ranked_recs(ids, model.items, parts)


def new_step(model: Any, ids: np.ndarray, n: int) -> Any:
    """The same with masked_top_n."""
    nums = model.users.numbers(ids)
    known = np.flatnonzero(nums >= 0)
    parts = []
    for start in range(0, len(known), SCORE_BATCH):
        rows = known[start : start + SCORE_BATCH]
        users = nums[rows]
        top = masked_top_n(model.score_rows(users), n, banned=model.seen[users])
        parts.append((rows, *top))
    return ranked_recs(ids, model.items, parts)


def old_lists(model: Any, popularity: Any, user_ids: np.ndarray, n: int) -> pd.DataFrame:
    """The removed recommend_with_fallback, with old_step."""
    ids = np.asarray(pd.unique(np.asarray(user_ids).astype(str)))
    recs = old_step(model, ids, n).to_frame()
    recs[Columns.SOURCE] = "model"
    unknown = ids[model.users.numbers(ids) < 0]
    top = popularity.top_items(n)
    width = len(top)
    cold = pd.DataFrame(
        {
            Columns.USER_ID: np.repeat(unknown, width),
            Columns.ITEM_ID: np.tile(top[Columns.ITEM_ID].to_numpy(dtype=str), len(unknown)),
            Columns.RANK: np.tile(np.arange(1, width + 1, dtype=np.int32), len(unknown)),
            Columns.SCORE: np.tile(top[Columns.SCORE].to_numpy(np.float32), len(unknown)),
            Columns.SOURCE: "popularity",
        }
    )
    out = pd.concat([recs, cold], ignore_index=True)
    position = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    order = np.lexsort((out[Columns.RANK].to_numpy(), position[out[Columns.USER_ID]].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def best_ms(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for key, fn in variants.items():
            start = time.process_time()
            fn()
            times[key].append(time.process_time() - start)
    return {k: round(1000 * min(v), 2) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    data = Dataset.from_frame(frame)
    users = data.users.ids
    with_cold = np.concatenate([users, np.array(["cold-1", "cold-2"])])
    popularity = Popularity().fit(data)
    result: dict[str, Any] = {}
    for name in MODELS:
        model = create_model(name, {} if name == "popularity" else {"seed": 0}).fit(data)
        a, b = old_step(model, users, 10), new_step(model, users, 10)
        assert (a.item_ids == b.item_ids).all() and (a.user_ids == b.user_ids).all()
        steps = best_ms(
            {
                "old": lambda m=model: old_step(m, users, 10),
                "new": lambda m=model: new_step(m, users, 10),
                "frame": lambda m=model: m.recommend(users, n=10),
            },
            args.repeats,
        )
        pipeline = Pipeline.build(model, popularity)
        lists = {}
        for n in (10, 100):
            lists[f"n={n}"] = best_ms(
                {
                    "old": lambda m=model, n=n: old_lists(m, popularity, with_cold, n),
                    "new": lambda p=pipeline, n=n: p.recommend(with_cold, Query(n=n)),
                },
                max(5, args.repeats // 3),
            )
        result[name] = {"mask_top_n_ms": steps, "lists_ms": lists}
        print(name, result[name])
    report = {
        "dataset": "ml-100k u.data (943 users, 1,682 items)",
        "clock": "process CPU time, single-threaded BLAS recommended, best of repeats",
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "models": result,
    }
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULT}")


if __name__ == "__main__":
    main()
