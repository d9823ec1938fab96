"""Recommender models behind one protocol (``Recommender``) and its capabilities.

The model classes load lazily (PEP 562): ``from tailor.models import EASE`` imports
``tailor.models.ease`` on first use, so importing the protocol, the registry or a model folder
(the server does) never loads the training kernels (numba-compiled fit loops, implicit) of models
it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tailor.models.base import (
    FitOptions,
    FoldIn,
    ModelConfig,
    Recommender,
    RecommenderBase,
    SupportsDeferredWeights,
    SupportsFactors,
    SupportsHistory,
    SupportsPartialFit,
    SupportsSimilarItems,
)
from tailor.models.explain import Explanation, SupportsExplain

if TYPE_CHECKING:
    from tailor.models.ease import EASE, EASEConfig
    from tailor.models.implicit_models import ALS, BPR, ALSConfig, BPRConfig
    from tailor.models.knn import ItemKNN, ItemKNNConfig
    from tailor.models.mf_sgd import SGDMF, SGDMFConfig
    from tailor.models.model_dir import ModelDir
    from tailor.models.popular import Popularity, PopularityConfig
    from tailor.models.registry import create_model, model_class

_LAZY = {
    "EASE": "ease",
    "EASEConfig": "ease",
    "ALS": "implicit_models",
    "BPR": "implicit_models",
    "ALSConfig": "implicit_models",
    "BPRConfig": "implicit_models",
    "ItemKNN": "knn",
    "ItemKNNConfig": "knn",
    "SGDMF": "mf_sgd",
    "SGDMFConfig": "mf_sgd",
    "ModelDir": "model_dir",
    "Popularity": "popular",
    "PopularityConfig": "popular",
    "create_model": "registry",
    "model_class": "registry",
}
"""Public name -> submodule that defines it (imported on first access)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tailor.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tailor.models.{module}"), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "SGDMF",
    "ALSConfig",
    "BPRConfig",
    "EASEConfig",
    "Explanation",
    "FitOptions",
    "FoldIn",
    "ItemKNN",
    "ItemKNNConfig",
    "ModelConfig",
    "ModelDir",
    "Popularity",
    "PopularityConfig",
    "Recommender",
    "RecommenderBase",
    "SGDMFConfig",
    "SupportsDeferredWeights",
    "SupportsExplain",
    "SupportsFactors",
    "SupportsHistory",
    "SupportsPartialFit",
    "SupportsSimilarItems",
    "create_model",
    "model_class",
]
