from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models import EASE, create_model
from tailor.models._matrices import interaction_matrix
from tailor.testing import RecommenderContract
from tailor.testing.data import random_frame

Toy = Callable[..., pd.DataFrame]


class TestEASEContract(RecommenderContract):
    fold_in_equals_refit = True  # B moves with the batch for everyone

    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return EASE(**{"regularization": 1.0, **kwargs})


def _two_blocks() -> pd.DataFrame:
    # u1, u2: a b; u3: a; u4: c  ->  Gram of (a, b) = [[3, 2], [2, 2]], c on its own
    pairs = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u4", "c")]
    return pd.DataFrame(
        {
            "user_id": [u for u, _ in pairs],
            "item_id": [i for _, i in pairs],
            "timestamp": pd.to_datetime([1] * len(pairs), unit="D"),
        }
    )


def test_closed_form_by_hand() -> None:
    # G + I = [[4, 2], [2, 3]], P = [[3, -2], [-2, 4]] / 8: B_ab = -P_ab / P_bb = 1/2 and
    # B_ba = -P_ba / P_aa = 2/3; c shares no user with a or b, so its weights are 0
    model = EASE(regularization=1.0).fit(Dataset.from_frame(_two_blocks()))
    got = model.score(["u3", "u3", "u4", "u4", "u1"], ["b", "c", "a", "b", "c"])
    assert got.tolist() == pytest.approx([0.5, 0.0, 0.0, 0.0, 0.0], abs=1e-6)
    sims = model.similar_items(["a", "b"], n=1).to_frame()
    assert sims[["user_id", "item_id"]].values.tolist() == [["a", "b"], ["b", "a"]]
    assert sims["score"].tolist() == pytest.approx([0.5, 2 / 3], abs=1e-6)
    assert model.recommend(["u3"], n=1).for_user("u3") == ["b"]


def test_toy_scores_by_hand(toy: Toy) -> None:
    # toy matrix, lambda = 1: G + I over (a, b, c, d) is
    #   [[3, 2, 1, 0], [2, 4, 2, 0], [1, 2, 4, 1], [0, 0, 1, 2]]   (det 40)
    # P = (G + I)^-1 = [[20, -10, 0, 0], [-10, 19, -8, 4], [0, -8, 16, -8], [0, 4, -8, 24]] / 40
    # B_ij = -P_ij / P_jj, so
    #   C (b, c) -> a: (10 + 0) / 20 = 1/2;   C -> d: (-4 + 8) / 24 = 1/6
    #   A (a, b) -> c: (0 + 8) / 16 = 1/2;    A -> d: (0 - 4) / 24 = -1/6
    model = EASE(regularization=1.0).fit(Dataset.from_frame(toy()))
    got = model.score(["C", "C", "A", "A"], ["a", "d", "c", "d"])
    assert got.tolist() == pytest.approx([1 / 2, 1 / 6, 1 / 2, -1 / 6], abs=1e-6)
    recs = model.recommend(["A"], n=2).to_frame()
    assert recs["item_id"].tolist() == ["c", "d"]


def test_solution_satisfies_the_optimality_conditions() -> None:
    # with P = (G + lam I)^-1 and B = I - P diag(1/diag P): (G + lam I) B - G is diagonal
    data = Dataset.from_frame(random_frame(seed=5))
    lam = 3.0
    model = EASE(regularization=lam).fit(data)
    x = interaction_matrix(data, binary=True, half_life_days=None).toarray().astype(np.float64)
    gram = x.T @ x
    resid = (gram + lam * np.eye(len(gram))) @ model.weights.astype(np.float64) - gram
    off = resid - np.diag(np.diag(resid))
    assert np.abs(off).max() < 1e-3
    assert np.all(np.diag(model.weights) == 0.0)


def test_too_large_catalogue_is_refused_before_allocating() -> None:
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(200_000)]})
    data = Dataset.from_frame(_two_blocks(), items=items)
    # sqrt(1e9 / 12) = 9,128 items fit in 1 GB
    with pytest.raises(ConfigError, match=r"200,003 items.*budget of 1\.0 GB.*at most 9,128 items"):
        EASE(memory_budget_gb=1.0).fit(data)
    # 3 x 4 B x 200,003^2 = 480 GB; the default budget (half the available memory) refuses it too
    with pytest.raises(ConfigError, match=r"480\.0 GB"):
        EASE().fit(data)


@pytest.mark.parametrize(
    "params",
    [{"regularization": 50.0}, {"binary": False}, {"recency_half_life_days": 100.0}],
)
def test_each_hyperparameter_changes_the_scores(params: dict[str, Any]) -> None:
    # memory_budget_gb is a guard, not a model parameter: it never changes a result it allows
    data = Dataset.from_frame(random_frame(seed=3))
    users = np.arange(data.n_users)
    before = EASE(regularization=5.0).fit(data).score_rows(users)
    after = EASE(**{"regularization": 5.0, **params}).fit(data).score_rows(users)
    assert not np.allclose(before, after)


def test_registered() -> None:
    assert isinstance(create_model("ease", {"regularization": 10}), EASE)
    with pytest.raises(ConfigError, match="regularization"):
        create_model("ease", {"regularization": -1})
