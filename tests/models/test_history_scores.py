"""``SupportsHistory.score_history``: scores of an ad-hoc history (a session, a cart) with the
rules each model applies to a user of its own."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import NotFittedError
from tailor.models import (
    ALS,
    BPR,
    EASE,
    SGDMF,
    ItemKNN,
    SupportsHistory,
    create_model,
)
from tailor.models import _history as _history_mod
from tailor.models._history import fold_in_vector, history_row, positional_row
from tailor.models.recency_ease import RecencyEASE
from tailor.models.registry import MODELS
from tailor.testing import planted_frame
from tailor.testing.data import random_frame
from tailor.units import SECONDS_PER_DAY

FAST = {"als": {"factors": 4, "iterations": 3}, "bpr": {"factors": 4, "iterations": 5},
        "mf-sgd": {"embedding_size": 4, "epochs": 3}}  # fmt: skip


def _history(model: Any, frame: pd.DataFrame, user: str) -> tuple[np.ndarray, pd.DataFrame]:
    """The user's item numbers oldest first (ties: later rows newer) and their rows."""
    rows = frame[frame["user_id"] == user].sort_values("timestamp", kind="stable")
    return model.items.numbers(rows["item_id"].to_numpy()), rows


def _row(model: Any, user: str) -> np.ndarray:
    row: np.ndarray = model.score_rows(np.array([model.users.number(user)]))[0]
    return row


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_but_popularity_scores_histories(name: str) -> None:
    model = create_model(name, FAST.get(name))
    assert isinstance(model, SupportsHistory) == (name != "popularity")


@pytest.mark.parametrize("cls", [EASE, ItemKNN])
def test_item_item_history_of_a_user_is_that_users_row(cls: Any) -> None:
    frame = random_frame(seed=3)
    model = cls().fit(Dataset.from_frame(frame))
    for user in ["u1", "u7", "u30"]:
        nums, _ = _history(model, frame, user)
        scores = model.score_history(nums)
        assert scores.dtype == np.float32 and scores.shape == (len(model.items),)
        np.testing.assert_array_equal(scores, _row(model, user))


@pytest.mark.parametrize("cls", [EASE, ItemKNN])
def test_item_item_weights_sum_when_not_binary(cls: Any) -> None:
    frame = random_frame(seed=4)
    model = cls(binary=False).fit(Dataset.from_frame(frame))
    nums, rows = _history(model, frame, "u5")
    assert len(nums) != len(set(nums.tolist())) or len(nums) > 1
    scores = model.score_history(nums, rows["value"].to_numpy())
    np.testing.assert_allclose(scores, _row(model, "u5"), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scores, model.score_history(nums), rtol=1e-3)


def test_ease_time_decay_comes_as_weights() -> None:
    frame = random_frame(seed=5)
    model = EASE(recency_half_life_days=100.0).fit(Dataset.from_frame(frame))
    nums, rows = _history(model, frame, "u9")
    stamps = rows["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64)
    decay = np.exp2(-(stamps.max() - stamps) / SECONDS_PER_DAY / 100.0)
    np.testing.assert_allclose(
        model.score_history(nums, decay), _row(model, "u9"), rtol=1e-5, atol=1e-6
    )


def test_itemknn_scores_no_evidence_outside_the_histories_neighbours() -> None:
    model = ItemKNN().fit(Dataset.from_frame(planted_frame()))
    scores = model.score_history(model.items.numbers(["i0", "i2"]))
    group_b = model.items.numbers(["i4", "i5", "i6", "i7"])
    assert (scores[group_b] == 0.0).all()  # ItemKNN's no_evidence_score
    group_a = model.items.numbers(["i1", "i3"])
    assert (scores[group_a] > 0).all()


def test_recency_ease_history_of_a_user_is_that_users_row() -> None:
    frame = random_frame(seed=6)
    model = RecencyEASE(profile_half_life=2.0).fit(Dataset.from_frame(frame))
    for user in ["u2", "u11"]:
        nums, _ = _history(model, frame, user)
        np.testing.assert_allclose(
            model.score_history(nums), _row(model, user), rtol=1e-6, atol=1e-7
        )


def test_recency_ease_weighs_the_newest_item_highest() -> None:
    model = RecencyEASE(profile_half_life=0.5, popularity_weight=0.0).fit(
        Dataset.from_frame(planted_frame())
    )
    a_then_b = model.score_history(model.items.numbers(["i1", "i5"]))
    b_then_a = model.score_history(model.items.numbers(["i5", "i1"]))
    again = model.score_history(model.items.numbers(["i5", "i1", "i5"]))  # i5 newest again
    ids = np.asarray(model.items.ids)
    unseen = ~np.isin(ids, ["i1", "i5"])

    def top(scores: np.ndarray) -> str:
        return str(ids[unseen][np.argmax(scores[unseen])])

    assert top(a_then_b) in {"i4", "i6", "i7"}  # i5's group
    assert top(b_then_a) in {"i0", "i2", "i3"}  # i1's group
    np.testing.assert_array_equal(again, a_then_b)
    assert positional_row(np.array([2, 0, 2]), 4, 1.0, 0.0).toarray().tolist() == [
        [0.5, 0.0, 1.0, 0.0]
    ]


def test_history_rows_follow_the_fit_rules() -> None:
    nums, weights = np.array([3, 1, 3]), np.array([0.5, 2.0, 0.25])
    assert history_row(nums, weights, 5, binary=True).toarray().tolist() == [
        [0.0, 2.0, 0.0, 0.5, 0.0]
    ]
    assert history_row(nums, weights, 5, binary=False).toarray().tolist() == [
        [0.0, 2.0, 0.0, 0.75, 0.0]
    ]
    assert history_row(nums, None, 5, binary=True).toarray().tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0]]


def test_als_history_is_the_exact_user_step() -> None:
    """A new user folded in by partial_fit gets the exact ALS solve over their items; the same
    items as a history give the same scores."""
    frame = planted_frame()
    model = ALS(factors=3, iterations=10, regularization=0.5, alpha=2.0, seed=0).fit(
        Dataset.from_frame(frame)
    )
    items = ["i0", "i1", "i5"]
    scores = model.score_history(model.items.numbers(items))
    assert _history_mod._GRAMS[id(model.item_factors)][0]() is model.item_factors  # cached
    # partial_fit solves the user against the item factors before the batch, then moves the
    # batch's items: compare with the user's vector on those factors
    fixed = model.item_factors.copy()
    model.partial_fit(pd.DataFrame({"user_id": ["new"] * 3, "item_id": items}))
    vector = model.user_factors[model.users.number("new")]
    np.testing.assert_allclose(scores, fixed @ vector, rtol=1e-5, atol=1e-6)
    # fold-in replaced the factors: a new user's history is solved against the new ones
    model.partial_fit(pd.DataFrame({"user_id": ["u0", "other"], "item_id": ["i9", "i9"]}))
    after = model.score_history(model.items.numbers(["i9", "i0"]))
    fixed = model.item_factors.copy()
    model.partial_fit(pd.DataFrame({"user_id": ["late"] * 2, "item_id": ["i9", "i0"]}))
    vector = model.user_factors[model.users.number("late")]
    np.testing.assert_allclose(after, fixed @ vector, rtol=1e-5, atol=1e-6)


def test_als_folded_vector_of_a_training_user_is_close_to_the_learned_one() -> None:
    frame = planted_frame()
    model = ALS(factors=3, iterations=30, regularization=0.1, seed=1).fit(Dataset.from_frame(frame))
    for user in ["u0", "u8"]:
        nums, _ = _history(model, frame, user)
        folded = fold_in_vector(
            model.item_factors, nums, model.config.alpha * np.ones(len(nums)), 0.1
        )
        learned = model.user_factors[model.users.number(user)]
        np.testing.assert_allclose(folded, learned, atol=0.02)
        np.testing.assert_allclose(model.score_history(nums), _row(model, user), atol=0.02)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ALS, {"factors": 2, "regularization": 0.1, "iterations": 30}),
        (BPR, {"factors": 4, "learning_rate": 0.05, "iterations": 200}),
        (SGDMF, {"embedding_size": 4, "epochs": 40, "init_std": 0.3}),
        (EASE, {}),
        (ItemKNN, {}),
        (RecencyEASE, {}),
    ],
)
def test_a_groups_history_ranks_its_group_first(cls: Any, params: dict[str, Any]) -> None:
    """planted_frame: two taste groups; a session in one group's items gets the group's other
    items first, for every model."""
    model = cls(seed=0, **params).fit(Dataset.from_frame(planted_frame()))
    ids = np.asarray(model.items.ids)
    for history, rest in ((["i0", "i2"], {"i1", "i3"}), (["i6", "i5"], {"i4", "i7"})):
        scores = model.score_history(model.items.numbers(history))
        unseen = ~np.isin(ids, history)
        order = ids[unseen][np.argsort(-scores[unseen], kind="stable")]
        assert set(order[:2].tolist()) == rest, (history, order)


def test_bpr_folds_along_the_ranking_gradient_and_keeps_the_constant_column() -> None:
    model = BPR(factors=4, learning_rate=0.05, iterations=50, seed=0).fit(
        Dataset.from_frame(planted_frame())
    )
    nums = model.items.numbers(["i0", "i2", "i0"])  # a repeat counts once
    y, users = model.item_factors.astype(np.float64), model.user_factors
    x = y[nums[:2], :-1].sum(axis=0) - 2 * y[:, :-1].mean(axis=0)
    x *= np.median(np.linalg.norm(users[:, :-1], axis=1)) / np.linalg.norm(x)
    expected = y[:, :-1] @ x + y[:, -1]  # users' last column is 1: the item bias is added
    np.testing.assert_allclose(model.score_history(nums), expected, rtol=1e-5, atol=1e-6)


def test_sgdmf_history_is_scored_like_a_user_without_bias() -> None:
    model = SGDMF(loss="rmse", embedding_size=3, epochs=5, seed=0).fit(
        Dataset.from_frame(random_frame(seed=2))
    )
    nums = model.items.numbers(["i3", "i9"])
    y = model.item_factors.astype(np.float64)
    x = y[nums].sum(axis=0) - 2 * y.mean(axis=0)
    x *= np.median(np.linalg.norm(model.user_factors, axis=1)) / np.linalg.norm(x)
    expected = y @ x + model.item_bias + model.global_mean[0]
    np.testing.assert_allclose(model.score_history(nums), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(  # nothing to fold: the biases alone rank
        model.score_history(np.array([], np.int64)),
        model.item_bias + model.global_mean[0],
        rtol=1e-6,
    )


@pytest.mark.parametrize("name", ["ease", "itemknn", "recency-ease", "als", "bpr", "mf-sgd"])
def test_bad_histories_are_refused(name: str) -> None:
    model = create_model(name, FAST.get(name))
    with pytest.raises(NotFittedError):
        model.score_history(np.array([0]))
    model.fit(Dataset.from_frame(planted_frame()))
    with pytest.raises(IndexError):
        model.score_history(np.array([0, 8]))
    with pytest.raises(IndexError):
        model.score_history(np.array([-1]))
    with pytest.raises(ValueError, match="weights"):
        model.score_history(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match="finite"):
        model.score_history(np.array([0, 1]), np.array([1.0, np.nan]))
    empty = model.score_history(np.array([], dtype=np.int64))
    assert empty.shape == (8,) and empty.dtype == np.float32


def test_items_added_by_fold_in_score_nan_and_add_nothing() -> None:
    # ItemKNN's similarities stay as fitted: a new item has none
    model = ItemKNN().fit(Dataset.from_frame(planted_frame()))
    before = model.score_history(model.items.numbers(["i0", "i2"]))
    model.partial_fit(pd.DataFrame({"user_id": ["u0"], "item_id": ["brand-new"]}))
    new = model.items.number("brand-new")
    scores = model.score_history(np.array([*model.items.numbers(["i0", "i2"]), new]))
    assert np.isnan(scores[new])
    np.testing.assert_array_equal(scores[:8], before)


@pytest.mark.parametrize("cls", [EASE, RecencyEASE])
def test_items_added_by_fold_in_score_as_after_a_fit_on_the_union(cls: Any) -> None:
    # EASE's weights B gain the new item's row and column (docs/models.md, Fold-in)
    frame = planted_frame()
    batch = pd.DataFrame(
        {
            "user_id": ["u0"],
            "item_id": ["brand-new"],
            "value": [1.0],
            "timestamp": [frame["timestamp"].max() + pd.Timedelta(days=1)],
        }
    )
    model = cls().fit(Dataset.from_frame(frame)).partial_fit(batch)
    full = cls().fit(Dataset.from_frame(pd.concat([frame, batch], ignore_index=True)))
    history = ["i0", "i2", "brand-new"]
    got = model.score_history(model.items.numbers(history))
    want = full.score_history(full.items.numbers(history))[full.items.numbers(model.items.ids)]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (EASE, {}),
        (EASE, {"binary": False}),
        (EASE, {"recency_half_life_days": 50.0}),
        (ItemKNN, {"binary": False, "recency_half_life_days": 80.0}),
        (RecencyEASE, {}),
        (RecencyEASE, {"profile_half_life": 1.5, "profile_floor": 0.2}),
    ],
)
def test_a_users_own_history_scores_as_their_row(cls: Any, params: dict[str, Any]) -> None:
    """user_history gives back what score_history needs to rebuild the user's profile row
    (weights, decay, positions), also after a fold-in."""
    frame = random_frame(seed=8)
    model = cls(**params).fit(Dataset.from_frame(frame))
    model.partial_fit(frame.sample(30, random_state=1).assign(user_id="u3"))
    for user in ["u0", "u3", "u21"]:
        num = model.users.number(user)
        nums, weights = model.user_history(num)
        assert set(nums.tolist()) == set(model.seen[[num]].indices.tolist())
        np.testing.assert_allclose(
            model.score_history(nums, weights), _row(model, user), rtol=1e-5, atol=1e-6
        )
    with pytest.raises(IndexError):
        model.user_history(len(model.users))


def test_recency_ease_user_history_is_oldest_first() -> None:
    model = RecencyEASE(profile_half_life=1.0).fit(Dataset.from_frame(planted_frame()))
    nums, weights = model.user_history(model.users.number("u0"))
    # u0's rows in time order: i0, i2, i3 (planted_frame numbers rows in time)
    assert model.items.id_of(nums).tolist() == ["i0", "i2", "i3"] and weights is None


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ALS, {"factors": 3, "iterations": 30, "regularization": 0.1}),
        (ALS, {"factors": 3, "iterations": 30, "binary": False, "alpha": 0.5}),
        (BPR, {"factors": 4, "iterations": 20}),
        (SGDMF, {"embedding_size": 4, "epochs": 5}),
    ],
)
def test_factor_models_give_their_users_items(cls: Any, params: dict[str, Any]) -> None:
    frame = planted_frame().assign(value=[1.0 + (k % 3) for k in range(len(planted_frame()))])
    model = cls(seed=0, **params).fit(Dataset.from_frame(frame))
    num = model.users.number("u7")
    nums, weights = model.user_history(num)
    assert sorted(model.items.id_of(nums).tolist()) == ["i4", "i5", "i7"]  # u7 missed i6
    if cls is ALS:
        np.testing.assert_array_equal(weights, model.user_items[[num]].data)
        np.testing.assert_allclose(model.score_history(nums, weights), _row(model, "u7"), atol=0.03)
    else:
        assert weights is None
