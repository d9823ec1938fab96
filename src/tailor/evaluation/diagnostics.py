"""Diagnostics: learning-curve verdicts and residual analysis of rating predictions.

(Metric@K curves are computed by :func:`tailor.evaluation.runner.evaluate`, ``result.curves``.)

Stability: experimental.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.evaluation.segments import activity_buckets, popularity_buckets, train_counts

IMPROVING = 0.01
"""Relative change per epoch, over the last epochs, that still counts as improving."""
DROP = 0.02
"""Relative fall of the validation metric from its best that counts as overfitting."""
UNDERFIT_GAP = 0.05
"""Train ahead of validation by less than this (relative to train), curves flat: underfitting."""
VARIANCE_GAP = 0.2
"""Train ahead of validation by more than this (relative to train): overfitting (high variance),
even when the validation curve is flat."""


@dataclass(frozen=True)
class Verdict:
    """A plain-words reading of a learning curve.

    Attributes:
        kind: ``overfitting``, ``underfitting``, ``still-improving`` or ``good-fit``.
        best_epoch: epoch with the best validation metric.
        message: what the curves show.
        advice: what to try next.
    """

    kind: str
    best_epoch: int
    message: str
    advice: str


def learning_curve_verdict(
    history: pd.DataFrame, *, higher_is_better: bool = True, metric: str = "metric"
) -> Verdict:
    """Read per-epoch train and validation values and say whether the model over- or underfits.

    Rules, on values turned so that higher is better (a loss is negated):

    * **overfitting**: validation peaked before the last epoch and has since fallen by more than
      :data:`DROP` (relative), while train still improved;
    * **still-improving**: validation rose by more than :data:`IMPROVING` (relative) per epoch
      over the last two epochs: training stopped too early;
    * **overfitting** (high variance): at the last epoch train is ahead of validation by more
      than :data:`VARIANCE_GAP` of the train value, even if validation is flat: the model fits
      its training data far better than unseen data;
    * **underfitting**: train and validation are flat and close (gap under
      :data:`UNDERFIT_GAP`): the model cannot fit the training data;
    * **good-fit** otherwise: validation is at a plateau near its best, train ahead of it by
      :data:`UNDERFIT_GAP` to :data:`VARIANCE_GAP`.

    The gap is ``(train - validation) / |train|`` on the turned values: for RMSE, train 0.68 and
    validation 0.91 is a gap of 33.8 %.

    Args:
        history: columns ``epoch``, ``train`` and ``validation``, one row per epoch.
        higher_is_better: False for losses and errors (RMSE).
        metric: the metric's name, for the messages.
    """
    frame = history.sort_values("epoch")
    sign = 1.0 if higher_is_better else -1.0
    train = sign * frame["train"].to_numpy(np.float64)
    val = sign * frame["validation"].to_numpy(np.float64)
    epochs = frame["epoch"].to_numpy()
    if len(val) < 2:
        raise ValueError("need at least two epochs to read a learning curve")
    best = int(np.argmax(val))
    scale = max(abs(val[best]), 1e-12)
    tail = min(2, len(val) - 1)
    val_slope = (val[-1] - val[-1 - tail]) / tail / scale
    train_gain = (train[-1] - train[best]) / max(abs(train[best]), 1e-12)
    fall = (val[best] - val[-1]) / scale
    gap = (train[-1] - val[-1]) / max(abs(train[-1]), 1e-12)
    best_epoch = int(epochs[best])
    if best < len(val) - 1 and fall > DROP and train_gain >= 0:
        return Verdict(
            "overfitting",
            best_epoch,
            f"Validation {metric} was best at epoch {best_epoch} and has worsened {fall:.1%} "
            "since, while the training value kept improving: the model is memorising the "
            "training data.",
            f"Stop at epoch {best_epoch} (early stopping with the best epoch restored), raise the "
            "regularization, or use fewer factors / a smaller model.",
        )
    if val_slope > IMPROVING:
        return Verdict(
            "still-improving",
            best_epoch,
            f"Validation {metric} was still rising ({val_slope:.1%} per epoch over the last "
            f"{tail} epochs) when training stopped.",
            "Train for more epochs, or raise the learning rate a little.",
        )
    if gap > VARIANCE_GAP:
        return Verdict(
            "overfitting",
            best_epoch,
            f"Training {metric} is {gap:.1%} better than validation {metric} at the last epoch "
            f"(validation best at epoch {best_epoch}): the model fits its training data far "
            "better than unseen data (high variance), even though validation has levelled off.",
            "Raise the regularization, use fewer factors / a smaller model, or add training data; "
            "then compare the validation value, not the gap alone.",
        )
    if abs(gap) < UNDERFIT_GAP:
        return Verdict(
            "underfitting",
            best_epoch,
            f"Train and validation {metric} are flat and nearly equal (gap {gap:.1%}): the model "
            "is not even fitting its training data well.",
            "Lower the regularization, add capacity (more factors or neighbours), or add features.",
        )
    return Verdict(
        "good-fit",
        best_epoch,
        f"Validation {metric} has levelled off near its best (epoch {best_epoch}); the gap to "
        f"training is {gap:.1%}.",
        "Keep these settings; tune regularization and size on the validation split for more.",
    )


def epoch_history(epochs: Sequence[Mapping[str, float]]) -> tuple[pd.DataFrame, str] | None:
    """Per-epoch metrics of an iterative model as ``epoch, train, validation`` columns.

    Uses the first metric ``X`` reported both as ``train_X`` and ``validation_X``; returns the
    frame and ``X``, or None when there is no such pair or fewer than two epochs.
    """
    if len(epochs) < 2:
        return None
    keys = epochs[0].keys()
    pairs = [k.removeprefix("train_") for k in keys if k.startswith("train_")]
    metric = next((m for m in pairs if f"validation_{m}" in keys), None)
    if metric is None:
        return None
    frame = pd.DataFrame(
        {
            "epoch": [e.get("epoch", i + 1) for i, e in enumerate(epochs)],
            "train": [e[f"train_{metric}"] for e in epochs],
            "validation": [e[f"validation_{metric}"] for e in epochs],
        }
    )
    return frame, metric


def residuals(
    predictions: pd.DataFrame,
    *,
    train: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    prediction: str = "prediction",
    rating: str = Columns.VALUE,
) -> dict[str, pd.DataFrame]:
    """Error of rating predictions broken down by user activity, item popularity, rating, category.

    Each table has one row per group with ``rows``, ``rmse``, ``mae`` and ``bias`` (mean of
    prediction - rating: positive means over-prediction). Groups: ``true_rating`` always;
    ``user_activity`` and ``item_popularity`` (head/torso/tail) when ``train`` is given;
    ``category`` when ``items`` has one.

    Args:
        predictions: ``user_id, item_id`` plus the prediction and the true rating columns. Rows
            whose prediction is NaN (pairs the model cannot score) are dropped.
        train: training interactions (activity counts and popularity).
        items: catalogue with ``item_id`` and ``category``.
        prediction: column with the predicted rating.
        rating: column with the true rating.
    """
    frame = predictions.dropna(subset=[prediction])
    err = frame[prediction].to_numpy(np.float64) - frame[rating].to_numpy(np.float64)
    groups: dict[str, np.ndarray] = {"true_rating": frame[rating].to_numpy()}
    if train is not None:
        users = frame[Columns.USER_ID].astype(str).to_numpy()
        item_ids = frame[Columns.ITEM_ID].astype(str).to_numpy()
        counts = train_counts(train, Columns.USER_ID, users, distinct=None)
        groups["user_activity"] = activity_buckets(counts)
        pop = train[Columns.ITEM_ID].astype(str).value_counts()
        labels = pd.Series(popularity_buckets(pop.to_numpy()), index=pop.index)
        groups["item_popularity"] = labels.reindex(item_ids).fillna("tail").to_numpy(object)
    if items is not None and Columns.CATEGORY in items.columns:
        cats = items.drop_duplicates(Columns.ITEM_ID).set_index(
            items[Columns.ITEM_ID].drop_duplicates().astype(str)
        )[Columns.CATEGORY]
        ids = frame[Columns.ITEM_ID].astype(str)
        groups["category"] = cats.reindex(ids).fillna("unknown").astype(str).to_numpy()
    return {name: _error_table(err, labels) for name, labels in groups.items()}


def _error_table(err: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"group": labels, "err": err, "sq": err**2, "abs": np.abs(err)})
    out = frame.groupby("group", sort=True).agg(
        rows=("err", "size"), mse=("sq", "mean"), mae=("abs", "mean"), bias=("err", "mean")
    )
    out.insert(1, "rmse", np.sqrt(out.pop("mse")))
    return out.reset_index()
