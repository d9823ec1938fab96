"""Tune a model on the validation split with Optuna's TPE sampler (seeded, fixed trial budget).

The objective is NDCG@10 on the validation truth; a model is fitted on the training part only
and never sees the test part. The first trial runs the library's default parameters.
"""

from __future__ import annotations

import time
from typing import Any

import metrics
import numpy as np
import optuna
import pandas as pd
from spaces import Space, Spec

from models import TrainData

SEED = 42


def evaluate_model(
    model: Any, data: TrainData, truth: pd.DataFrame, *, exclude_seen: bool
) -> pd.DataFrame:
    """Per-user metrics of ``model``'s top-20 lists for the truth users."""
    users = truth["user_id"].unique()
    recs = model.recommend(users, 20, exclude_seen=exclude_seen)
    return metrics.evaluate(recs, truth)


def tune(
    spec: Spec, data: TrainData, truth: pd.DataFrame, trials: int, *, exclude_seen: bool
) -> dict[str, Any]:
    """Run ``trials`` TPE trials; returns the best parameters, their score and the history."""
    sampler = optuna.samplers.TPESampler(seed=SEED, n_startup_trials=max(trials // 3, 3))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    if spec.defaults:
        study.enqueue_trial(spec.defaults)
    started = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        model = spec.make()
        model.fit(data, params_of(spec.space, trial), SEED)
        table = evaluate_model(model, data, truth, exclude_seen=exclude_seen)
        return float(table["ndcg@10"].mean())

    study.optimize(objective, n_trials=trials, catch=(Exception,))
    done = [t for t in study.trials if t.value is not None]
    if not done:
        raise RuntimeError(f"{spec.key}: every tuning trial failed")
    best = max(done, key=lambda t: t.value)
    return {
        "params": params_of(spec.space, optuna.trial.FixedTrial(best.params)),
        "validation_ndcg@10": float(best.value),
        "trials": len(study.trials),
        "failed_trials": len(study.trials) - len(done),
        "tuning_s": time.perf_counter() - started,
        "history": [float(t.value) if t.value is not None else np.nan for t in study.trials],
    }


def params_of(space: Space, trial: Any) -> dict[str, Any]:
    """The model parameters a trial stands for (``use_*`` switches resolved)."""
    return space(trial)
