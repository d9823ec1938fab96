"""Benchmark SGDMF on MovieLens 100K: RMSE, SGD throughput next to Surprise SVD, top-10 latency.

Protocol: a seeded random 80/20 split of ``u.data`` (read from ``../shared/data``, never copied).
SGDMF is fitted with its rating settings (``RATING_PARAMS``: the config defaults rank implicit
feedback) on the 80 % and scored on the 20 %; a second run
carves 10 % of the 80 % as validation for early stopping. Throughput is SGD updates (training
ratings x epochs) per second of fit wall time, best of ``REPEATS`` runs, measured alternately with
Surprise's SVD at the same number of factors and epochs in its own virtual environment
(``/tmp/surprise-venv``, or ``$SURPRISE_PYTHON``); that part is skipped with a note when absent.

Run: ``.venv/bin/python bench/mf_sgd.py`` (writes ``bench/results/mf_sgd.json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models import SGDMF, FitOptions
from tailor.models.mf_sgd import RATING_PARAMS

ROOT = Path(__file__).resolve().parents[1]
ML100K = (ROOT / "../shared/data/ml-100k/u.data").resolve()
RESULTS = ROOT / "bench/results/mf_sgd.json"
SURPRISE_PYTHON = Path(os.environ.get("SURPRISE_PYTHON", "/tmp/surprise-venv/bin/python"))
SEED = 42
REPEATS = 3

SURPRISE_SCRIPT = """
import json, sys, time
from surprise import SVD, Dataset, Reader, accuracy
train_file, test_file, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
reader = Reader(line_format="user item rating", sep=",", rating_scale=(1, 5))
trainset = Dataset.load_from_file(train_file, reader).build_full_trainset()
testset = [(u, i, float(r)) for u, i, r in (line.split(",") for line in open(test_file))]
start, cpu = time.perf_counter(), time.process_time()
algo = SVD(random_state=0, **params).fit(trainset)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
pred = algo.test(testset)
rmse, mae = accuracy.rmse(pred, verbose=False), accuracy.mae(pred, verbose=False)
print(json.dumps({"fit_seconds": seconds, "fit_cpu_seconds": cpu, "rmse": rmse, "mae": mae}))
"""


def load_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens 100K ratings split 80/20 uniformly at random with ``SEED``."""
    ratings = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    ratings["timestamp"] = pd.to_datetime(ratings["timestamp"], unit="s")
    test = np.zeros(len(ratings), bool)
    test[np.random.default_rng(SEED).permutation(len(ratings))[: len(ratings) // 5]] = True
    return ratings[~test].reset_index(drop=True), ratings[test].reset_index(drop=True)


def errors(model: SGDMF, test: pd.DataFrame) -> dict[str, float]:
    """RMSE and MAE on the test pairs the model knows; unknown ones get the global mean."""
    pred = model.score(test["user_id"], test["item_id"])
    pred = np.where(np.isfinite(pred), pred, model.global_mean[0])
    err = test["value"].to_numpy() - pred
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}


def fit_timed(train: Dataset, **params: Any) -> tuple[SGDMF, float, float]:
    """The fitted model, its wall-clock and its CPU seconds (the kernel is single-threaded)."""
    start, cpu = time.perf_counter(), time.process_time()
    model = SGDMF(seed=0, **{**RATING_PARAMS, **params}).fit(train)
    return model, time.perf_counter() - start, time.process_time() - cpu


def run_surprise(train: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, part in (("train.csv", train), ("test.csv", test)):
            path = Path(tmp) / name
            part[["user_id", "item_id", "value"]].to_csv(path, header=False, index=False)
            files.append(str(path))
        out = subprocess.run(
            [str(SURPRISE_PYTHON), "-c", SURPRISE_SCRIPT, *files, json.dumps(params)],
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def early_stopping_run(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """Carve 10 % of train as validation, stop on it with patience 5, then refit on all of train."""
    val = np.zeros(len(train), bool)
    val[np.random.default_rng(SEED + 1).permutation(len(train))[: len(train) // 10]] = True
    params: dict[str, Any] = {"epochs": 150, "early_stopping_patience": 5}
    model = SGDMF(seed=0, **{**RATING_PARAMS, **params}).fit(
        Dataset.from_frame(train[~val]), FitOptions(validation=train[val])
    )
    refit = SGDMF(seed=0, **{**RATING_PARAMS, "epochs": model.best_epoch})
    refit.fit(Dataset.from_frame(train))
    return {
        "params": params,
        "best_epoch": model.best_epoch,
        "epochs_run": len(model.history),
        "validation_rmse": min(h["validation_rmse"] for h in model.history),
        "test_on_90pct": errors(model, test),
        "refit_on_train_with_best_epoch": errors(refit, test),
        "curve": [
            {k: round(v, 5) for k, v in h.items() if k != "learning_rate"} for h in model.history
        ],
    }


def top10_all_users(model: SGDMF) -> dict[str, float]:
    users = model.users.ids
    model.recommend(users, n=10)  # warm-up
    wall, cpu = [], []
    for _ in range(15):
        start, cpu0 = time.perf_counter(), time.process_time()
        recs = model.recommend(users, n=10)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    assert len(recs) == 10 * len(users)
    return {
        "users": len(users),
        "median_wall_ms": 1000 * float(np.median(wall)),
        "min_wall_ms": 1000 * float(np.min(wall)),
        "median_cpu_ms": 1000 * float(np.median(cpu)),
    }


def main() -> None:
    train, test = load_split()
    data = Dataset.from_frame(train)
    cfg = SGDMF(**RATING_PARAMS).config
    updates = len(train) * cfg.epochs
    fit_timed(data, epochs=1)  # compile or load the numba cache outside the timings
    surprise_params = {
        "n_factors": cfg.embedding_size,
        "n_epochs": cfg.epochs,
        "lr_all": cfg.learning_rate,
        "reg_all": cfg.regularization,
        "init_std_dev": cfg.init_std,
    }
    ours: list[tuple[float, float]] = []
    theirs: list[dict[str, Any]] = []
    model = None
    have_surprise = SURPRISE_PYTHON.is_file()
    for _ in range(REPEATS):  # alternate so that machine load hits both alike
        model, seconds, cpu = fit_timed(data)
        ours.append((seconds, cpu))
        if have_surprise:
            theirs.append(run_surprise(train, test, surprise_params))
    assert model is not None
    result: dict[str, Any] = {
        "data": "MovieLens 100K, random 80/20 split",
        "seed": SEED,
        "n_train": len(train),
        "n_test": len(test),
        "config": cfg.model_dump(),
        "sgdmf": {
            **errors(model, test),
            "fit_seconds": min(w for w, _ in ours),
            "fit_cpu_seconds": min(c for _, c in ours),
            "updates_per_second": updates / min(w for w, _ in ours),
            "updates_per_cpu_second": updates / min(c for _, c in ours),
        },
        "early_stopping": early_stopping_run(train, test),
        "top10_all_users": top10_all_users(model),
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]},
    }
    if have_surprise:
        best = min(theirs, key=lambda r: r["fit_seconds"])
        defaults = run_surprise(train, test, {})
        result["surprise_svd_same_settings"] = {
            "params": surprise_params,
            "rmse": best["rmse"],
            "mae": best["mae"],
            "fit_seconds": best["fit_seconds"],
            "fit_cpu_seconds": min(r["fit_cpu_seconds"] for r in theirs),
            "updates_per_second": updates / best["fit_seconds"],
            "updates_per_cpu_second": updates / min(r["fit_cpu_seconds"] for r in theirs),
        }
        result["surprise_svd_defaults"] = {"params": "library defaults (100 factors)", **defaults}
        svd = result["surprise_svd_same_settings"]
        result["speedup_vs_surprise"] = {
            "wall": result["sgdmf"]["updates_per_second"] / svd["updates_per_second"],
            "cpu": result["sgdmf"]["updates_per_cpu_second"] / svd["updates_per_cpu_second"],
        }
    else:
        result["surprise_note"] = (
            f"skipped: {SURPRISE_PYTHON} not found (see docs/models/mf-sgd.md)"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k not in ("early_stopping", "config")}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
