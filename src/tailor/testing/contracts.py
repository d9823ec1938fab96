"""RecommenderContract: the conformance tests every tailor model must pass.

Subclass it in a model's test module and set ``model_factory``::

    class TestPopularity(RecommenderContract):
        @staticmethod
        def model_factory(**kw):
            return Popularity(**kw)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.models.base import Recommender, SupportsPartialFit
from tailor.testing.data import planted_frame


class RecommenderContract:
    """Shared behavioural tests (pytest collects them from subclasses)."""

    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        raise NotImplementedError

    def data(self) -> Dataset:
        return Dataset.from_frame(planted_frame())

    def fitted(self, **kwargs: Any) -> Any:
        return self.model_factory(**kwargs).fit(self.data())

    def test_is_a_recommender(self) -> None:
        assert isinstance(self.model_factory(), Recommender)

    def test_fit_returns_self(self) -> None:
        model = self.model_factory()
        assert model.fit(self.data()) is model

    def test_config_round_trips(self) -> None:
        model = self.model_factory()
        again = type(model)(type(model.config).model_validate(model.config.model_dump()))
        assert again.config == model.config

    def test_recommend_shape_and_order(self) -> None:
        recs = self.fitted().recommend(["u0", "u7"], n=3).to_frame()
        assert set(recs["user_id"]) <= {"u0", "u7"}
        for _, group in recs.groupby("user_id"):
            assert len(group) <= 3
            assert list(group["rank"]) == list(range(1, len(group) + 1))
            assert (np.diff(group["score"].to_numpy()) <= 1e-6).all()

    def test_unknown_user_gets_empty_result(self) -> None:
        recs = self.fitted().recommend(["nobody"], n=5)
        assert len(recs) == 0

    def test_exclude_seen_is_honoured(self) -> None:
        data = self.data()
        model = self.model_factory().fit(data)
        seen = set(data.to_frame().query("user_id == 'u0'")["item_id"])
        assert not seen & set(model.recommend(["u0"], n=8).for_user("u0"))
        kept = model.recommend(["u0"], n=8, exclude_seen=False).for_user("u0")
        assert len(kept) == 8

    def test_explicit_exclude_and_candidates(self) -> None:
        model = self.fitted()
        top = model.recommend(["u0"], n=1, exclude_seen=False).for_user("u0")[0]
        u, i = model.users.number("u0"), model.items.number(top)
        excl = Interactions.from_arrays(np.array([u]), np.array([i]))
        assert top not in model.recommend(["u0"], n=8, exclude_seen=False, exclude=excl).for_user(
            "u0"
        )
        only = model.recommend(["u0"], n=5, exclude_seen=False, candidates=["i5", "i6", "nope"])
        assert set(only.for_user("u0")) <= {"i5", "i6"}

    def test_score_is_nan_for_unknown(self) -> None:
        scores = self.fitted().score(["u0", "nobody", "u0"], ["i0", "i0", "nothing"])
        assert np.isfinite(scores[0]) and np.isnan(scores[1]) and np.isnan(scores[2])

    def test_save_load_gives_equal_scores(self, tmp_path: Path) -> None:
        model = self.fitted()
        model.save(tmp_path / "m")
        loaded = type(model).load(tmp_path / "m")
        users = ["u0", "u3", "u8"]
        a = model.recommend(users, n=5).to_frame()
        b = loaded.recommend(users, n=5).to_frame()
        pd.testing.assert_frame_equal(a, b)
        assert loaded.config == model.config

    def test_same_seed_same_output(self) -> None:
        a = self.fitted(seed=7).recommend(["u0", "u9"], n=5).to_frame()
        b = self.fitted(seed=7).recommend(["u0", "u9"], n=5).to_frame()
        pd.testing.assert_frame_equal(a, b)

    def test_learned_arrays_are_finite(self) -> None:
        for key, arr in self.fitted()._get_params().items():
            if arr.dtype.kind == "f":
                assert np.isfinite(arr).all(), key

    def test_partial_fit_makes_new_user_recommendable(self) -> None:
        model: Any = self.fitted()
        if not isinstance(model, SupportsPartialFit):
            pytest.skip(f"{type(model).__name__} does not support partial_fit")
        new = pd.DataFrame(
            {
                "user_id": ["newbie"] * 2,
                "item_id": ["i4", "i5"],
                "value": [1.0, 1.0],
                "timestamp": pd.to_datetime(["2024-06-01", "2024-06-02"]),
            }
        )
        updated: Any = model.partial_fit(new)
        recs = updated.recommend(["newbie"], n=3).for_user("newbie")
        assert recs and not {"i4", "i5"} & set(recs)
