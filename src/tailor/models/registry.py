"""Model names used by the CLI, configs and manifests, mapped to their classes (imported lazily)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tailor.errors import ConfigError

if TYPE_CHECKING:
    from tailor.models.base import RecommenderBase

MODELS: dict[str, str] = {
    "popularity": "tailor.models.popular:Popularity",
    "mf-sgd": "tailor.models.mf_sgd:SGDMF",
    "itemknn": "tailor.models.knn:ItemKNN",
    "ease": "tailor.models.ease:EASE",
    "als": "tailor.models.implicit_models:ALS",
    "bpr": "tailor.models.implicit_models:BPR",
    "recency-ease": "tailor.models.recency_ease:RecencyEASE",
    "content": "tailor.models.content:Content",
    "ranker": "tailor.models.ranker:Ranker",
    "wide-deep": "tailor.models.wide_deep:WideDeep",
}
"""name -> "module:Class". Later models register here; nothing outside tailor.models is loaded."""


def model_class(name: str) -> type[RecommenderBase[Any]]:
    """The class registered under ``name``; a ConfigError lists the valid names otherwise."""
    try:
        module, cls = MODELS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    found: type[RecommenderBase[Any]] = getattr(importlib.import_module(module), cls)
    return found


def create_model(name: str, params: dict[str, Any] | None = None) -> RecommenderBase[Any]:
    """Instantiate model ``name`` with hyperparameters validated by its config class."""
    from tailor.models.base import validated_config

    cls = model_class(name)
    return cls(validated_config(cls.config_class, params or {}, name))
