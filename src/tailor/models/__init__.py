"""Recommender models behind one protocol."""

from tailor.models.base import (
    FitOptions,
    ModelConfig,
    Recommender,
    RecommenderBase,
    SupportsPartialFit,
    SupportsSimilarItems,
)
from tailor.models.popular import Popularity, PopularityConfig
from tailor.models.registry import create_model, model_class

__all__ = [
    "FitOptions",
    "ModelConfig",
    "Popularity",
    "PopularityConfig",
    "Recommender",
    "RecommenderBase",
    "SupportsPartialFit",
    "SupportsSimilarItems",
    "create_model",
    "model_class",
]
