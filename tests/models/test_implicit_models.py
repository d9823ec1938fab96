from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models import ALS, BPR, FitOptions, SupportsSimilarItems, create_model
from tailor.testing import RecommenderContract, planted_frame
from tailor.testing.data import random_frame

USERS = [f"u{k}" for k in range(12)]
ALS_PLANTED = {"factors": 2, "regularization": 0.1, "iterations": 30}
BPR_PLANTED = {"factors": 4, "learning_rate": 0.05, "iterations": 200}


class TestALSContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return ALS(**{**ALS_PLANTED, **kwargs})


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
        (ALS, {"binary": True}),
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
    before = cls(**base).fit(data)._score(users)
    after = cls(**{**base, **params}).fit(data)._score(users)
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
