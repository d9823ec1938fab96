"""EASE's and RecencyEASE's weights B under partial_fit: the Woodbury update of the kept inverse
(``_gram_inverse``) or a new inverse when cheaper, its rebuild after loading, RecencyEASE's
decayed Gram, and deferred folds (``defer_weights``, ``refresh_weights``).

Hand-worked: the toy matrix of conftest with lambda = 1 (test_ease.py) has
P = (G + I)^-1 = [[20, -10, 0, 0], [-10, 19, -8, 4], [0, -8, 16, -8], [0, 4, -8, 24]] / 40 and
B_ij = -P_ij / P_jj, i.e. the rows of B over (a, b, c, d) are TOY_B below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models import EASE
from tailor.models import _gram_inverse as gi
from tailor.models.base import SupportsDeferredWeights
from tailor.models.recency_ease import RecencyEASE

Toy = Callable[..., pd.DataFrame]
TOY_B = np.array(
    [
        [0.0, 10 / 19, 0.0, 0.0],
        [1 / 2, 0.0, 1 / 2, -1 / 6],
        [0.0, 8 / 19, 0.0, 1 / 3],
        [0.0, -4 / 19, 1 / 2, 0.0],
    ]
)
LATE = [("B", "c"), ("D", "d")]
"""Pairs of the toy held back from the fit and folded in: d is new to the model."""
OFF: dict[str, Any] = {"profile_half_life": None, "popularity_weight": 0.0}
MODELS: dict[str, Callable[..., Any]] = {
    "ease": lambda **kw: EASE(**{"regularization": 1.0, **kw}),
    "recency-ease": lambda **kw: RecencyEASE(**{"regularization": 1.0, **OFF, **kw}),
}


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    late = frame[[(u, i) in LATE for u, i in zip(frame["user_id"], frame["item_id"], strict=True)]]
    return frame.drop(late.index), late


def _b(model: Any, order: list[str]) -> np.ndarray:
    nums = model.items.numbers(order)
    return np.asarray(model.weights)[np.ix_(nums, nums)]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batches", [1, 2])
def test_folded_weights_equal_the_hand_worked_fit(name: str, batches: int, toy: Toy) -> None:
    early, late = _split(toy())
    model = MODELS[name]().fit(Dataset.from_frame(early))
    assert len(model.items) == 3  # a b c; d arrives with the batch
    for part in np.array_split(np.arange(len(late)), batches):
        model.partial_fit(late.iloc[part])
    assert model.weights.shape == (4, 4)
    np.testing.assert_allclose(_b(model, list("abcd")), TOY_B, atol=1e-6)
    # so C (b, c) scores d 1/3 - 1/6 = 1/6, as test_ease.py's fit on the whole toy does
    if name == "ease":
        assert model.score(["C"], ["d"]).tolist() == pytest.approx([1 / 6], abs=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_a_loaded_model_rebuilds_the_inverse_from_its_weights(
    name: str, toy: Toy, tmp_path: Path
) -> None:
    early, late = _split(toy())
    MODELS[name]().fit(Dataset.from_frame(early)).save(tmp_path / "m")
    loaded = type(MODELS[name]()).load(tmp_path / "m")
    loaded.partial_fit(late)
    np.testing.assert_allclose(_b(loaded, list("abcd")), TOY_B, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("foreign", ["other-lambda", "fewer-items"])
def test_weights_not_fitted_on_the_saved_pairs_are_solved_anew(
    name: str, foreign: str, toy: Toy
) -> None:
    # e.g. a snapshot of an older tailor, whose fold-in left B as fitted: the rebuilt inverse
    # would be wrong, so the first fold-in solves P from the pairs (B of a fit on the union)
    early, late = _split(toy())
    model = MODELS[name]().fit(Dataset.from_frame(early))
    state = dict(model.state_arrays())
    if foreign == "other-lambda":
        state["weights"] = MODELS[name](regularization=7.0).fit(Dataset.from_frame(early)).weights
    else:  # weights over the first two items of three
        state["weights"] = np.ascontiguousarray(model.weights[:2, :2])
        if name == "recency-ease":
            state["trend"] = model.trend[:2]
    fresh = MODELS[name]()
    fresh.load_state(state)
    fresh.partial_fit(late)
    np.testing.assert_allclose(_b(fresh, list("abcd")), TOY_B, atol=1e-6)


def test_summed_weights_with_recency_keep_the_fitted_weights(toy: Toy) -> None:
    # the undecayed sums that fit solves on are not kept: B stays as fitted
    early, late = _split(toy())
    model = EASE(regularization=1.0, binary=False, recency_half_life_days=5.0)
    model.fit(Dataset.from_frame(early))
    fitted = model.weights.copy()
    model.partial_fit(late)
    np.testing.assert_array_equal(model.weights, fitted)


def _decayed(toy: Toy, shift_days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    early, late = _split(toy())
    return early, late.assign(timestamp=late["timestamp"] + pd.Timedelta(days=shift_days))


def test_decayed_gram_folds_in_at_the_fit_clock(toy: Toy) -> None:
    # the batch comes 20 days after the fit's newest pair, h = 100: the kept Gram measures decay
    # from the fit's clock, so old pairs weigh 1 and the batch 2^(20/100); scaled to the union
    # fit's clock (old 2^(-20/100), batch 1) that is G' + 2^(-40/100) lambda I: B equals a fit on
    # the union with regularization 2^(-0.4)
    early, late = _decayed(toy, 20.0)
    model = MODELS["recency-ease"](gram_half_life_days=100.0).fit(Dataset.from_frame(early))
    model.partial_fit(late)
    union = Dataset.from_frame(pd.concat([early, late], ignore_index=True))
    want = RecencyEASE(**OFF, regularization=2**-0.4, gram_half_life_days=100.0).fit(union)
    np.testing.assert_allclose(_b(model, list("abcd")), _b(want, list("abcd")), atol=1e-6)
    plain = MODELS["recency-ease"](gram_half_life_days=100.0).fit(union)
    assert not np.allclose(_b(model, list("abcd")), _b(plain, list("abcd")), atol=1e-4)


@pytest.mark.parametrize("loaded", [False, True])
def test_decayed_gram_is_solved_anew_past_half_a_half_life(
    loaded: bool, toy: Toy, tmp_path: Path
) -> None:
    # 60 days > 100 / 2 after the fit's clock (or any time after loading, whose clock is
    # unknown): P is solved at the newest time, so B is exactly a fit on the union's
    early, late = _decayed(toy, 60.0 if not loaded else 20.0)
    model = MODELS["recency-ease"](gram_half_life_days=100.0).fit(Dataset.from_frame(early))
    if loaded:
        model.save(tmp_path / "m")
        model = RecencyEASE.load(tmp_path / "m")
    model.partial_fit(late)
    union = Dataset.from_frame(pd.concat([early, late], ignore_index=True))
    want = MODELS["recency-ease"](gram_half_life_days=100.0).fit(union)
    np.testing.assert_allclose(_b(model, list("abcd")), _b(want, list("abcd")), atol=1e-6)


PADDING = [(f"P{k}", f"e{k}") for k in range(14)]
"""14 more users with one item each: items that co-occur with nothing leave B over a b c d as
TOY_B (their rows and columns are zero), and make the batch's rank (4: B's and D's rows before
and after) at most a quarter (``SOLVE_SHARE``) of the 18 items: the fold takes Woodbury."""


def _padded(toy: Toy) -> pd.DataFrame:
    frame = toy()
    extra = pd.DataFrame(
        {
            "user_id": [u for u, _ in PADDING],
            "item_id": [i for _, i in PADDING],
            "value": 1.0,
            "timestamp": frame["timestamp"].iloc[0],
        }
    )
    return pd.concat([frame, extra], ignore_index=True)


def _no(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{what} was not expected")

    return refuse


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("padded", [False, True])
def test_the_fold_takes_the_cheaper_of_woodbury_and_a_new_inverse(
    name: str, padded: bool, toy: Toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rank 4 over 4 items: a new inverse (Woodbury would cost more); over 18 items: Woodbury
    early, late = _split(_padded(toy) if padded else toy())
    model = MODELS[name]().fit(Dataset.from_frame(early))
    banned = "solve_inverse" if padded else "update"
    monkeypatch.setattr(gi, banned, _no(banned))
    model.partial_fit(late)
    np.testing.assert_allclose(_b(model, list("abcd")), TOY_B, atol=1e-6)
    if padded:
        pad = [i for _, i in PADDING]
        assert not _b(model, pad + list("abcd"))[: len(pad)].any()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batches", [1, 2])
def test_deferred_weights_wait_then_equal_the_hand_worked_fit(
    name: str, batches: int, toy: Toy
) -> None:
    early, late = _split(toy())
    model = MODELS[name]().fit(Dataset.from_frame(early))
    fitted = model.weights.copy()
    assert isinstance(model, SupportsDeferredWeights) and not model.weights_pending
    for part in np.array_split(np.arange(len(late)), batches):
        model.partial_fit(late.iloc[part], defer_weights=True)
    # B waits (d, new, has no weights yet), the profiles do not: B and D hold their new pairs
    assert model.weights_pending
    np.testing.assert_array_equal(model.weights, fitted)
    assert "d" in model.items and model.seen.sum() == 9
    assert np.isnan(model.score(["C"], ["d"])).all()
    model.refresh_weights()
    assert not model.weights_pending and model.weights.shape == (4, 4)
    np.testing.assert_allclose(_b(model, list("abcd")), TOY_B, atol=1e-6)
    if name == "ease":  # as test_folded_weights_equal_the_hand_worked_fit
        assert model.score(["C"], ["d"]).tolist() == pytest.approx([1 / 6], abs=1e-6)
    else:
        assert model.trend.shape == (4,)  # the trend joins B's new size
    model.refresh_weights()  # nothing waits: B unchanged
    np.testing.assert_allclose(_b(model, list("abcd")), TOY_B, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_deferred_batches_fold_in_with_one_update_over_their_users(
    name: str, toy: Toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B-c, D-d, then B-c again (a repeat): three batches, one update whose rows are B's and
    # D's, each once; the result equals folding each batch at once
    early, late = _split(_padded(toy))
    batches = [late.iloc[[0]], late.iloc[[1]], late.iloc[[0]]]
    at_once = MODELS[name]().fit(Dataset.from_frame(early))
    for batch in batches:
        at_once.partial_fit(batch)
    model = MODELS[name]().fit(Dataset.from_frame(early))
    rows: list[int] = []
    update = gi.update

    def spy(p: np.ndarray, new_rows: Any, old_rows: Any) -> None:
        rows.append(new_rows.shape[0])
        update(p, new_rows, old_rows)

    monkeypatch.setattr(gi, "update", spy)
    for batch in batches:
        model.partial_fit(batch, defer_weights=True)
    assert rows == []
    model.refresh_weights()
    assert rows == [2]
    np.testing.assert_allclose(model.weights, at_once.weights, atol=1e-6)
    np.testing.assert_allclose(_b(model, list("abcd")), TOY_B, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_saving_refreshes_deferred_weights(name: str, toy: Toy, tmp_path: Path) -> None:
    early, late = _split(toy())
    model = MODELS[name]().fit(Dataset.from_frame(early))
    model.partial_fit(late, defer_weights=True)
    model.save(tmp_path / "m")
    assert not model.weights_pending
    loaded = type(model).load(tmp_path / "m")
    np.testing.assert_allclose(_b(loaded, list("abcd")), TOY_B, atol=1e-6)
