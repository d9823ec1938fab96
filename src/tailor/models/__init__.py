"""Recommender models behind one protocol (``Recommender``) and its capabilities."""

from tailor.models.base import (
    FitOptions,
    FoldIn,
    ModelConfig,
    Recommender,
    RecommenderBase,
    SupportsFactors,
    SupportsPartialFit,
    SupportsSimilarItems,
)
from tailor.models.ease import EASE, EASEConfig
from tailor.models.implicit_models import ALS, BPR, ALSConfig, BPRConfig
from tailor.models.knn import ItemKNN, ItemKNNConfig
from tailor.models.mf_sgd import SGDMF, SGDMFConfig
from tailor.models.model_dir import ModelDir
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
    "SupportsFactors",
    "SupportsPartialFit",
    "SupportsSimilarItems",
    "create_model",
    "model_class",
]
