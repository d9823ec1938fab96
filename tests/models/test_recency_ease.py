from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models.recency_ease import RecencyEASE, positional_profiles
from tailor.models.registry import create_model
from tailor.testing import RecommenderContract
from tailor.testing.data import planted_frame, random_frame

Toy = Callable[..., pd.DataFrame]


class TestRecencyEASEContract(RecommenderContract):
    fold_in_equals_refit = True  # B moves with the batch for everyone

    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return RecencyEASE(**{"regularization": 1.0, **kwargs})


# The toy matrix of conftest with lambda = 1 (worked out in test_ease.py):
# P = (G + I)^-1 = [[20, -10, 0, 0], [-10, 19, -8, 4], [0, -8, 16, -8], [0, 4, -8, 24]] / 40 and
# B_ij = -P_ij / P_jj, so row b of B is (1/2, 0, 1/2, -1/6) and row c is (0, 8/19, 0, 1/3).


OFF: dict[str, Any] = {"profile_half_life": None, "profile_floor": 0.0, "popularity_weight": 0.0}
"""Every recency option off (plain EASE up to a per-user scale); the defaults switch them on."""


def test_defaults_switch_the_recency_options_on() -> None:
    cfg = RecencyEASE().config  # chosen by bench/accuracy/defaults.py
    assert cfg.profile_half_life is not None and cfg.popularity_weight > 0
    assert RecencyEASE(**OFF).config.model_dump(exclude=set(OFF)) == cfg.model_dump(
        exclude=set(OFF)
    )


def test_plain_scores_are_ease_rows_scaled_to_max_one(toy: Toy) -> None:
    # C has b and c: p B = (1/2, 8/19, 1/2, 1/6); the largest magnitude is 1/2
    model = RecencyEASE(**OFF, regularization=1.0).fit(Dataset.from_frame(toy()))
    got = model.score(["C", "C"], ["a", "d"])
    assert got.tolist() == pytest.approx([1.0, 1 / 3], abs=1e-6)


def test_profile_half_life_weighs_recent_items_more(toy: Toy) -> None:
    # C touched b on day 1 and c on day 2: weights c = 1 (k=0), b = 0.5 (k=1) with h = 1, so
    # p B = 0.5 (1/2, 0, 1/2, -1/6) + (0, 8/19, 0, 1/3) = (1/4, 8/19, 1/4, 1/4); max 8/19
    days = [10.0] * 5 + [1.0, 2.0] + [10.0] * 2
    model = RecencyEASE(**{**OFF, "regularization": 1.0, "profile_half_life": 1.0}).fit(
        Dataset.from_frame(toy(days))
    )
    got = model.score(["C", "C"], ["a", "d"])
    assert got.tolist() == pytest.approx([19 / 32, 19 / 32], abs=1e-6)


def test_popularity_blend_adds_scaled_recent_popularity(toy: Toy) -> None:
    # all rows on one day: q = distinct users = (a 2, b 3, c 3, d 1), scaled by max 3, times 1
    params = {**OFF, "regularization": 1.0, "popularity_weight": 1.0}
    model = RecencyEASE(**params).fit(Dataset.from_frame(toy()))
    assert model.trend.tolist() == pytest.approx([2 / 3, 1.0, 1.0, 1 / 3])
    got = model.score(["C", "C"], ["a", "d"])
    assert got.tolist() == pytest.approx([1 + 2 / 3, 1 / 3 + 1 / 3], abs=1e-6)


def test_positional_profile_weights_exact() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "u", "v"],
            "item_id": ["x", "y", "z", "x", "x"],
            # x is seen again last, so its latest time makes it the most recent item
            "timestamp": pd.to_datetime([1, 2, 3, 4, 1], unit="D"),
        }
    )
    data = Dataset.from_frame(frame)
    mat = positional_profiles(data, half_life=1.0, floor=0.2)
    u = data.users.number("u")
    row = dict(zip(data.items.id_of(mat[[u]].indices), mat[[u]].data, strict=True))
    # order newest first: x (k=0), z (k=1), y (k=2); weight 0.2 + 0.8 * 2^-k
    assert row == pytest.approx({"x": 1.0, "z": 0.6, "y": 0.4})
    assert positional_profiles(data, half_life=None, floor=0.0).data.tolist() == [1.0] * 4


def _reference_scores(frame: pd.DataFrame, cfg: dict[str, float], data: Dataset) -> np.ndarray:
    """The documented formula in float64 with plain loops (independent of the model's code)."""
    n_u, n_i = data.n_users, data.n_items
    t = frame["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64) / 86_400.0
    u = data.users.numbers(frame["user_id"])
    i = data.items.numbers(frame["item_id"])
    latest: dict[tuple[int, int], tuple[float, int]] = {}
    for row, key in enumerate(zip(u, i, strict=True)):
        latest[key] = max(latest.get(key, (-np.inf, -1)), (t[row], row))
    t_max = t.max()
    xg = np.zeros((n_u, n_i))
    q = np.zeros(n_i)
    prof = np.zeros((n_u, n_i))
    for (uu, ii), (tt, _) in latest.items():
        xg[uu, ii] = 2 ** (-(t_max - tt) / cfg["gram_half_life_days"])
        q[ii] += 2 ** (-(t_max - tt) / cfg["popularity_half_life_days"])
    for uu in range(n_u):
        mine = sorted(((v, ii) for (w, ii), v in latest.items() if w == uu), reverse=True)
        for k, (_, ii) in enumerate(mine):
            f = cfg["profile_floor"]
            prof[uu, ii] = f + (1 - f) * 2 ** (-k / cfg["profile_half_life"])
    p = np.linalg.inv(xg.T @ xg + cfg["regularization"] * np.eye(n_i))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    s = prof @ b
    s /= np.abs(s).max(axis=1, keepdims=True)
    return s + cfg["popularity_weight"] * q / q.max()


def test_matches_reference_formula_on_random_data() -> None:
    frame = random_frame(n_users=30, n_items=15, n=200, seed=3)
    cfg = {
        "regularization": 5.0,
        "gram_half_life_days": 300.0,
        "profile_half_life": 3.0,
        "profile_floor": 0.1,
        "popularity_weight": 0.4,
        "popularity_half_life_days": 200.0,
    }
    data = Dataset.from_frame(frame)
    model = RecencyEASE(**cfg).fit(data)
    got = model.score_rows(np.arange(data.n_users))
    assert got == pytest.approx(_reference_scores(frame, cfg, data), abs=1e-4)


@pytest.mark.parametrize(
    "change",
    [
        {"regularization": 50.0},
        {"gram_half_life_days": 100.0},
        {"profile_half_life": 2.0},
        {"profile_floor": 0.5},
        {"popularity_weight": 0.5},
        {"popularity_half_life_days": 30.0},
    ],
)
def test_every_hyperparameter_changes_the_scores(change: dict[str, float]) -> None:
    frame = random_frame(n_users=40, n_items=20, n=300, seed=5)
    base = {"regularization": 5.0, "profile_half_life": 5.0, "popularity_weight": 0.2}
    data = Dataset.from_frame(frame)
    users = np.arange(data.n_users)
    before = RecencyEASE(**base).fit(data).score_rows(users)
    after = RecencyEASE(**{**base, **change}).fit(data).score_rows(users)
    assert not np.allclose(before, after, atol=1e-5)


def test_latest_item_neighbours_rank_first() -> None:
    # two disjoint item pairs (x1, x2) and (y1, y2); the user's latest item is y1, so with a
    # short profile half-life y2 beats x2 although x1 was seen too
    rows = [(f"a{k}", "x1", 1) for k in range(5)] + [(f"a{k}", "x2", 2) for k in range(5)]
    rows += [(f"b{k}", "y1", 1) for k in range(3)] + [(f"b{k}", "y2", 2) for k in range(3)]
    rows += [("me", "x1", 5), ("me", "y1", 6)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "day"])
    frame["timestamp"] = pd.to_datetime(frame.pop("day"), unit="D")
    data = Dataset.from_frame(frame)
    plain = RecencyEASE(**OFF, regularization=1.0).fit(data).recommend(["me"], n=1)
    recent = RecencyEASE(**{**OFF, "regularization": 1.0, "profile_half_life": 0.5})
    recent = recent.fit(data).recommend(["me"], n=1)
    assert plain.for_user("me") == ["x2"]  # the bigger block wins without recency
    assert recent.for_user("me") == ["y2"]


def test_memory_guard_refuses_large_catalogues() -> None:
    frame = random_frame(n_items=40)
    with pytest.raises(ConfigError, match="memory budget"):
        RecencyEASE(memory_budget_gb=1e-9).fit(Dataset.from_frame(frame))


def test_registered_and_similar_items(toy: Toy) -> None:
    model = create_model("recency-ease", {"regularization": 1.0}).fit(Dataset.from_frame(toy()))
    assert isinstance(model, RecencyEASE)
    sims = model.similar_items(["b"], n=1).to_frame()
    assert sims[["user_id", "item_id"]].values.tolist() == [["b", "a"]]  # B_ba = B_bc = 1/2: tie


def test_fold_in_moves_the_trend_as_a_fit_on_the_union_would() -> None:
    frame = planted_frame().sort_values("timestamp")
    early, late = frame.iloc[:30], frame.iloc[30:]
    assert set(late["item_id"]) <= set(early["item_id"])  # known items only
    folded = RecencyEASE(popularity_half_life_days=3.0).fit(Dataset.from_frame(early))
    before = folded.trend.copy()
    folded.partial_fit(late)
    full = RecencyEASE(popularity_half_life_days=3.0).fit(Dataset.from_frame(frame))
    order = full.items.numbers(folded.items.ids)
    np.testing.assert_allclose(folded.trend, full.trend[order], rtol=1e-6)
    assert not np.allclose(folded.trend, before)
