"""Distributed tuning: the same study run by 1 and by 2 worker processes sharing a PostgreSQL
storage, wall-clock time of each and the speed-up.

    .venv/bin/python bench/training/distributed_tuning.py [--trials 8] [--model recency-ease]

Data: the bundled Online Retail purchases, the demo's split (test from 2011-11-09, validation the
latest 15 % of the rest), novel purchases as the validation truth. Every trial fits the model on
train and scores the validation lists (NDCG@10). The grid sampler runs a fixed grid of
``--trials`` regularisation values, so both runs do exactly the same work whatever order the
workers take the points in; BLAS and the fits are held to one thread per worker
(OPENBLAS_NUM_THREADS=1, threads=1), so one worker uses one core. A fresh database is created
on the machine's PostgreSQL (127.0.0.1:5432, trust auth) and dropped afterwards.

Writes bench/results/distributed_tuning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy: one core per worker
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from tailor.data.prepare import prepare
from tailor.data.split import temporal_split, with_validation
from tailor.training.spaces import SearchSpace
from tailor.training.tuning import TuningSettings, tune_model

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "distributed_tuning.json"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _admin():
    import psycopg2

    conn = psycopg2.connect(**PG)
    conn.autocommit = True
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--model", default="recency-ease")
    args = parser.parse_args()

    prepared, _ = prepare("online-retail")
    split = with_validation(temporal_split(prepared.interactions, cut="2011-11-09"))
    grid = [float(v) for v in np.geomspace(50.0, 3000.0, args.trials).round(1)]
    space = SearchSpace.from_table(
        {"regularization": {"low": 10.0, "high": 5000.0, "log": True, "grid": grid}}
    )
    name = f"tailor_bench_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    runs = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            train, val = Path(tmp) / "train.parquet", Path(tmp) / "validation.parquet"
            split.train.to_parquet(train, index=False)
            split.validation.to_parquet(val, index=False)
            for workers in (1, 2):
                settings = TuningSettings(
                    sampler="grid", trials=args.trials, seed=0, pruner="none",
                    storage=url, study=f"w{workers}", workers=workers,
                )  # fmt: skip
                load = os.getloadavg()[0]
                cpu0 = _cpu_seconds()
                start = time.perf_counter()
                result = tune_model(
                    args.model, train, val, space=space, settings=settings,
                    relevant="novel", threads=1, starts=[],
                )  # fmt: skip
                seconds = time.perf_counter() - start
                cpu = _cpu_seconds() - cpu0
                per_trial = [t.seconds for t in result.trials]
                runs[workers] = {
                    "seconds": round(seconds, 2),
                    "trials": len(result.trials),
                    "trial_seconds_mean": round(float(np.mean(per_trial)), 2),
                    "best_value": result.best_value,
                    "best_params": result.best_params,
                    "processes": sorted({t.worker for t in result.trials if t.worker}),
                    "load_average_before": round(load, 2),
                    "cpu_seconds": round(cpu, 1),
                    "cores_used": round(cpu / seconds, 2),
                }
                print(
                    f"{workers} worker(s): {seconds:.1f} s for {len(result.trials)} trials "
                    f"(mean trial {np.mean(per_trial):.2f} s, load {load:.1f})"
                )
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    speedup = runs[1]["seconds"] / runs[2]["seconds"]
    for r in runs.values():
        r["processes"] = len(r["processes"])
    out = {
        "model": args.model,
        "data": "Online Retail (bundled), demo split, validation NDCG@10 on novel purchases",
        "sampler": "grid",
        "trials": args.trials,
        "storage": "PostgreSQL 127.0.0.1:5432 (a fresh database)",
        "cpus": os.cpu_count(),
        "one_worker": runs[1],
        "two_workers": runs[2],
        "speedup": round(speedup, 2),
        "same_best": runs[1]["best_params"] == runs[2]["best_params"],
        "python": sys.version.split()[0],
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"speed-up {speedup:.2f}x; wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
