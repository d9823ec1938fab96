"""The models under test and their search spaces (Optuna define-by-run), tailor's and the peers'.

Every model gets the same tuning budget (trials) and its library defaults as the first trial.
Spaces of a tailor model and its peer counterpart match (ALS, BPR) so that the budget is equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import peers

from models import TailorModel, TopN

Space = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """A model factory, its search space and the parameters of its first (default) trial."""

    key: str
    make: Callable[[], TopN]
    space: Space
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def library(self) -> str:
        return self.make().library


def _als(t: Any) -> dict[str, Any]:
    return {
        "factors": t.suggest_int("factors", 16, 256, log=True),
        "regularization": t.suggest_float("regularization", 1e-3, 10.0, log=True),
        "alpha": t.suggest_float("alpha", 0.5, 50.0, log=True),
        "iterations": t.suggest_int("iterations", 5, 30),
    }


def _bpr(t: Any) -> dict[str, Any]:
    return {
        "factors": t.suggest_int("factors", 16, 256, log=True),
        "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.2, log=True),
        "regularization": t.suggest_float("regularization", 1e-5, 0.1, log=True),
        "iterations": t.suggest_int("iterations", 20, 200, log=True),
    }


def _ease(t: Any) -> dict[str, Any]:
    return {"regularization": t.suggest_float("regularization", 10.0, 5000.0, log=True)}


def _optional(t: Any, name: str, low: float, high: float) -> float | None:
    """A log-uniform value, or None (the option off)."""
    if not t.suggest_categorical(f"use_{name}", [True, False]):
        return None
    return float(t.suggest_float(name, low, high, log=True))


def _recency_ease(t: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "regularization": t.suggest_float("regularization", 10.0, 5000.0, log=True),
        "gram_half_life_days": _optional(t, "gram_half_life_days", 7.0, 720.0),
        "profile_half_life": _optional(t, "profile_half_life", 1.0, 200.0),
        "popularity_weight": _optional(t, "popularity_weight", 0.01, 2.0) or 0.0,
    }
    if params["profile_half_life"] is not None:
        params["profile_floor"] = t.suggest_float("profile_floor", 0.0, 0.5)
    if params["popularity_weight"] > 0:
        params["popularity_half_life_days"] = t.suggest_float(
            "popularity_half_life_days", 1.0, 60.0, log=True
        )
    return params


def _itemknn(t: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "k": t.suggest_int("k", 10, 500, log=True),
        "similarity": t.suggest_categorical("similarity", ["cosine", "asymmetric_cosine"]),
        "shrink": t.suggest_float("shrink", 0.0, 100.0),
        "weighting": t.suggest_categorical("weighting", ["none", "tfidf", "bm25"]),
    }
    if params["similarity"] == "asymmetric_cosine":
        params["alpha"] = t.suggest_float("alpha", 0.0, 1.0)
    return params


def _popularity(t: Any) -> dict[str, Any]:
    return {"half_life_days": _optional(t, "half_life_days", 1.0, 365.0)}


def _mf_warp(t: Any) -> dict[str, Any]:
    return {
        "embedding_size": t.suggest_int("embedding_size", 16, 256, log=True),
        "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.2, log=True),
        "regularization": t.suggest_float("regularization", 1e-5, 0.1, log=True),
        "epochs": t.suggest_int("epochs", 5, 40),
    }


def _lightfm(t: Any) -> dict[str, Any]:
    return {
        "factors": t.suggest_int("factors", 16, 256, log=True),
        "learning_rate": t.suggest_float("learning_rate", 5e-3, 0.2, log=True),
        "regularization": t.suggest_float("regularization", 1e-7, 1e-2, log=True),
        "epochs": t.suggest_int("epochs", 5, 40),
    }


def _lenskit_imf(t: Any) -> dict[str, Any]:
    return {
        "factors": t.suggest_int("factors", 16, 256, log=True),
        "regularization": t.suggest_float("regularization", 1e-3, 10.0, log=True),
        "weight": t.suggest_float("weight", 1.0, 100.0, log=True),
        "epochs": t.suggest_int("epochs", 5, 30),
    }


def _lenskit_knn(t: Any) -> dict[str, Any]:
    return {
        "max_nbrs": t.suggest_int("max_nbrs", 5, 500, log=True),
        "min_sim": t.suggest_float("min_sim", 1e-6, 0.1, log=True),
    }


def _tailor(name: str, **fixed: Any) -> Callable[[], TopN]:
    return lambda: TailorModel(name, fixed)


TOPN: list[Spec] = [
    Spec("tailor popularity", _tailor("popularity"), _popularity, {"use_half_life_days": False}),
    Spec(
        "tailor itemknn",
        _tailor("itemknn", binary=True),
        _itemknn,
        {"k": 100, "similarity": "cosine", "shrink": 0.0, "weighting": "none"},
    ),
    Spec("tailor ease", _tailor("ease", binary=True), _ease, {"regularization": 500.0}),
    Spec(
        "tailor recency-ease",
        _tailor("recency-ease"),
        _recency_ease,
        {
            "regularization": 500.0,
            "use_gram_half_life_days": False,
            "use_profile_half_life": False,
            "use_popularity_weight": False,
        },
    ),
    Spec(
        "tailor als",
        _tailor("als", binary=True),
        _als,
        {"factors": 64, "regularization": 0.01, "alpha": 1.0, "iterations": 15},
    ),
    Spec(
        "tailor bpr",
        _tailor("bpr"),
        _bpr,
        {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
    ),
    Spec(
        "tailor mf-sgd (warp)",
        _tailor("mf-sgd", loss="warp"),
        _mf_warp,
        {"embedding_size": 64, "learning_rate": 0.05, "regularization": 0.001, "epochs": 20},
    ),
    Spec(
        "implicit ALS",
        peers.ImplicitALS,
        _als,
        {"factors": 100, "regularization": 0.01, "alpha": 1.0, "iterations": 15},
    ),
    Spec(
        "implicit BPR",
        peers.ImplicitBPR,
        _bpr,
        {"factors": 100, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
    ),
    Spec(
        "LightFM WARP",
        peers.LightFMWARP,
        _lightfm,
        {"factors": 64, "learning_rate": 0.05, "regularization": 1e-6, "epochs": 20},
    ),
    Spec(
        "LensKit ImplicitMF",
        peers.LensKitImplicitMF,
        _lenskit_imf,
        {"factors": 50, "regularization": 0.1, "weight": 40.0, "epochs": 10},
    ),
    Spec(
        "LensKit ItemKNN",
        peers.LensKitItemKNN,
        _lenskit_knn,
        {"max_nbrs": 20, "min_sim": 1e-6},
    ),
]
"""Top-N models in report order: tailor's first, then the peers."""


def rating_space(t: Any) -> dict[str, Any]:
    """Shared space of the rating models (Surprise SVD/SVD++ and tailor's SGD MF)."""
    return {
        "factors": t.suggest_int("factors", 8, 256, log=True),
        "epochs": t.suggest_int("epochs", 10, 80),
        "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.05, log=True),
        "regularization": t.suggest_float("regularization", 1e-3, 0.3, log=True),
    }


RATING_DEFAULTS = {"factors": 100, "epochs": 20, "learning_rate": 0.005, "regularization": 0.02}
"""Surprise SVD's defaults: the first trial of every rating model."""
