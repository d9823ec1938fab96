"""LightGBM LambdaMART: training grouped by user, prediction, and exact TreeSHAP contributions.

LightGBM is imported inside the functions: loading a ranker module costs nothing until a
ranker scores or fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tailor.errors import ModelFitError
from tailor.models.ranker.config import RankerConfig

if TYPE_CHECKING:
    import lightgbm

SMALL_ROWS = 100_000
"""Below this many rows LightGBM runs on one thread (with ``threads=0``): on small data its
OpenMP threads spend longer waiting for each other than working, worst on a busy machine."""


def lambdarank_params(cfg: RankerConfig, seed: int, threads: int) -> dict[str, Any]:
    """The LightGBM parameters of a fit (deterministic for a seed and thread count)."""
    return {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "lambda_l2": cfg.lambda_l2,
        "lambdarank_truncation_level": 20,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": threads,
        "verbosity": -1,
    }


def train(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    held_out: np.ndarray,
    names: tuple[str, ...],
    cfg: RankerConfig,
    seed: int,
    threads: int,
) -> tuple[str, dict[str, Any]]:
    """Train on the groups (users; ``groups`` their sizes, rows in group order) not
    ``held_out``, stopping early on the held-out ones' NDCG@10.

    Returns:
        The booster as LightGBM's text (only the best iteration's trees) and a summary
        (rounds, best held-out NDCG@10, training and held-out users).
    """
    import lightgbm as lgb

    if not len(groups):
        raise ModelFitError("ranker: no labelled user has a purchase among their candidates")
    row_group = np.repeat(np.arange(len(groups)), groups)
    in_valid = held_out[row_group]
    params = lambdarank_params(cfg, seed, threads or (1 if len(features) < SMALL_ROWS else 0))
    train_set = lgb.Dataset(
        features[~in_valid],
        labels[~in_valid],
        group=groups[~held_out],
        feature_name=list(names),
        free_raw_data=True,
    )
    callbacks: list[Any] = []
    valid_sets: list[lightgbm.Dataset] = []
    if held_out.any():
        valid_sets.append(
            lgb.Dataset(
                features[in_valid], labels[in_valid], group=groups[held_out], reference=train_set
            )
        )
        callbacks.append(lgb.early_stopping(cfg.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params, train_set, cfg.max_rounds, valid_sets=valid_sets, callbacks=callbacks
    )
    best = booster.best_iteration if held_out.any() and booster.best_iteration > 0 else None
    score = booster.best_score.get("valid_0", {}).get("ndcg@10") if held_out.any() else None
    summary = {
        "rounds": int(best if best is not None else booster.current_iteration()),
        "held_out_ndcg@10": None if score is None else float(score),
        "train_users": int((~held_out).sum()),
        "held_out_users": int(held_out.sum()),
    }
    return booster.model_to_string(num_iteration=best), summary


def load(text: str) -> lightgbm.Booster:
    """A booster from its text."""
    import lightgbm as lgb

    return lgb.Booster(model_str=text)


def predict(booster: lightgbm.Booster, features: np.ndarray) -> np.ndarray:
    """float32 scores (LightGBM's raw LambdaMART scores)."""
    if not len(features):
        return np.zeros(0, np.float32)
    threads = 1 if len(features) < SMALL_ROWS else 0
    return np.asarray(booster.predict(features, num_threads=threads), np.float32)


def contributions(booster: lightgbm.Booster, features: np.ndarray) -> np.ndarray:
    """Exact TreeSHAP values, (n, n_features + 1): the last column is the base value; a row
    sums to the prediction."""
    threads = 1 if len(features) < SMALL_ROWS else 0
    return np.asarray(booster.predict(features, pred_contrib=True, num_threads=threads), np.float64)
