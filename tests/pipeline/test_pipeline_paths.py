"""Pipeline: the batch path and the one-user path give the same lists, with every filter, the
backfill, the fallbacks, the explanation hook, and users with nothing left reported."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models import Popularity, create_model
from tailor.models.registry import MODELS
from tailor.pipeline import Pipeline, Query, read_segments
from tailor.testing.data import random_frame

FACTOR_MODELS = {"als", "bpr", "mf-sgd"}
"""Scored through BLAS: a block and a single row may differ in the last bits."""
CATALOG = pd.DataFrame(
    {
        "item_id": [f"i{k}" for k in range(40)],
        "category": [f"c{k % 4}" for k in range(40)],
        "available": [k % 6 != 5 for k in range(40)],
    }
)
QUERIES = [
    Query(n=10),
    Query(n=5, category="c2"),
    Query(n=7, exclude=frozenset({"i1", "i3", "i8"})),
    Query(n=8, exclude_seen=False),
    Query(n=6, predicate=lambda item: int(item[1:]) % 2 == 0),
    Query(n=40),
]


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset.from_frame(random_frame(n_users=50, n_items=40, n=700, seed=2), items=CATALOG)


def _pipeline(name: str, data: Dataset) -> Pipeline:
    model = create_model(name, {} if name == "popularity" else {"seed": 0}).fit(data)
    return Pipeline.build(model, Popularity().fit(data), catalog=CATALOG)


def _same(batch: list[tuple[str, float]], one: list[tuple[str, float]], exact: bool) -> None:
    if exact:
        assert batch == one
        return
    assert len(batch) == len(one)
    for (bi, bs), (oi, os_) in zip(batch, one, strict=True):
        assert bi == oi or abs(bs - os_) <= 1e-5 * max(1.0, abs(bs)), (batch, one)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batch_path_equals_one_user_path(name: str, data: Dataset) -> None:
    pipeline = _pipeline(name, data)
    users = [*data.users.ids.tolist(), "cold-1", "cold-2"]
    for query in QUERIES:
        batch = pipeline.recommend(users, query, block=7)  # several blocks, one short
        lists = batch.lists()
        assert list(lists) == users
        for user in users:
            one = pipeline.recommend_user(user, query)
            _same(lists[user], one.items, exact=name not in FACTOR_MODELS)
        table = batch.users.set_index("user_id")
        assert table.loc[["cold-1", "cold-2"], "source"].tolist() == ["cold_start"] * 2


def test_filters_hold_on_every_list(data: Dataset) -> None:
    pipeline = _pipeline("ease", data)
    unavailable = set(CATALOG.loc[~CATALOG["available"], "item_id"])
    category = dict(zip(CATALOG["item_id"], CATALOG["category"], strict=True))
    frame = data.to_frame()
    seen = frame.groupby("user_id")["item_id"].agg(set).to_dict()
    for query in QUERIES:
        recs = pipeline.recommend([*seen, "cold"], query).recs
        assert not set(recs["item_id"]) & unavailable
        assert not set(recs["item_id"]) & query.exclude
        if query.category:
            assert {category[i] for i in recs["item_id"]} == {query.category}
        if query.predicate:
            assert all(query.predicate(i) for i in recs["item_id"])
        if query.exclude_seen:
            assert not any(i in seen.get(u, ()) for u, i in recs[["user_id", "item_id"]].values)
        assert (recs.groupby("user_id").size() <= query.n).all()


def test_ties_rank_lower_item_number_first() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "d"],
            "item_id": ["x3", "x1", "x3", "x1", "x2", "x0"],
            "timestamp": pd.Timestamp("2024-01-01"),
        }
    )
    data = Dataset.from_frame(frame)
    model = Popularity().fit(data)
    pipeline = Pipeline.build(model, model)
    # x3 and x1 have 2 users, x2 and x0 one: ties go by item number (vocabulary order)
    order = [data.items.ids[k] for k in np.argsort(-model.item_scores, kind="stable")]
    for path in ("batch", "one"):
        if path == "batch":
            got = pipeline.recommend(["d", "new"], Query(n=4)).lists()
        else:
            got = {u: pipeline.recommend_user(u, Query(n=4)).items for u in ("d", "new")}
        assert [i for i, _ in got["new"]] == order
        assert [i for i, _ in got["d"]] == [i for i in order if i != "x0"]


def test_short_lists_are_backfilled_from_the_popular_lists(data: Dataset) -> None:
    model = create_model("ease", {}).fit(data)
    real = model._score

    def few(nums: np.ndarray) -> np.ndarray:
        rows = np.array(real(nums), dtype=np.float32, copy=True)
        rows[:, 3:] = np.nan  # only items 0-2 can be scored
        return rows

    model._score = few  # type: ignore[method-assign]
    pipeline = Pipeline.build(model, Popularity().fit(data), catalog=CATALOG)
    user = data.users.ids[0]
    answer = pipeline.recommend_user(user, Query(n=10))
    model_part = pipeline.model_list(0, Query(n=10))
    assert len(model_part) <= 3 and answer.backfilled == 10 - len(model_part)
    assert answer.items[: len(model_part)] == model_part
    seen = set(pipeline.seen_items(0))
    popular = [i for i, _ in pipeline.popular.overall if i not in seen]
    rest = [i for i, _ in answer.items[len(model_part) :]]
    assert rest == [i for i in popular if i not in {i for i, _ in model_part}][: len(rest)]
    table = pipeline.recommend([user], Query(n=10)).users
    assert table["backfilled"].tolist() == [answer.backfilled]


def test_users_with_nothing_left_are_reported_not_dropped(data: Dataset) -> None:
    model = create_model("itemknn", {}).fit(data)
    pipeline = Pipeline.build(model, None, catalog=CATALOG)  # no fallback at all
    query = Query(n=5, category="no-such-category")
    result = pipeline.recommend(["cold", data.users.ids[0]], query)
    assert result.recs.empty
    assert result.users["user_id"].tolist() == ["cold", data.users.ids[0]]
    assert result.users["n_items"].tolist() == [0, 0]
    assert sorted(result.empty_users) == sorted(["cold", data.users.ids[0]])
    assert pipeline.recommend_user("cold", query).items == []


def test_without_a_model_every_user_gets_the_fallback(data: Dataset) -> None:
    pipeline = Pipeline.build(None, Popularity().fit(data), catalog=CATALOG)
    result = pipeline.recommend(["a", "b"], Query(n=3))
    assert set(result.users["source"]) == {"fallback"}
    assert result.lists()["a"] == pipeline.popular.overall[:3]


def test_explanation_hook(data: Dataset) -> None:
    calls: list[tuple[str, int | None]] = []

    def explain(user_id: str, user_num: int | None, items: Any) -> list[str | None]:
        calls.append((user_id, user_num))
        return [f"{user_id}:{i}" for i, _ in items]

    model = create_model("ease", {}).fit(data)
    pipeline = Pipeline.build(model, Popularity().fit(data), catalog=CATALOG, explainer=explain)
    user = data.users.ids[1]
    answer = pipeline.recommend_user(user, Query(n=3))
    assert answer.explanations == [f"{user}:{i}" for i, _ in answer.items]
    recs = pipeline.recommend([user, "cold"], Query(n=3)).recs
    assert recs["explanation"].tolist() == [
        f"{u}:{i}" for u, i in recs[["user_id", "item_id"]].values
    ]
    assert (user, 1) in calls and ("cold", None) in calls


def test_segments_pick_the_fallback_list(data: Dataset) -> None:
    users = pd.DataFrame({"user_id": data.users.ids, "country": ["FR", "UK"] * 25})
    segments = read_segments(users, "country")
    model = create_model("popularity", {}).fit(data)
    pipeline = Pipeline.build(model, model, catalog=CATALOG, segments=segments)
    fr = pipeline.popular.top(segment="FR")
    assert fr and fr != pipeline.popular.overall
    # per segment: distinct users of the segment, ties by item number, no unavailable item
    frame = data.to_frame().merge(users, on="user_id")
    counts = frame.loc[frame["country"] == "FR"].groupby("item_id")["user_id"].nunique()
    available = set(CATALOG.loc[CATALOG["available"], "item_id"])
    numbers = {i: k for k, i in enumerate(data.items.ids)}
    expected = sorted(
        (i for i in counts.index if i in available), key=lambda i: (-counts[i], numbers[i])
    )
    assert [i for i, _ in fr] == expected
    assert [i for i, _ in pipeline.recommend_user("new", Query(n=3, segment="FR")).items] == (
        expected[:3]
    )
    batch = pipeline.recommend(["new"], Query(n=3), segments={"new": "FR"}).lists()
    assert [i for i, _ in batch["new"]] == expected[:3]
    unknown_segment = pipeline.recommend_user("new", Query(n=3, segment="XX")).items
    assert unknown_segment == pipeline.popular.overall[:3]
    with pytest.raises(ConfigError, match="no 'region' column"):
        read_segments(users, "region")


def test_ann_candidates_in_both_paths(tmp_path: Any) -> None:
    """Above ``ann_min_items`` a factor model is scored through the ANN index in the batch path
    too, so precomputed, recommended and live lists agree."""
    from tailor.pipeline import AnnSettings
    from tailor.testing.serving import write_factor_model_dir

    path = write_factor_model_dir(tmp_path / "model")
    pipeline = Pipeline.from_model_dir(path, ann=AnnSettings(min_items=300))
    assert pipeline.ann is not None
    users = pipeline.model.users.ids.tolist()
    for query in (Query(n=10), Query(n=5, category="c1"), Query(n=10, exclude=frozenset({"i7"}))):
        lists = pipeline.recommend(users, query, block=16).lists()
        for user in users:
            assert lists[user] == pipeline.recommend_user(user, query).items


def test_no_evidence_scores_are_backfilled_not_padded(data: Dataset) -> None:
    """ItemKNN scores 0 for items no neighbour of the history reaches: the pipeline does not
    list them in item order but fills the list from the popular one (same filters)."""
    model = create_model("itemknn", {"k": 2}).fit(data)  # few neighbours: many zero scores
    assert model.no_evidence_score == 0.0
    pipeline = Pipeline.build(model, Popularity().fit(data), catalog=CATALOG)
    query = Query(n=8, category="c1")
    result = pipeline.recommend(data.users.ids, query)
    lists = result.lists()
    backfilled = result.users.loc[result.users["backfilled"] > 0, "user_id"].tolist()
    assert backfilled, "the planted data has users whose neighbours miss category c1"
    c1 = CATALOG.loc[(CATALOG["category"] == "c1") & CATALOG["available"], "item_id"]
    raw = model.recommend(backfilled, n=8, candidates=c1.tolist())
    assert (raw["score"] == 0).any()  # the raw model pads with zeros in item order
    for user in backfilled:
        items = lists[user]
        model_part = pipeline.model_list(int(data.users.number(user)), query)
        assert all(score != 0 for _, score in model_part)
        assert items[: len(model_part)] == model_part
        assert items == pipeline.recommend_user(user, query).items
