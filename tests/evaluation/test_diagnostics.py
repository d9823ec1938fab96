"""Learning-curve verdicts and residual analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.evaluation import learning_curve_verdict, residuals
from tailor.evaluation.diagnostics import UNDERFIT_GAP, VARIANCE_GAP


def _history(train: list[float], val: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"epoch": range(1, len(train) + 1), "train": train, "validation": val})


def test_overfitting_verdict_names_the_best_epoch() -> None:
    v = learning_curve_verdict(
        _history([0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.15, 0.2, 0.22, 0.21, 0.19, 0.17])
    )
    assert v.kind == "overfitting" and v.best_epoch == 3
    assert "epoch 3" in v.message and "regularization" in v.advice


def test_still_improving_and_underfitting_and_good_fit() -> None:
    assert (
        learning_curve_verdict(_history([0.1, 0.2, 0.3, 0.4], [0.1, 0.15, 0.2, 0.25])).kind
        == "still-improving"
    )
    assert (
        learning_curve_verdict(_history([0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1])).kind
        == "underfitting"
    )
    # a flat validation curve 11.8 % below train (0.34 vs 0.30): within VARIANCE_GAP
    assert (
        learning_curve_verdict(_history([0.3, 0.33, 0.34, 0.34], [0.25, 0.3, 0.3, 0.3])).kind
        == "good-fit"
    )


def test_large_gap_with_flat_validation_is_overfitting_not_good_fit() -> None:
    # validation flat at 0.30 for three epochs, train 34 % better (0.455 vs 0.30): high variance
    v = learning_curve_verdict(
        _history([0.30, 0.40, 0.44, 0.45, 0.455], [0.28, 0.295, 0.30, 0.30, 0.30])
    )
    assert v.kind == "overfitting"
    assert "34.1%" in v.message and "regularization" in v.advice
    # the same shape as a loss (RMSE): train 0.68, validation flat at 0.91 -> gap 33.8 %
    loss = learning_curve_verdict(
        _history([0.9, 0.75, 0.7, 0.68], [0.95, 0.91, 0.91, 0.91]), higher_is_better=False
    )
    assert loss.kind == "overfitting" and "33.8%" in loss.message


def test_gap_thresholds_are_the_documented_ones() -> None:
    assert (UNDERFIT_GAP, VARIANCE_GAP) == (0.05, 0.2)
    flat = [0.3, 0.3, 0.3]
    # gap just under 20 % -> good fit; just over -> overfitting (variance)
    assert learning_curve_verdict(_history([0.374] * 3, flat)).kind == "good-fit"
    assert learning_curve_verdict(_history([0.376] * 3, flat)).kind == "overfitting"


def test_loss_curves_are_read_lower_is_better() -> None:
    v = learning_curve_verdict(
        _history([1.0, 0.8, 0.6, 0.4, 0.3], [1.0, 0.9, 0.95, 1.0, 1.1]), higher_is_better=False
    )
    assert v.kind == "overfitting" and v.best_epoch == 2


def test_residuals_by_hand() -> None:
    preds = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "item_id": ["x", "y", "x", "z"],
            "prediction": [4.0, 2.0, 3.0, np.nan],
            "value": [5.0, 2.0, 5.0, 1.0],
        }
    )
    train = pd.DataFrame({"user_id": ["a"] * 5 + ["b"], "item_id": ["x"] * 5 + ["y"]})
    items = pd.DataFrame({"item_id": ["x", "y"], "category": ["A", "B"]})
    tables = residuals(preds, train=train, items=items)
    by_rating = tables["true_rating"].set_index("group")
    assert by_rating.loc[5.0, "rows"] == 2
    assert by_rating.loc[5.0, "rmse"] == pytest.approx(np.sqrt((1 + 4) / 2))
    assert by_rating.loc[5.0, "bias"] == pytest.approx(-1.5)
    act = tables["user_activity"].set_index("group")
    assert act.loc["5-19", "rows"] == 2 and act.loc["1-4", "mae"] == pytest.approx(2.0)
    pop = tables["item_popularity"].set_index("group")
    assert pop.loc["head", "rows"] == 2  # x
    assert tables["category"].set_index("group").loc["B", "rmse"] == 0.0
