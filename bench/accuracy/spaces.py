"""The models under test and their search spaces (Optuna define-by-run), tailor's and the peers'.

tailor's spaces (and the first trials) come from the library: ``tailor.training.spaces``.

Every model gets the same tuning budget (trials) and its library defaults as the first trial.
Spaces of a tailor model and its peer counterpart match (ALS, BPR) so that the budget is equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import peers

from models import TailorModel, TopN
from tailor.training.spaces import BENCH_STARTS, DEFAULT_SPACES

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


_LIBRARY = DEFAULT_SPACES
"""tailor's spaces live in the library (tailor.training.spaces, also what ``tailor tune`` and
``tailor train`` search by default); the ALS and BPR peers share them so that the budget is equal.
Only the searched parameters are taken here: the fixed ones (binary interactions, the WARP loss)
are the TailorModel's below."""


def _als(t: Any) -> dict[str, Any]:
    return _LIBRARY["als"].suggest(t)


def _bpr(t: Any) -> dict[str, Any]:
    return _LIBRARY["bpr"].suggest(t)


def _ease(t: Any) -> dict[str, Any]:
    return _LIBRARY["ease"].suggest(t)


def _recency_ease(t: Any) -> dict[str, Any]:
    return _LIBRARY["recency-ease"].suggest(t)


def _itemknn(t: Any) -> dict[str, Any]:
    return _LIBRARY["itemknn"].suggest(t)


def _popularity(t: Any) -> dict[str, Any]:
    return _LIBRARY["popularity"].suggest(t)


def _mf_warp(t: Any) -> dict[str, Any]:
    return _LIBRARY["mf-sgd"].suggest(t)


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
    Spec("tailor popularity", _tailor("popularity"), _popularity, BENCH_STARTS["popularity"]),
    Spec(
        "tailor itemknn",
        _tailor("itemknn", binary=True),
        _itemknn,
        BENCH_STARTS["itemknn"],
    ),
    Spec("tailor ease", _tailor("ease", binary=True), _ease, BENCH_STARTS["ease"]),
    Spec(
        "tailor recency-ease",
        _tailor("recency-ease"),
        _recency_ease,
        BENCH_STARTS["recency-ease"],
    ),
    Spec(
        "tailor als",
        _tailor("als", binary=True),
        _als,
        BENCH_STARTS["als"],
    ),
    Spec(
        "tailor bpr",
        _tailor("bpr"),
        _bpr,
        BENCH_STARTS["bpr"],
    ),
    Spec(
        "tailor mf-sgd (warp)",
        _tailor("mf-sgd", loss="warp"),
        _mf_warp,
        BENCH_STARTS["mf-sgd"],
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
