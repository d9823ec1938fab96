"""Benchmark the Spark engine against the local ALS on MovieLens 100K: fit time and NDCG@10.

Protocol: ``u.data`` (read from ``../shared/data``), each user's last 20 % of ratings by time to
test (``user_temporal_split(last_fraction=0.2)``, the tests' and the accuracy benchmark's split).
For each seed, ALS with its default parameters is fitted locally (``fit_model_dir``, implicit)
and by Spark (``fit_spark_model_dir`` on the training Parquet, ``--master``), and both folders are
scored with ``evaluate_model`` (NDCG@10 over every test user, seen items left out). Fit times are
wall-clock seconds of the fit alone (the folder's ``fit_seconds``); the Spark session's start and
a batch top-10 for every user (``recommend_spark`` vs ``Pipeline.recommend``) are timed once. The
load average is recorded with every measurement: the machine is shared.

Run: ``.venv/bin/python bench/spark/als.py`` (writes ``bench/results/spark_als.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.split import user_temporal_split
from tailor.evaluation.fitted import evaluate_model
from tailor.models.model_dir import fit_model_dir
from tailor.pipeline import Pipeline, Query
from tailor.training.spark.als import fit_spark_model_dir
from tailor.training.spark.session import spark_session
from tailor.training.spark.topn import recommend_spark

ROOT = Path(__file__).resolve().parents[2]
ML100K = (ROOT / "../shared/data/ml-100k/u.data").resolve()
RESULTS = ROOT / "bench/results/spark_als.json"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def ml100k_split() -> Any:
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
    return user_temporal_split(frame, last_fraction=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    split = ml100k_split()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train = work / "train.parquet"
        split.train.to_parquet(train)
        start_load, start = load(), time.perf_counter()
        spark = spark_session(args.master)
        session = {"seconds": time.perf_counter() - start, "load_before": start_load}
        for seed in seeds:
            params = {"seed": seed}
            for engine in ("local", "spark"):
                out = work / f"{engine}-{seed}"
                before = load()
                if engine == "local":
                    summary = fit_model_dir(split.train, "als", params, out)
                else:
                    summary = fit_spark_model_dir(spark, str(train), params, out)
                ndcg = evaluate_model(out, split).metrics["ndcg@10"]
                runs.append(
                    {
                        "engine": engine,
                        "seed": seed,
                        "fit_seconds": round(summary.fit_seconds, 2),
                        "ndcg@10": round(float(ndcg), 5),
                        "load_before": before,
                        "load_after": load(),
                    }
                )
                print(runs[-1], flush=True)
        folder = work / f"spark-{seeds[0]}"
        query = Query(n=10)
        before, start = load(), time.perf_counter()
        local_lists = Pipeline.from_model_dir(folder).recommend(_users(folder), query)
        local_s = time.perf_counter() - start
        start = time.perf_counter()
        spark_lists = recommend_spark(spark, folder, None, query)
        spark_s = time.perf_counter() - start
        pairs = ["user_id", "item_id"]
        same = local_lists.recs[pairs].equals(spark_lists.recs[pairs])
        topn = {
            "users": len(spark_lists.users),
            "k": 10,
            "pipeline_seconds": round(local_s, 2),
            "spark_seconds": round(spark_s, 2),
            "same_lists": bool(same),
            "load_before": before,
            "load_after": load(),
        }
        spark.stop()

    def summary_of(engine: str) -> dict[str, float]:
        rows = [r for r in runs if r["engine"] == engine]
        return {
            "ndcg@10_mean": round(float(np.mean([r["ndcg@10"] for r in rows])), 5),
            "fit_seconds_median": round(float(np.median([r["fit_seconds"] for r in rows])), 2),
        }

    local, spark_sum = summary_of("local"), summary_of("spark")
    result = {
        "command": ".venv/bin/python bench/spark/als.py"
        + (f" --master '{args.master}'" if args.master != "local[2]" else "")
        + (f" --seeds {args.seeds}" if args.seeds != "0,1,2" else ""),
        "protocol": "ML-100K, user_temporal_split(last_fraction=0.2); ALS defaults (32 factors, "
        "lambda 0.1, alpha 1, 15 iterations) with each seed; evaluate_model NDCG@10",
        "master": args.master,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "session_start": session,
        "runs": runs,
        "local": local,
        "spark": spark_sum,
        "ndcg_relative_difference": round(
            (spark_sum["ndcg@10_mean"] - local["ndcg@10_mean"]) / local["ndcg@10_mean"], 4
        ),
        "batch_top10": topn,
        "note": "shared 2-core machine: other engineers' jobs ran alongside; see the load averages",
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("local", "spark", "ndcg_relative_difference")}))


def _users(folder: Path) -> np.ndarray:
    from tailor.models.model_dir import ModelDir

    return ModelDir.load(folder).model.users.ids


if __name__ == "__main__":
    main()
