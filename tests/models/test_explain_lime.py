"""LIME, the model-agnostic explanation: on planted data the decisive input comes first."""

from __future__ import annotations

import numpy as np
import pytest

from tailor.data.dataset import Dataset
from tailor.models import SupportsExplain, create_model
from tailor.models.lime_explanations import LimeHistory, lime_features
from tailor.testing import planted_frame

FEATURES = ["price", "age", "discount", "rating"]


def _score(rows: np.ndarray) -> np.ndarray:
    """Decided by the discount (feature 2); the price matters a little."""
    out: np.ndarray = 3.0 * rows[:, 2] + 0.1 * rows[:, 0]
    return out


def test_lime_ranks_the_decisive_feature_first() -> None:
    background = np.random.default_rng(0).normal(size=(400, 4))
    row = np.array([0.5, -1.0, 1.5, 0.0])
    e = lime_features(_score, row, background, FEATURES, item_num=7, top=2, samples=600)
    assert e.kind == "lime" and e.item_num == 7
    assert e.contributions[0][0] == "discount"
    assert e.contributions[0][1] > 10 * abs(e.contributions[1][1]) > 0
    assert e.score == pytest.approx(e.base_value + sum(v for _, v in e.contributions))


def test_lime_features_names_disagreeing_shapes() -> None:
    with pytest.raises(ValueError, match="row has 3 features, background"):
        lime_features(_score, np.zeros(3), np.zeros((10, 4)), FEATURES)


def test_lime_over_a_history_recovers_planted_ease_weights() -> None:
    # u0 bought items 0, 1, 2 (i0, i2, i3); their weights to item 3 (i1) are 0.5, 0.25, -0.125:
    # a linear score, so the surrogate's coefficients are those weights (Ridge shrinks a little)
    model = create_model("ease").fit(Dataset.from_frame(planted_frame()))
    b = np.zeros((8, 8), np.float32)
    b[0, 3], b[1, 3], b[2, 3] = 0.5, 0.25, -0.125
    model.load_state({**model.state_arrays(), "weights": b})
    lime = LimeHistory(model, samples=300)
    assert isinstance(lime, SupportsExplain)
    (e,) = lime.explain(0, np.array([3]))
    assert [name for name, _ in e.contributions] == ["i0", "i2", "i3"]
    assert [v for _, v in e.contributions] == pytest.approx([0.5, 0.25, -0.125], abs=0.02)
    assert e.score == pytest.approx(0.625, abs=0.02)
    assert e.rest == pytest.approx(0.0, abs=1e-9)  # every history item is a feature


def test_lime_needs_a_history() -> None:
    model = create_model("ease").fit(Dataset.from_frame(planted_frame()))
    with pytest.raises(ValueError, match="an empty history has nothing to explain"):
        LimeHistory(model).explain_history(np.empty(0, np.int64), None, np.array([0]))
