"""Rating prediction on ML-100K (seeded random 80/20): Surprise SVD and SVD++ vs tailor's SGD MF.

Validation is a seeded random 20 % of the training part. Each model is tuned on it (RMSE, Optuna
TPE), refitted on the whole training part and scored on test (RMSE, MAE). A separate side-by-side
run measures SGD throughput (rating updates per second) of Surprise SVD and tailor's SGD MF at
the same number of factors and epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import datasets
import numpy as np
import optuna
import pandas as pd
import peers
from spaces import RATING_DEFAULTS, rating_space
from tuning import SEED

from tailor.data.dataset import Dataset
from tailor.models.registry import create_model

SVDPP_MAX_FACTORS = 64
"""SVD++ fits take ~50 s at 20 factors here, so its space stops at 64 factors (and it gets
half the trials); the others search up to 256."""


def tailor_predict(
    train: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any], seed: int
) -> np.ndarray:
    """tailor SGDMF (loss rmse) predictions; unknown users/items get the training mean."""
    model = create_model(
        "mf-sgd",
        {
            "loss": "rmse",
            "embedding_size": params["factors"],
            "epochs": params["epochs"],
            "learning_rate": params["learning_rate"],
            "regularization": params["regularization"],
            "seed": seed,
        },
    )
    model.fit(Dataset.from_frame(train))
    pred = model.score(test["user_id"].to_numpy(), test["item_id"].to_numpy()).astype(np.float64)
    pred[~np.isfinite(pred)] = train["value"].mean()
    return np.clip(pred, 1.0, 5.0)


Predictor = Callable[[pd.DataFrame, pd.DataFrame, dict[str, Any], int], np.ndarray]
MODELS: dict[str, tuple[str, Predictor]] = {
    "tailor mf-sgd": ("tailor", tailor_predict),
    "Surprise SVD": ("surprise", lambda a, b, p, s: peers.surprise_predict("SVD", a, b, p, s)),
    "Surprise SVD++": ("surprise", lambda a, b, p, s: peers.surprise_predict("SVDpp", a, b, p, s)),
}


def errors(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE and MAE."""
    diff = pred - actual
    return {"rmse": float(np.sqrt(np.mean(diff**2))), "mae": float(np.mean(np.abs(diff)))}


def tune(
    predict: Predictor, fit: pd.DataFrame, val: pd.DataFrame, trials: int, max_factors: int
) -> dict[str, Any]:
    """TPE search minimising validation RMSE; the first trial is Surprise SVD's defaults."""
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=SEED, n_startup_trials=3)
    )
    study.enqueue_trial(
        {**RATING_DEFAULTS, "factors": min(RATING_DEFAULTS["factors"], max_factors)}
    )
    actual = val["value"].to_numpy()

    def objective(trial: optuna.Trial) -> float:
        params = rating_space(trial)
        params["factors"] = min(params["factors"], max_factors)
        return errors(predict(fit, val, params, SEED), actual)["rmse"]

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    params = dict(study.best_params)
    params["factors"] = min(params["factors"], max_factors)
    return {
        "params": params,
        "validation_rmse": float(study.best_value),
        "trials": trials,
        "tuning_s": time.perf_counter() - started,
    }


def run(trials: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Tune, refit and test the rating models; then the throughput side by side."""
    frame = datasets.load_ml100k()
    train, test = datasets.seeded_random(frame, 0.2, SEED)
    fit, val = datasets.seeded_random(train, 0.2, SEED + 1)
    rows = []
    for name, (library, predict) in MODELS.items():
        is_pp = name.endswith("++")
        log(f"rating: tuning {name}")
        tuned = tune(
            predict,
            fit,
            val,
            max(trials // 2, 2) if is_pp else trials,
            SVDPP_MAX_FACTORS if is_pp else 256,
        )
        started = time.perf_counter()
        pred = predict(train, test, tuned["params"], SEED)
        fit_s = time.perf_counter() - started
        result = errors(pred, test["value"].to_numpy())
        log(f"rating: {name} test rmse={result['rmse']:.4f}")
        rows.append({"model": name, "library": library, **tuned, **result, "fit_s": fit_s})
    return {
        "description": "MovieLens 100K ratings, seeded random 80/20 split "
        "(validation = random 20 % of the training part)",
        "sizes": {"train_rows": len(train), "test_rows": len(test)},
        "models": rows,
        "throughput": throughput(train, test),
    }


def throughput(
    train: pd.DataFrame, test: pd.DataFrame, factors: int = 100, epochs: int = 20
) -> dict[str, Any]:
    """SGD rating updates per second, Surprise SVD vs tailor SGDMF, same factors and epochs.

    Each is fitted twice (the first run warms caches and numba's compiled kernel); the faster
    run counts. Updates = training ratings x epochs.
    """
    params = {**RATING_DEFAULTS, "factors": factors, "epochs": epochs}
    out: dict[str, Any] = {"factors": factors, "epochs": epochs, "ratings": len(train)}
    for name, (_, predict) in list(MODELS.items())[:2]:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            predict(train, test.head(1), params, SEED)
            times.append(time.perf_counter() - started)
        out[name] = {"fit_s": min(times), "updates_per_s": len(train) * epochs / min(times)}
    out["speedup"] = out["tailor mf-sgd"]["updates_per_s"] / out["Surprise SVD"]["updates_per_s"]
    return out
