"""WideDeepConfig: the hyperparameters of :class:`~tailor.models.wide_deep.model.WideDeep`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tailor.models.base import ModelConfig


class WideDeepConfig(ModelConfig):
    """Hyperparameters of Wide & Deep. The defaults are a strong ranking model for implicit
    feedback on a shop catalogue (chosen on ML-100K's validation part and confirmed on Online
    Retail's test, docs/models.md "Wide & Deep"); side features are used when the Dataset
    carries them."""

    embedding_size: int = Field(32, ge=1)
    """Width k of every embedding (user, item, each categorical value, the text projection)."""
    hidden: tuple[int, ...] = (64, 32)
    """Widths of the deep part's hidden layers (ReLU, dropout after each)."""
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    """Dropout after each hidden layer while training (tune in 0.2-0.5)."""
    id_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Probability that a training example's item id (embedding and id bias) is hidden, so the
    content features (categories, price bucket, text) learn to score items on their own: what
    a new item has."""
    learning_rate: float = Field(0.01, gt=0.0)
    """Adam step size."""
    weight_decay: float = Field(0.5, ge=0.0)
    """Decoupled weight decay (AdamW) on every parameter: each step shrinks them by
    ``learning_rate * weight_decay``. Strong, because the id product otherwise memorises which
    items each user was shown as negatives."""
    epochs: int = Field(15, ge=1)
    """Most passes over the distinct (user, item) pairs."""
    batch_size: int = Field(1024, ge=1)
    """Positive pairs per step (each with ``negatives`` sampled items)."""
    negatives: int = Field(16, ge=1)
    """Items drawn uniformly per positive; the loss is a softmax over the positive and them."""
    early_stopping_patience: int | None = Field(3, ge=1)
    """With ``FitOptions.validation``: stop after this many epochs without a better validation
    NDCG@10 and keep the best epoch's parameters. None: run every epoch and keep the last."""
    item_columns: tuple[str, ...] = ("category",)
    """Categorical columns of the Dataset's item features (absent ones hold one value)."""
    user_columns: tuple[str, ...] = ("country",)
    """Categorical columns of the Dataset's user features (absent ones hold one value)."""
    price_column: str | None = "price"
    """Numeric item column turned into ``price_buckets`` quantile buckets; None: not used."""
    price_buckets: int = Field(8, ge=2)
    """Number of price buckets (edges at training items' price quantiles)."""
    text_column: str | None = "title"
    """Item text column (product descriptions) read as TF-IDF; None: not used."""
    text_features: int = Field(2000, ge=1)
    """Largest TF-IDF vocabulary (the most frequent terms of the training items' text)."""
    fold_in_epochs: int = Field(30, ge=1)
    """Gradient steps on a folded-in user's vector (``partial_fit``, ``score_history``)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: ``auto`` = CUDA when present, else CPU (scores do not depend on it
    beyond float rounding)."""
