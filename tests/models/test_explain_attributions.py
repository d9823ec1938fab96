"""'Because you bought X': item attributions sum to the score, on planted weights by hand and on
MovieLens 100K as a property.

Planted shop (``planted_frame``): item numbers 0..3 are i0, i2, i3, i1; user u0 (number 0)
bought i0, i2, i3 (numbers 0, 1, 2); target i1 is number 3 and item number 4 is i4.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.models import Explanation, SupportsExplain, create_model
from tailor.models.attributions import ItemAttributions, explainer_for
from tailor.testing import planted_frame

ML100K = Path(__file__).resolve().parents[2] / "../shared/data/ml-100k/u.data"
U0_HISTORY = np.array([0, 1, 2])
I1, I4 = 3, 4


def _planted(name: str, params: dict[str, Any] | None, **arrays: np.ndarray) -> Any:
    model = create_model(name, params).fit(Dataset.from_frame(planted_frame()))
    model.load_state({**model.state_arrays(), **arrays})
    return model


def _sparse(name: str, matrix: sp.csr_array) -> dict[str, np.ndarray]:
    return {
        f"{name}_data": matrix.data.astype(np.float32),
        f"{name}_indices": matrix.indices.astype(np.int64),
        f"{name}_indptr": matrix.indptr.astype(np.int64),
        f"{name}_shape": np.array(matrix.shape, np.int64),
    }


def _one(model: Any, target: int, top: int = 3) -> Explanation:
    explainer = explainer_for(model)
    assert isinstance(explainer, SupportsExplain)
    (explanation,) = explainer.explain(0, np.array([target]), top)
    return explanation


def _folded(model: Any, target: int, top: int = 3) -> Explanation:
    """u0's history explained as ``score_history`` scores it (the factor models' fold-in)."""
    (explanation,) = ItemAttributions(model).explain_history(U0_HISTORY, None, [target], top)
    assert explanation is not None
    return explanation


def test_ease_contribution_of_each_bought_item_is_its_weight_to_the_target() -> None:
    b = np.zeros((8, 8), np.float32)
    b[0, I1], b[1, I1], b[2, I1] = 0.5, 0.25, -0.125
    model = _planted("ease", None, weights=b)
    e = _one(model, I1)
    assert e == Explanation(I1, 0.0, (("i0", 0.5), ("i2", 0.25), ("i3", -0.125)), "items", 0.625)
    assert model.score_rows(np.array([0]))[0, I1] == e.score  # exactly: dyadic weights
    assert _one(model, I1, top=2).contributions == (("i0", 0.5), ("i2", 0.25))
    assert _one(model, I1, top=2).rest == -0.125


def test_itemknn_contributions_are_the_bought_items_similarities() -> None:
    s = np.zeros((8, 8), np.float32)
    s[0, I1], s[1, I1], s[2, I1], s[0, I4] = 0.5, 0.25, 0.125, 0.75
    model = _planted("itemknn", None, **_sparse("similarity", sp.csr_array(s)))
    assert _one(model, I1) == Explanation(
        I1, 0.0, (("i0", 0.5), ("i2", 0.25), ("i3", 0.125)), "items", 0.875
    )
    assert _one(model, I4) == Explanation(I4, 0.0, (("i0", 0.75),), "items", 0.75)
    assert model.score_rows(np.array([0]))[0, [I1, I4]].tolist() == [0.875, 0.75]


def test_recency_ease_contributions_are_scaled_by_the_row_maximum_on_the_trend() -> None:
    b = np.zeros((8, 8), np.float32)
    b[0, I1], b[1, I1], b[2, I1], b[0, I4] = 1.0, 0.5, 0.5, -1.0  # (p B)_i1 = 2: the scale
    trend = np.full(8, 0.125, np.float32)
    model = _planted("recency-ease", {"profile_half_life": None}, weights=b, trend=trend)
    e = _one(model, I1)
    assert e == Explanation(I1, 0.125, (("i0", 0.5), ("i2", 0.25), ("i3", 0.25)), "items", 1.125)
    assert _one(model, I4) == Explanation(I4, 0.125, (("i0", -0.5),), "items", -0.375)
    assert model.score_rows(np.array([0]))[0, [I1, I4]].tolist() == [1.125, -0.375]


def test_als_contribution_is_confidence_times_q_i_a_inverse_q_j() -> None:
    # k = 1, every q = 0.5, lambda = 2, binary with alpha 1 (c = 1): A = 8 * 0.25 + 2 = 4, so
    # each bought item adds 0.5 * 0.5 / 4 = 1/16 to every item's score
    items = np.full((8, 1), 0.5, np.float32)
    model = _planted("als", {"factors": 1, "regularization": 2.0}, item_factors=items)
    e = _folded(model, I1)
    assert e == Explanation(
        I1, 0.0, (("i0", 0.0625), ("i2", 0.0625), ("i3", 0.0625)), "items", 0.1875
    )
    assert model.score_history(U0_HISTORY)[I1] == pytest.approx(0.1875, abs=1e-7)
    # u0's own list: the learned vector's score, what it adds beyond the fold in the base
    own = _one(model, I1)
    listed = float(model.score_rows(np.array([0]))[0, I1])
    assert own.contributions == e.contributions and own.score == listed
    assert own.base_value == pytest.approx(listed - 0.1875, abs=1e-12)


def test_bpr_contribution_follows_the_ranking_fold_and_the_bias_is_the_base() -> None:
    # k = 1 (+ the bias column): q = +1 for items 0..3, -1 for 4..7 (mean 0); every user
    # vector has norm 2, so x = 2 * (3 / 3) and each bought item adds (2/3) * q_i
    users = np.tile(np.array([[2.0, 1.0]], np.float32), (12, 1))
    items = np.array([[1.0, 0.25]] * 4 + [[-1.0, 0.25]] * 4, np.float32)
    model = _planted("bpr", {"factors": 1}, user_factors=users, item_factors=items)
    e, f = _folded(model, I1), _folded(model, I4)
    assert e.kind == "items" and e.base_value == 0.25 and e.score == pytest.approx(2.25)
    assert [name for name, _ in e.contributions] == ["i0", "i2", "i3"]
    assert [v for _, v in e.contributions] == pytest.approx([2 / 3] * 3)
    assert [v for _, v in f.contributions] == pytest.approx([-2 / 3] * 3)
    assert model.score_history(U0_HISTORY)[[I1, I4]] == pytest.approx([2.25, -1.75])


def test_items_added_after_the_fit_have_nothing_to_explain() -> None:
    # ItemKNN keeps its fitted similarities through fold-in: a new item has none
    model = create_model("itemknn").fit(Dataset.from_frame(planted_frame()))
    new = pd.DataFrame({"user_id": ["u0"], "item_id": ["i9"], "value": [1.0]})
    model.partial_fit(new)
    i9 = model.items.number("i9")
    attributions = ItemAttributions(model)
    first, second = attributions.explain_history(np.array([0, i9]), None, np.array([I1, i9]))
    assert second is None and first is not None
    assert "i9" not in [name for name, _ in first.contributions]  # no weights: not counted
    with pytest.raises(ValueError, match=rf"items \[{i9}\] have no score to explain"):
        attributions.explain(0, np.array([i9]))
    with pytest.raises(IndexError, match=r"item numbers must be in 0\.\.8"):
        attributions.explain_history(U0_HISTORY, None, np.array([9]))


def test_models_without_a_linear_history_score_are_refused() -> None:
    with pytest.raises(TypeError, match="popularity: no item attributions"):
        ItemAttributions(create_model("popularity").fit(Dataset.from_frame(planted_frame())))


MODELS = {
    "itemknn": {},
    "ease": {},
    "recency-ease": {},
    "als": {"factors": 16, "iterations": 4, "seed": 0},
    "bpr": {"factors": 16, "iterations": 10, "seed": 0},
    "mf-sgd": {"embedding_size": 8, "epochs": 3, "seed": 0},
}


@pytest.fixture(scope="module")
def movielens(require: Callable[[bool, str], None]) -> Dataset:
    require(ML100K.is_file(), f"{ML100K} (MovieLens 100K) is not available")
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
    return Dataset.from_frame(frame)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_movielens_attributions_sum_to_the_history_score(movielens: Dataset, name: str) -> None:
    model = create_model(name, MODELS[name]).fit(movielens)
    attributions = ItemAttributions(model)
    every = np.arange(len(model.items))
    for user in (0, 10, 100):
        items, weights = model.user_history(user)
        folded = attributions.explain_history(items, weights, every, top=len(items))
        scores = np.array([e.score for e in folded])  # type: ignore[union-attr]
        expected = model.score_history(items, weights)
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
        explained = attributions.explain(user, every, top=len(items))  # the user's own list
        listed = model.score_rows(np.array([user]))[0]
        np.testing.assert_allclose(
            [e.score for e in explained], listed, rtol=1e-4, atol=1e-5 * np.abs(listed).max()
        )
        for e, f in zip(explained, folded, strict=True):  # same shares; nothing left over
            assert f is not None and e.contributions == f.contributions
            assert abs(e.rest) <= 1e-9 * max(1.0, abs(e.score))
        top3 = attributions.explain(user, every[:50], top=3)
        for short, full in zip(top3, explained[:50], strict=True):
            assert short.contributions == full.contributions[:3]
