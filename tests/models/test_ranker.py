"""The second-stage ranker: the model contract, planted re-offer/discover worlds with known
answers, its features on hand-computed data, and SHAP additivity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.errors import ArtifactError, ConfigError, ModelFitError
from tailor.models.explain import SupportsExplain
from tailor.models.ranker import Ranker, RankerConfig
from tailor.models.ranker.candidates import rank_within
from tailor.models.ranker.features import (
    ITEM_FEATURES,
    UserBlock,
    add_history,
    build_features,
    item_stats,
    own_history,
)
from tailor.models.ranker.model import FEATURES, split_labels
from tailor.models.registry import create_model
from tailor.testing import RecommenderContract
from tailor.testing.data import planted_frame
from tailor.units import SECONDS_PER_DAY

SMALL_ALS = {"als": {"factors": 2, "regularization": 0.1, "iterations": 10}}
PLANTED = {
    "label_days": 10.0,
    "label_windows": 1,
    "min_data_in_leaf": 1,
    "max_rounds": 30,
    "submodels": SMALL_ALS,
}
WORLD = {
    "label_days": 10.0,
    "label_windows": 1,
    "min_data_in_leaf": 5,
    "target": "repeat",
    "submodels": SMALL_ALS,
}


class TestRankerContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return Ranker(**{**PLANTED, **kwargs})


def world(reorder: bool, n_users: int = 120, n_items: int = 20, seed: int = 3) -> pd.DataFrame:
    """Each user buys 3 items on days 1..30; after day 44 (the last day is 52, so the label cut
    of ``label_days=10`` is day 42) they buy again all
    3 (``reorder``) or 2 items they never bought (otherwise). Nothing else differs, so the
    label depends only on "bought before"."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        own = rng.choice(n_items, 3, replace=False)
        for k, i in enumerate(own):
            rows.append((f"u{u}", f"i{i}", float(1 + 10 * k + u % 10)))
        later = own if reorder else rng.choice(np.setdiff1d(np.arange(n_items), own), 2, False)
        for k, i in enumerate(later):
            rows.append((f"u{u}", f"i{i}", float(45 + 2 * k + u % 4)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "day"])
    frame["timestamp"] = pd.to_datetime(frame.pop("day"), unit="D", origin="2024-01-01")
    return frame


@pytest.fixture(scope="module")
def reorder_model() -> Ranker:
    return Ranker(**WORLD, seed=0).fit(world(reorder=True))


@pytest.fixture(scope="module")
def discover_model() -> Ranker:
    return Ranker(**WORLD, seed=0).fit(world(reorder=False))


def _own_items(frame: pd.DataFrame, user: str) -> set[str]:
    return set(frame.loc[frame["user_id"] == user, "item_id"])


def test_reorder_world_puts_every_past_purchase_first(reorder_model: Ranker) -> None:
    frame, model = world(reorder=True), reorder_model
    users = [f"u{u}" for u in range(0, 120, 7)]
    recs = model.recommend(users, n=3, exclude_seen=False)
    for user in users:
        assert set(recs.for_user(user)) == _own_items(frame, user), user


def test_discover_world_puts_every_past_purchase_last(discover_model: Ranker) -> None:
    frame, model = world(reorder=False), discover_model
    # the candidate models alone re-offer the past: ALS ranks a user's own items near the top
    als = create_model("als", {**SMALL_ALS["als"], "seed": 0}).fit(frame)
    users = [f"u{u}" for u in range(0, 120, 7)]
    als_top = als.recommend(users, n=5, exclude_seen=False)
    overlap = [len(set(als_top.for_user(u)) & _own_items(frame, u)) for u in users]
    assert np.mean(overlap) > 1.5  # by chance: 5 * 5 / 20 = 1.25
    full = model.recommend(users, n=20, exclude_seen=False)
    for user in users:
        own = _own_items(frame, user)  # 5 items: 3 before the cut, 2 after
        assert set(full.for_user(user)[-len(own) :]) == own, user


def test_novel_target_never_trains_on_past_purchases() -> None:
    """In the reorder world nobody buys anything new after the cut: no novel label exists."""
    with pytest.raises(ModelFitError, match="novel purchase"):
        Ranker(**{**WORLD, "target": "novel"}).fit(world(reorder=True))


def test_explanations_add_up_to_the_score(reorder_model: Ranker) -> None:
    model = reorder_model
    assert isinstance(model, SupportsExplain)
    u = model.users.number("u5")
    items = np.array([0, 3, 7, 19])
    everything = model.explain(u, items, top=len(FEATURES))
    rows = model.score_rows(np.array([u]))[0]
    for exp in everything:
        assert exp.kind == "shap"
        total = exp.base_value + sum(value for _, value in exp.contributions)
        assert total == pytest.approx(exp.score, abs=1e-9)
        assert exp.score == pytest.approx(float(rows[exp.item_num]), abs=1e-5)
    top = model.explain(u, items, top=3)
    for exp, full in zip(top, everything, strict=True):
        assert exp.contributions == full.contributions[:3]
        assert exp.rest == pytest.approx(
            sum(value for _, value in full.contributions[3:]), abs=1e-9
        )
    own = model.items.numbers(sorted(_own_items(world(reorder=True), "u5")))
    name, value = model.explain(u, own[:1], top=1)[0].contributions[0]
    assert name in {"bought_before", "bought_count", "days_since_bought"} and value > 0


def test_tree_explainer_matches_the_booster(discover_model: Ranker) -> None:
    shap = pytest.importorskip("shap")
    import lightgbm as lgb

    model = discover_model
    _, _, x = model.features_of(np.arange(10))
    booster = lgb.Booster(model_str=model.booster_text())
    explainer = shap.TreeExplainer(booster)
    values = explainer.shap_values(x)
    np.testing.assert_allclose(
        values.sum(axis=1) + explainer.expected_value, booster.predict(x), atol=1e-6
    )


def test_importances_put_the_planted_signal_first(discover_model: Ranker) -> None:
    pytest.importorskip("shap")
    importances = discover_model.importances(np.arange(30))
    assert set(importances) == set(FEATURES)
    assert next(iter(importances)) in {"bought_before", "bought_count", "days_since_bought"}
    assert list(importances.values()) == sorted(importances.values(), reverse=True)


def test_stacked_label_windows() -> None:
    """planted_frame has one interaction a day for 36 days: with 7-day windows the latest
    window and the one before both hold labelled users; asking for more only adds windows
    that have labels."""
    one = Ranker(**{**PLANTED, "label_days": 7.0}, seed=1).fit(planted_frame())
    two = Ranker(**{**PLANTED, "label_days": 7.0, "label_windows": 2}, seed=1).fit(planted_frame())
    assert one.fit_summary is not None and two.fit_summary is not None
    assert (one.fit_summary["windows"], two.fit_summary["windows"]) == (1, 2)
    assert two.fit_summary["train_users"] + two.fit_summary["held_out_users"] > (
        one.fit_summary["train_users"] + one.fit_summary["held_out_users"]
    )


def test_explain_refuses_items_that_are_not_candidates() -> None:
    model = Ranker(**{**WORLD, "candidates_per_model": 1, "popular_candidates": 0}, seed=0)
    model.fit(world(reorder=True))
    u = model.users.number("u0")
    scores = model.score_rows(np.array([u]))[0]
    outside = np.flatnonzero(np.isnan(scores))
    assert len(outside)
    with pytest.raises(ValueError, match="not candidates"):
        model.explain(u, outside[:1])
    with pytest.raises(IndexError):
        model.explain(u, np.array([len(model.items)]))


def test_bad_config_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown candidate model 'bpr'"):
        Ranker(submodels={"bpr": {}})
    with pytest.raises(ConfigError, match="als"):
        Ranker(submodels={"als": {"factors": 0}})
    with pytest.raises(ConfigError, match="target"):
        Ranker(target="both")


def test_label_cut_without_history_is_refused() -> None:
    with pytest.raises(ModelFitError, match="no history"):
        Ranker(label_days=1000.0).fit(planted_frame())


def test_saved_ranker_without_a_candidate_model_is_refused(tmp_path: Path) -> None:
    model = Ranker(**PLANTED, seed=1).fit(planted_frame())
    arrays = {k: v for k, v in model.state_arrays().items() if not k.startswith("als.")}
    with pytest.raises(ArtifactError, match="'als'"):
        Ranker(model.config).load_state(arrays, source="test")
    arrays = dict(model.state_arrays())
    arrays["booster"] = np.frombuffer(b"not a model", np.uint8)
    fresh = Ranker(model.config)
    with pytest.raises(ArtifactError, match="booster"):
        fresh.load_state(arrays, source="test")
    assert not fresh.is_fitted


# ---- features on hand-computed data ---------------------------------------------------------
DAY = SECONDS_PER_DAY


def _inter(users: list[int], items: list[int], days: list[float]) -> Interactions:
    return Interactions.from_arrays(
        np.array(users), np.array(items), timestamps=(np.array(days) * DAY).astype(np.int64)
    )


def test_own_history_counts_and_last_times() -> None:
    counts, last = own_history(_inter([0, 0, 0, 1], [2, 2, 0, 2], [5, 3, 1, 4]), (2, 3))
    assert counts.toarray().tolist() == [[1, 0, 2], [0, 0, 1]]
    assert (last.toarray() // DAY).tolist() == [[1, 0, 5], [0, 0, 4]]


def test_add_history_equals_the_history_of_the_union() -> None:
    old = _inter([0, 0, 1], [1, 0, 1], [1, 2, 3])
    batch = _inter([0, 2, 1], [1, 2, 1], [9, 4, 2])  # user 1's pair gets an older repeat
    counts, last = own_history(old, (2, 2))
    got_c, got_l = add_history(counts, last, batch, (3, 3))
    assert got_c.toarray().tolist() == [[1, 2, 0], [0, 2, 0], [0, 0, 1]]
    assert (got_l.toarray() // DAY).tolist() == [[2, 9, 0], [0, 3, 0], [0, 0, 4]]


def test_rank_within_ranks_each_users_candidates() -> None:
    rows = np.array([0, 0, 0, 1, 1])
    values = np.array([0.5, np.nan, 0.9, 1.0, 1.0], np.float32)
    assert rank_within(rows, values).tolist() == [2, 3, 1, 1, 2]


def test_item_stats_by_hand() -> None:
    # users 0, 1 bought item 0 (days 2, 28), user 1 item 1 (day 29); "now" = day 30
    inter = _inter([0, 1, 1], [0, 0, 1], [2, 28, 29])
    counts, last = own_history(inter, (2, 3))
    first = np.array([2, 29, 0]) * DAY
    stats = item_stats(counts, last, first, 30 * DAY, 10.0, np.array([2.5, -1.0, -1.0]))
    col = {name: stats[:, k] for k, name in enumerate(ITEM_FEATURES)}
    assert col["item_users"].tolist() == [2, 1, 0]
    assert col["item_recent_users"].tolist() == [1, 1, 0]
    assert col["item_week_users"].tolist() == [1, 1, 0]
    # rate over 28 days of log: expected recent users = users * 10 / 28
    np.testing.assert_allclose(col["item_trend"], [2 / (1 + 20 / 28), 2 / (1 + 10 / 28), 1.0])
    assert col["item_age_days"].tolist() == [28, 1, 0]
    assert col["item_idle_days"].tolist() == [2, 1, 0]
    assert col["price"].tolist() == [2.5, -1, -1]


def test_pair_and_user_features_by_hand() -> None:
    # user 0 bought item 0 twice (days 1, 4) and item 1 (day 6); item 2 shares item 1's category
    counts, last = own_history(_inter([0, 0, 0], [0, 0, 1], [1, 4, 6]), (1, 3))
    block = UserBlock.of(counts, last, np.array([0]))
    stats = np.zeros((3, len(ITEM_FEATURES)), np.float32)
    stats[:, ITEM_FEATURES.index("price")] = [3.0, -1.0, 7.0]
    cats = np.array([0, 1, 1])
    n_model = len(FEATURES) - len(ITEM_FEATURES) - 8
    x = build_features(
        np.array([0, 0, 0]),
        np.array([0, 1, 2]),
        np.zeros((3, n_model)),
        block,
        stats,
        cats,
        10 * DAY,
    )
    f = {name: x[:, k] for k, name in enumerate(FEATURES)}
    assert f["bought_count"].tolist() == [2, 1, 0]
    np.testing.assert_array_equal(f["days_since_bought"], [6, 4, np.nan])
    assert f["bought_before"].tolist() == [1, 1, 0]
    assert f["category_share"].tolist() == [0.5, 0.5, 0.5]
    np.testing.assert_array_equal(f["price"], [3.0, np.nan, 7.0])
    assert f["user_interactions"].tolist() == [3, 3, 3]
    assert f["user_items"].tolist() == [2, 2, 2]
    assert f["user_idle_days"].tolist() == [4, 4, 4]
    np.testing.assert_allclose(f["user_repeat_share"], [1 / 3] * 3)


def test_user_label_split_takes_each_users_last_fraction() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a"] * 5 + ["b"] * 2 + ["c"],
            "item_id": ["i0", "i1", "i2", "i3", "i4", "i0", "i1", "i2"],
            "timestamp": pd.to_datetime([5, 4, 3, 2, 1, 1, 2, 1], unit="D"),
        }
    )
    data = Dataset.from_frame(frame)
    history, labels, _ = split_labels(data, RankerConfig(label_split="user", label_fraction=0.4))
    # a: round(2.0) = 2 latest (i0, i1); b: round(0.8) = 1 (i1); c: at most c - 1 = 0
    got = sp.csr_array(labels)
    pairs = {
        (data.users.id_of([u])[0], data.items.id_of([i])[0])
        for u, i in zip(*got.nonzero(), strict=True)
    }
    assert pairs == {("a", "i0"), ("a", "i1"), ("b", "i1")}
    assert len(history.interactions) == 5


def test_pipeline_serves_the_rankers_lists(reorder_model: Ranker) -> None:
    """Batch and one-user paths of the pipeline give the model's own lists (repeat view), and
    the novel view's lists hold no past purchase."""
    from tailor.models.popular import Popularity
    from tailor.pipeline import Pipeline, Query

    frame = world(reorder=True)
    pipe = Pipeline.build(reorder_model, Popularity().fit(frame))
    users = ["u0", "u11", "u42"]
    batch = pipe.recommend(users, Query(n=3, exclude_seen=False)).recs
    own = reorder_model.recommend(users, n=3, exclude_seen=False)
    for user in users:
        served = list(batch.loc[batch["user_id"] == user, "item_id"])
        assert served == own.for_user(user)
        assert [i for i, _ in pipe.recommend_user(user, Query(n=3, exclude_seen=False)).items] == (
            served
        )
        novel = pipe.recommend_user(user, Query(n=5)).items
        assert len(novel) == 5 and not {i for i, _ in novel} & _own_items(frame, user)


def test_history_scores_put_the_history_first_in_the_reorder_world(reorder_model: Ranker) -> None:
    """An ad-hoc history (a cart) is scored like a user who just bought it: in the reorder
    world its items come first; a known user's history scores its own items first too."""
    model = reorder_model
    cart = model.items.numbers(["i2", "i9", "i2"])
    scores = model.score_history(cart)
    assert scores.dtype == np.float32 and scores.shape == (len(model.items),)
    finite = np.flatnonzero(np.isfinite(scores))
    top = finite[np.argsort(-scores[finite], kind="stable")][:2]
    assert set(model.items.id_of(top)) == {"i2", "i9"}
    items, weights = model.user_history(model.users.number("u3"))
    assert weights is None and set(model.items.id_of(items)) == _own_items(world(True), "u3")
    assert len(items) == 6  # each of the 3 items bought twice
    with pytest.raises(IndexError):
        model.score_history(np.array([len(model.items)]))
