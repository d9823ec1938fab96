"""Recommender models behind one protocol."""

from tailor.models.base import (
    FitOptions,
    ModelConfig,
    Recommender,
    RecommenderBase,
    SupportsPartialFit,
    SupportsSimilarItems,
)
from tailor.models.ease import EASE, EASEConfig
from tailor.models.implicit_models import ALS, BPR, ALSConfig, BPRConfig
from tailor.models.knn import ItemKNN, ItemKNNConfig
from tailor.models.mf_sgd import SGDMF, SGDMFConfig
from tailor.models.popular import Popularity, PopularityConfig
from tailor.models.registry import create_model, model_class

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "SGDMF",
    "ALSConfig",
    "BPRConfig",
    "EASEConfig",
    "FitOptions",
    "ItemKNN",
    "ItemKNNConfig",
    "ModelConfig",
    "Popularity",
    "PopularityConfig",
    "Recommender",
    "RecommenderBase",
    "SGDMFConfig",
    "SupportsPartialFit",
    "SupportsSimilarItems",
    "create_model",
    "model_class",
]
