"""RecommenderContract: the conformance tests every tailor model must pass.

Subclass it in a model's test module and set ``model_factory``::

    class TestPopularity(RecommenderContract):
        @staticmethod
        def model_factory(**kw):
            return Popularity(**kw)

Every model folds new interactions in (``partial_fit``), so the fold-in tests run for all of
them; a model whose scores are global (Popularity) sets ``fold_in_is_local = False``, and one
with a shared term that fold-in moves for everyone (RecencyEASE's trend) names it in
``shared_term``; one whose fold-in moves shared weights so that every user scores as after a fit
on the union (EASE, RecencyEASE: ``B``) sets ``fold_in_equals_refit = True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.errors import ArtifactError, DataError, NotFittedError
from tailor.models.base import Recommender
from tailor.testing.data import planted_frame


def newcomer_batch() -> pd.DataFrame:
    """A new user who bought ``i4`` and ``i5``, an existing user's new pair, and a new item."""
    return pd.DataFrame(
        {
            "user_id": ["newbie", "newbie", "u1", "newbie"],
            "item_id": ["i4", "i5", "i2", "brand-new"],
            "value": [1.0, 1.0, 1.0, 1.0],
            "timestamp": pd.to_datetime(["2024-06-01", "2024-06-02", "2024-06-02", "2024-06-03"]),
        }
    )


class RecommenderContract:
    """Shared behavioural tests (pytest collects them from subclasses)."""

    fold_in_is_local: bool = True
    """Whether ``partial_fit`` leaves the scores of users outside the batch unchanged (up to
    :meth:`shared_term`)."""

    fold_in_equals_refit: bool = False
    """Whether ``partial_fit`` moves shared weights so that users outside the batch score as
    after a fit on the union (EASE, RecencyEASE); checked instead of the local rule."""

    @staticmethod
    def shared_term(model: Any) -> np.ndarray | None:
        """A per-item term added to every user's scores that fold-in may move for everyone
        (RecencyEASE's trend); None (default): there is none."""
        return None

    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        raise NotImplementedError

    def pair_scores(self, model: Any, rows: np.ndarray) -> np.ndarray:
        """What ``score`` gives for the pairs of ``score_rows``' row (override where ``score``
        post-processes, e.g. clips ratings)."""
        return rows

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
        for key, arr in self.fitted().state_arrays().items():
            if arr.dtype.kind == "f":
                assert np.isfinite(arr).all(), key

    def test_unfitted_model_is_empty_and_refuses(self) -> None:
        model = self.model_factory()
        assert not model.is_fitted and len(model.users) == 0 and len(model.items) == 0
        for call in (
            model.state_arrays,
            lambda: model.score_rows(np.array([0])),
            lambda: model.recommend(["u0"]),
            lambda: model.partial_fit(newcomer_batch()),
        ):
            with pytest.raises(NotFittedError):
                call()

    def test_score_rows_agree_with_score(self) -> None:
        model = self.fitted()
        u = model.users.number("u3")
        rows = model.score_rows(np.array([u]))
        assert rows.shape == (1, len(model.items)) and rows.dtype == np.float32
        pairs = model.score(["u3"] * len(model.items), model.items.ids)
        np.testing.assert_allclose(pairs, self.pair_scores(model, rows[0]), rtol=1e-5, atol=1e-6)
        with pytest.raises(IndexError):
            model.score_rows(np.array([len(model.users)]))

    def test_state_arrays_round_trip_through_load_state(self) -> None:
        model = self.fitted()
        fresh = type(model)(model.config)
        fresh.load_state(model.state_arrays())
        users = ["u0", "u4", "u9"]
        pd.testing.assert_frame_equal(
            model.recommend(users, n=5).to_frame(), fresh.recommend(users, n=5).to_frame()
        )

    def test_load_state_refuses_a_damaged_state(self) -> None:
        model = self.fitted()
        arrays = dict(model.state_arrays())
        name = next(k for k, v in arrays.items() if v.dtype.kind == "f")
        arrays[name] = np.full_like(arrays[name], np.nan)
        fresh = type(model)(model.config)
        with pytest.raises(ArtifactError, match=name):
            fresh.load_state(arrays, source="test")
        assert not fresh.is_fitted

    def test_partial_fit_makes_new_user_recommendable(self) -> None:
        model = self.fitted()
        updated = model.partial_fit(newcomer_batch())
        assert updated is model
        recs = updated.recommend(["newbie"], n=3).for_user("newbie")
        assert recs and not {"i4", "i5", "brand-new"} & set(recs)

    def test_partial_fit_grows_vocabularies_and_seen(self) -> None:
        model = self.fitted()
        n_users, n_items = len(model.users), len(model.items)
        old_users, old_items = model.users.ids.copy(), model.items.ids.copy()
        model.partial_fit(newcomer_batch())
        assert len(model.users) == n_users + 1 and len(model.items) == n_items + 1
        assert list(model.users.ids[:n_users]) == list(old_users)
        assert list(model.items.ids[:n_items]) == list(old_items)
        assert model.seen.shape == (n_users + 1, n_items + 1)
        newbie, u1 = model.users.number("newbie"), model.users.number("u1")
        assert set(model.items.id_of(model.seen[[newbie]].indices)) == {"i4", "i5", "brand-new"}
        assert "i2" in set(model.items.id_of(model.seen[[u1]].indices))
        assert model.score_rows(np.array([newbie])).shape == (1, n_items + 1)

    def test_partial_fit_effect_on_other_users(self) -> None:
        """Local models: users outside the batch keep bit-identical scores on the fitted items.
        Global models (Popularity): every user, in the batch or not, gets the same new row.
        ``fold_in_equals_refit``: users outside the batch score as after a fit on the union."""
        model = self.fitted()
        if self.fold_in_equals_refit:
            model.partial_fit(newcomer_batch())
            union = pd.concat([planted_frame(), newcomer_batch()], ignore_index=True)
            full = self.model_factory().fit(Dataset.from_frame(union))
            names = ["u0", "u5", "u8"]
            got = model.score_rows(model.users.numbers(names))
            want = full.score_rows(full.users.numbers(names))
            np.testing.assert_allclose(got, want[:, full.items.numbers(model.items.ids)], atol=2e-5)
            return
        others = np.array([model.users.number(u) for u in ("u0", "u5", "u8")])
        before = np.array(model.score_rows(others), copy=True)
        shared_before = self.shared_term(model)
        model.partial_fit(newcomer_batch())
        after = model.score_rows(others)
        shared_after = self.shared_term(model)
        if self.fold_in_is_local and shared_before is not None and shared_after is not None:
            shift = np.broadcast_to(shared_after - shared_before, before.shape)
            np.testing.assert_allclose(after[:, : before.shape[1]] - before, shift, atol=2e-6)
        elif self.fold_in_is_local:
            np.testing.assert_array_equal(after[:, : before.shape[1]], before)
        else:
            newbie = model.score_rows(np.array([model.users.number("newbie")]))
            np.testing.assert_array_equal(after, np.repeat(newbie, len(others), axis=0))
            assert not np.array_equal(after[:, : before.shape[1]], before)

    def test_partial_fit_round_trips_save_load(self, tmp_path: Path) -> None:
        model = self.fitted().partial_fit(newcomer_batch())
        model.save(tmp_path / "m")
        loaded = type(model).load(tmp_path / "m")
        users = ["newbie", "u1", "u5"]
        pd.testing.assert_frame_equal(
            model.recommend(users, n=5).to_frame(), loaded.recommend(users, n=5).to_frame()
        )

    def test_partial_fit_refuses_a_bad_batch_unchanged(self) -> None:
        model = self.fitted()
        n_users, seen = len(model.users), model.seen
        with pytest.raises(DataError):
            model.partial_fit(newcomer_batch().drop(columns="item_id"))
        with pytest.raises(DataError):
            model.partial_fit(newcomer_batch().assign(value=-1.0))
        assert len(model.users) == n_users and model.seen is seen
