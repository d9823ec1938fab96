from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.models import (
    ALS,
    BPR,
    FitOptions,
    SupportsFactors,
    SupportsSimilarItems,
    create_model,
)
from tailor.testing import RecommenderContract, planted_frame
from tailor.testing.contracts import newcomer_batch
from tailor.testing.data import random_frame

USERS = [f"u{k}" for k in range(12)]
ALS_PLANTED = {"factors": 2, "regularization": 0.1, "iterations": 30}
BPR_PLANTED = {"factors": 4, "learning_rate": 0.05, "iterations": 200}


class TestALSContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return ALS(**{**ALS_PLANTED, **kwargs})

    def test_partial_fit_effect_on_other_users(self) -> None:
        """The batch's items move (the contract's local check does not apply): users outside
        the batch keep their factors and their scores on the other items."""
        model = self.fitted()
        others = model.users.numbers(["u0", "u5", "u8"])
        before = np.array(model.score_rows(others), copy=True)
        factors = model.user_factors[others].copy()
        model.partial_fit(newcomer_batch())
        after = model.score_rows(others)
        np.testing.assert_array_equal(model.user_factors[others], factors)
        moved = model.items.numbers(["i4", "i5", "i2"])  # the batch's known items
        still = np.setdiff1d(np.arange(before.shape[1]), moved)
        np.testing.assert_allclose(after[:, still], before[:, still], rtol=1e-6)
        assert not np.allclose(after[:, moved], before[:, moved])


class TestBPRContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return BPR(**{**BPR_PLANTED, **kwargs})


def _missing_item(frame: pd.DataFrame, user: str) -> str:
    """The one item of the user's taste group the user has not seen (see planted_frame)."""
    group = 0 if int(user[1:]) < 6 else 1
    items = {f"i{4 * group + k}" for k in range(4)}
    (missing,) = items - set(frame.loc[frame["user_id"] == user, "item_id"])
    return missing


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("cls", "params"), [(ALS, ALS_PLANTED), (BPR, BPR_PLANTED)])
def test_planted_groups_get_their_missing_item_first(
    cls: Any, params: dict[str, Any], seed: int
) -> None:
    frame = planted_frame()
    model = cls(seed=seed, **params).fit(Dataset.from_frame(frame))
    recs = model.recommend(USERS, n=1)
    assert [recs.for_user(u) for u in USERS] == [[_missing_item(frame, u)] for u in USERS]


@pytest.mark.parametrize(("cls", "params"), [(ALS, ALS_PLANTED), (BPR, BPR_PLANTED)])
def test_similar_items_stay_in_the_taste_group(cls: Any, params: dict[str, Any]) -> None:
    model = cls(seed=0, **params).fit(Dataset.from_frame(planted_frame()))
    assert isinstance(model, SupportsSimilarItems)
    sims = model.similar_items(["i0", "i5", "nope"], n=3)
    assert set(sims.for_user("i0")) == {"i1", "i2", "i3"}
    assert set(sims.for_user("i5")) == {"i4", "i6", "i7"}
    assert len(sims.for_user("nope")) == 0


def test_scores_are_factor_dot_products() -> None:
    model = ALS(seed=0, **ALS_PLANTED).fit(Dataset.from_frame(planted_frame()))
    u, i = model.users.number("u3"), model.items.number("i6")
    assert u is not None and i is not None
    expected = float(model.user_factors[u] @ model.item_factors[i])
    assert model.score(["u3"], ["i6"])[0] == pytest.approx(expected, rel=1e-6)
    assert model.user_factors.dtype == np.float32


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ALS, {"factors": 3}),
        (ALS, {"regularization": 5.0}),
        (ALS, {"iterations": 2}),
        (ALS, {"alpha": 10.0}),
        (ALS, {"binary": False}),
        (ALS, {"seed": 1}),
        (BPR, {"factors": 3}),
        (BPR, {"learning_rate": 0.1}),
        (BPR, {"regularization": 0.5}),
        (BPR, {"iterations": 5}),
        (BPR, {"seed": 1}),
    ],
)
def test_each_hyperparameter_changes_the_scores(cls: Any, params: dict[str, Any]) -> None:
    data = Dataset.from_frame(random_frame(seed=3))  # ratings 1-5: weights matter to ALS
    users = np.arange(data.n_users)
    base = {"factors": 8, "iterations": 10, "seed": 0}
    before = cls(**base).fit(data).score_rows(users)
    after = cls(**{**base, **params}).fit(data).score_rows(users)
    assert before.shape == (data.n_users, data.n_items)
    assert not np.allclose(before, after)


def test_fit_options_threads_epochs_and_no_blas_warning() -> None:
    epochs: list[int] = []
    opts = FitOptions(threads=1, on_epoch=lambda e, m: epochs.append(e))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # implicit's OpenBLAS-threads warning must not fire
        ALS(iterations=4, seed=0).fit(Dataset.from_frame(planted_frame()), opts)
    assert epochs == [1, 2, 3, 4]


def test_saved_factors_are_plain_arrays(tmp_path: Path) -> None:
    model = BPR(seed=0, **BPR_PLANTED).fit(Dataset.from_frame(planted_frame()))
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "params.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["item_factors"], model.item_factors)
        assert npz["user_factors"].shape == (12, BPR_PLANTED["factors"] + 1)  # + bias column


def test_registered() -> None:
    assert isinstance(create_model("als", {"factors": 4}), ALS)
    assert isinstance(create_model("bpr", {"learning_rate": 0.1}), BPR)


# ---- fold-in ------------------------------------------------------------------------------
NEWCOMER = pd.DataFrame(
    {
        "user_id": ["newbie", "newbie", "newbie", "u2", "u7"],
        "item_id": ["i4", "i5", "i6", "i2", "i-new"],
        "value": [1.0, 2.0, 1.0, 3.0, 1.0],
        "timestamp": pd.to_datetime(["2024-06-01"] * 5),
    }
)


@pytest.mark.parametrize("binary", [True, False])
def test_als_fold_in_equals_implicits_recalculation(binary: bool) -> None:
    """New and touched users get exactly implicit's recalculate_user factors (over all their
    items, old and new); then the batch's items, known and new, get recalculate_item's over all
    their users; everything else is bit-identical."""
    from implicit.cpu.als import AlternatingLeastSquares

    params = {**ALS_PLANTED, "alpha": 2.0, "binary": binary}
    model = ALS(seed=0, **params).fit(Dataset.from_frame(planted_frame()))
    users0, items0 = model.user_factors.copy(), model.item_factors.copy()
    model.partial_fit(NEWCOMER)
    union = pd.concat([planted_frame(), NEWCOMER], ignore_index=True)
    full = Dataset.from_frame(union)  # same first-appearance numbering as the grown model
    assert full.users == model.users and full.items == model.items
    matrix = full.matrix(weights=True)
    if binary:
        matrix.data[:] = 1.0
    reference = AlternatingLeastSquares(
        factors=2, regularization=0.1, alpha=2.0, num_threads=1, random_state=0
    )
    reference.user_factors = np.zeros((full.n_users, users0.shape[1]), np.float32)
    reference.item_factors = np.zeros((full.n_items, items0.shape[1]), np.float32)
    reference.user_factors[: len(users0)] = users0
    reference.item_factors[: len(items0)] = items0
    touched = np.array([full.users.number(u) for u in ("u2", "u7", "newbie")])
    expected_users = reference.recalculate_user(touched, sp.csr_matrix(matrix[touched]))
    np.testing.assert_allclose(model.user_factors[touched], expected_users, rtol=1e-4, atol=1e-6)
    reference.user_factors[touched] = expected_users
    moved = np.array([full.items.number(i) for i in ("i2", "i4", "i5", "i6", "i-new")])
    expected_items = reference.recalculate_item(moved, sp.csr_matrix(matrix[:, moved].T))
    np.testing.assert_allclose(model.item_factors[moved], expected_items, rtol=1e-4, atol=1e-6)
    assert not np.allclose(model.item_factors[moved[:4]], items0[moved[:4]])
    untouched = np.setdiff1d(np.arange(len(users0)), touched)
    np.testing.assert_array_equal(model.user_factors[untouched], users0[untouched])
    still = np.setdiff1d(np.arange(len(items0)), moved)
    np.testing.assert_array_equal(model.item_factors[still], items0[still])


def test_als_fold_in_personalises_the_newcomer() -> None:
    model = ALS(seed=0, **ALS_PLANTED).fit(Dataset.from_frame(planted_frame()))
    model.partial_fit(NEWCOMER.iloc[:3])  # bought i4, i5, i6: group two
    assert model.recommend(["newbie"], n=1).for_user("newbie") == ["i7"]


def test_bpr_fold_in_moves_only_the_batch_and_repeats() -> None:
    data = Dataset.from_frame(planted_frame())
    a = BPR(seed=0, **BPR_PLANTED).fit(data)
    users0, items0 = a.user_factors.copy(), a.item_factors.copy()
    a.partial_fit(NEWCOMER)
    touched = [a.users.number(u) for u in ("u2", "u7")]
    untouched = np.setdiff1d(np.arange(len(users0)), touched)
    np.testing.assert_array_equal(a.user_factors[untouched], users0[untouched])
    np.testing.assert_array_equal(a.item_factors[: len(items0)], items0)
    assert not np.array_equal(a.user_factors[touched], users0[touched])
    assert (a.user_factors[:, -1] == 1.0).all()  # implicit's constant column stays
    assert a.recommend(["newbie"], n=1).for_user("newbie") == ["i7"]
    b = BPR(seed=0, **BPR_PLANTED).fit(data).partial_fit(NEWCOMER)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)


@pytest.mark.parametrize(("cls", "params"), [(ALS, ALS_PLANTED), (BPR, BPR_PLANTED)])
def test_factor_capability(cls: Any, params: dict[str, Any]) -> None:
    assert isinstance(cls(**params), SupportsFactors)  # a class capability, fitted or not
    model = cls(seed=0, **params).fit(Dataset.from_frame(planted_frame()))
    assert isinstance(model, SupportsFactors)
    user_offsets, item_offsets = model.factor_offsets()
    rows = model.score_rows(np.arange(len(model.users)))
    expected = model.user_factors @ model.item_factors.T + item_offsets + user_offsets[:, None]
    np.testing.assert_allclose(rows, expected, rtol=1e-5, atol=1e-6)
