"""Hyperparameters of the second-stage ranker (:class:`~tailor.models.ranker.model.Ranker`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tailor.models.base import ModelConfig, validated_config

CANDIDATE_MODELS = ("recency-ease", "als", "itemknn")
"""The first-stage models, by registry name: each one's top items are candidates, and each one's
score and rank of every candidate are features."""

FIXED_SUBMODEL_PARAMS: dict[str, dict[str, Any]] = {"recency-ease": {"popularity_weight": 0.0}}
"""What the ranker sets on its candidate models whatever the config says: RecencyEASE's trend
blend is off (item popularity and its trend are the ranker's own features, frozen between
fits, so folding a batch in leaves other users' lists unchanged)."""


class RankerConfig(ModelConfig):
    """Hyperparameters of :class:`~tailor.models.ranker.model.Ranker`. Defaults: strong on the
    benchmark data sets (docs/models.md, "Second-stage ranker"); the candidate models keep
    their own benchmark defaults unless ``submodels`` overrides them."""

    target: Literal["novel", "repeat"] = "novel"
    """What the ranker learns to put first: ``novel``, items the user never bought (the user's
    own items are not training candidates; serve with ``exclude_seen``); ``repeat``, any
    purchase, so the user's past items compete with discoveries and the own-history features
    decide when to re-offer (serve without ``exclude_seen``)."""
    label_split: Literal["time", "user"] = "time"
    """How the training labels are cut from the fit data: ``time``, the last ``label_days`` of
    the log (a shop predicting the next weeks); ``user``, each user's last ``label_fraction``
    of interactions (per-user temporal protocols such as MovieLens')."""
    label_days: float = Field(30.0, gt=0.0)
    """Days at the end of the fit data whose purchases label the candidates (``time``)."""
    label_windows: int = Field(3, ge=1)
    """Label windows stacked for training (``time``): the last ``label_days``, the
    ``label_days`` before them (cut from the data without its last window), and so on; each
    fits the candidate models on its own history. More windows, more labelled users."""
    label_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of each user's interactions, the latest, that label the candidates (``user``)."""
    candidates_per_model: int = Field(100, ge=1)
    """Top items (not yet bought) taken from each candidate model per user."""
    popular_candidates: int = Field(50, ge=0)
    """Most recently popular items added to every user's candidates."""
    trend_days: float = Field(30.0, gt=0.0)
    """Window of the recent-popularity features (distinct users in the last ``trend_days``)."""
    learning_rate: float = Field(0.05, gt=0.0, le=1.0)
    """LightGBM shrinkage."""
    num_leaves: int = Field(31, ge=2)
    """Leaves per tree."""
    min_data_in_leaf: int = Field(50, ge=1)
    """Fewest candidates in a leaf (guards against splits on a few users)."""
    feature_fraction: float = Field(0.8, gt=0.0, le=1.0)
    """Share of the features each tree sees."""
    lambda_l2: float = Field(1.0, ge=0.0)
    """L2 penalty on the leaf values."""
    max_rounds: int = Field(1000, ge=1)
    """Most boosting rounds; early stopping on held-out users picks the number."""
    early_stopping_rounds: int = Field(50, ge=1)
    """Rounds without a better held-out NDCG@10 before training stops."""
    validation_share: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of the labelled users held out for early stopping."""
    max_train_users: int = Field(20_000, ge=2)
    """Labelled users sampled for training at most (bounds the fit's time and memory)."""
    submodels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Hyperparameters of the candidate models by registry name (e.g. ``{"als": {"factors":
    64}}``); unnamed ones keep their defaults."""

    @field_validator("submodels")
    @classmethod
    def _known_submodels(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from tailor.models.registry import model_class

        for name, params in value.items():
            if name not in CANDIDATE_MODELS:
                raise ValueError(
                    f"unknown candidate model {name!r}; choose among {list(CANDIDATE_MODELS)}"
                )
            cls_ = model_class(name)
            validated_config(cls_.config_class, params, name)  # a clear error now, not at fit
        return value

    def submodel_params(self, name: str) -> dict[str, Any]:
        """The hyperparameters candidate model ``name`` is built with (the seed included)."""
        return {
            **self.submodels.get(name, {}),
            **FIXED_SUBMODEL_PARAMS.get(name, {}),
            "seed": self.seed,
        }
