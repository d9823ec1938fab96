"""``Pipeline.recommend_history``: lists for a history the model has no row for (an anonymous
session's recent items, a known user's items plus a request's context), through the model's
``score_history`` and the filters and backfill of every list."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models import EASE, ItemKNN, Popularity
from tailor.models.recency_ease import RecencyEASE
from tailor.pipeline import SOURCE_SESSION, Pipeline, Query
from tailor.testing import planted_frame
from tailor.testing.serving import CATALOG

# planted_frame(): u0-u5 like i0-i3, u6-u11 like i4-i7; item numbers i0 i2 i3 i1 i4 i6 i7 i5;
# popular list i0, i4 (6 users), then i2 i3 i1 i6 i7 i5 (4 each); CATALOG: i0-i3 in a, i4-i7 in b


def _pipeline(model: Any, catalog: pd.DataFrame = CATALOG, **options: Any) -> Pipeline:
    data = Dataset.from_frame(planted_frame(), items=catalog)
    return Pipeline.build(model.fit(data), Popularity().fit(data), catalog=catalog, **options)


def _ids(items: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in items]


def _reference(model: Any, history: list[str], banned: set[str], n: int) -> list[str]:
    """Rank ``score_history`` directly: finite scores, ties by lower item number."""
    scores = model.score_history(model.items.numbers(history))
    ids = list(model.items.ids)
    order = sorted(range(len(ids)), key=lambda k: (-scores[k], k))
    return [ids[k] for k in order if ids[k] not in banned and np.isfinite(scores[k])][:n]


def test_a_session_gets_its_groups_items_not_the_popular_list() -> None:
    pipeline = _pipeline(EASE())
    answer = pipeline.recommend_history("s1", ["i5"], Query(n=3))
    assert answer.source == SOURCE_SESSION == "session"
    assert _ids(answer.items) == ["i4", "i6", "i7"]  # i5's group; the popular list: i0 i4 i2
    assert _ids(answer.items) == _reference(pipeline.model, ["i5"], {"i5"}, 3)
    assert answer.backfilled == 0
    # two items of both groups: the popular one of each (i0, i4 tie: lower number first)
    mixed = pipeline.recommend_history("s1", ["i5", "i1"], Query(n=4))
    assert _ids(mixed.items) == ["i0", "i4", "i2", "i3"]
    assert _ids(mixed.items) == _reference(pipeline.model, ["i5", "i1"], {"i5", "i1"}, 4)


def test_history_items_count_as_seen_only_with_exclude_seen() -> None:
    pipeline = _pipeline(RecencyEASE(popularity_weight=0.0))
    kept = pipeline.recommend_history("s1", ["i4", "i6"], Query(n=8, exclude_seen=False))
    left_out = pipeline.recommend_history("s1", ["i4", "i6"], Query(n=8))
    assert {"i4", "i6"} <= set(_ids(kept.items))
    assert not {"i4", "i6"} & set(_ids(left_out.items))
    assert _ids(left_out.items) == _reference(pipeline.model, ["i4", "i6"], {"i4", "i6"}, 8)
    assert _ids(kept.items) == _reference(pipeline.model, ["i4", "i6"], set(), 8)


def test_the_newest_item_leads_for_recency_ease() -> None:
    pipeline = _pipeline(RecencyEASE(profile_half_life=0.5, popularity_weight=0.0))
    b_last = pipeline.recommend_history("s1", ["i1", "i5"], Query(n=3))
    a_last = pipeline.recommend_history("s1", ["i5", "i1"], Query(n=3))
    assert _ids(b_last.items) == ["i4", "i6", "i7"]
    assert _ids(a_last.items) == ["i0", "i2", "i3"]


def test_filters_apply_and_short_lists_are_backfilled() -> None:
    catalog = CATALOG.assign(available=[i != "i6" for i in CATALOG["item_id"]])
    pipeline = _pipeline(ItemKNN(), catalog)
    answer = pipeline.recommend_history("s1", ["i5"], Query(n=6, exclude=frozenset({"i7"})))
    # ItemKNN reaches only i5's neighbours (i4; i6 is unavailable, i7 excluded); the rest
    # comes from the popular list under the same filters, without i5 (seen in the session)
    assert _ids(answer.items) == ["i4", "i0", "i2", "i3", "i1"]
    assert answer.source == "session" and answer.backfilled == 4
    in_a = pipeline.recommend_history("s1", ["i5"], Query(n=3, category="a"))
    assert _ids(in_a.items) == ["i0", "i2", "i3"] and in_a.backfilled == 3


def test_a_known_user_adds_the_context_to_their_history() -> None:
    pipeline = _pipeline(EASE())
    model = pipeline.model
    answer = pipeline.recommend_history("u0", ["i5"], Query(n=4))
    # u0 saw i0, i2, i3: their missing item i1 first, then i5's group
    assert _ids(answer.items) == ["i1", "i4", "i6", "i7"] and answer.source == "session"
    assert _ids(answer.items) == _reference(
        model, ["i0", "i2", "i3", "i5"], {"i0", "i2", "i3", "i5"}, 4
    )
    # nothing known in the context: the user's usual list, context items still left out
    usual = pipeline.recommend_user("u0", Query(n=4))
    same = pipeline.recommend_history("u0", ["unknown-item"], Query(n=4))
    assert same.items == usual.items and same.source == "model"
    without = pipeline.recommend_history("u0", ["unknown-item", "i1"], Query(n=4))
    assert without.source == "session" and "i1" not in _ids(without.items)


def test_nothing_to_score_answers_as_without_a_history() -> None:
    ease = _pipeline(EASE())
    unknown = ease.recommend_history("s1", ["nope", "nada"], Query(n=3))
    assert unknown.source == "cold_start" and _ids(unknown.items) == ["i0", "i4", "i2"]
    popularity = _pipeline(Popularity())
    session = popularity.recommend_history("s1", ["i0"], Query(n=3))
    assert session.source == "cold_start" and _ids(session.items) == ["i4", "i2", "i3"]
    user = popularity.recommend_history("u0", ["i4"], Query(n=3))  # u0 saw i0, i2, i3
    assert user.source == "model" and _ids(user.items) == ["i1", "i6", "i7"]
    nothing = Pipeline.build(None, Popularity().fit(Dataset.from_frame(planted_frame())))
    assert nothing.recommend_history("s1", ["i0"], Query(n=2)).source == "fallback"


def test_the_explainer_sees_the_session_list() -> None:
    seen: list[tuple[str, int | None, list[str]]] = []

    def explain(user_id: str, user_num: int | None, items: Any) -> list[str | None]:
        seen.append((user_id, user_num, _ids(items)))
        return ["because" for _ in items]

    pipeline = _pipeline(EASE(), explainer=explain)
    answer = pipeline.recommend_history("s1", ["i5"], Query(n=2))
    assert seen == [("s1", None, ["i4", "i6"])] and answer.explanations == ["because"] * 2


@pytest.mark.parametrize("n", [1, 5, 8])
def test_session_lists_never_repeat_or_list_seen_items(n: int) -> None:
    pipeline = _pipeline(ItemKNN())
    for history in (["i0"], ["i7", "i1"], ["i3", "i3", "i4"]):
        items = _ids(pipeline.recommend_history("s", history, Query(n=n)).items)
        assert len(items) == len(set(items)) == min(n, 8 - len(set(history)))
        assert not set(items) & set(history)


@pytest.mark.parametrize(
    "model",
    [RecencyEASE(profile_half_life=1.0), EASE(recency_half_life_days=2.0, binary=False)],
    ids=["recency-ease", "ease-decayed"],
)
def test_a_known_users_history_keeps_the_models_weights_and_order(model: Any) -> None:
    """The user's own history enters as the model keeps it (``user_history``: RecencyEASE's
    order, EASE's decayed weights), the context after it at weight 1."""
    pipeline = _pipeline(model)
    for user, context in (("u0", ["i5"]), ("u7", ["i1", "i6"]), ("u3", ["i3"])):
        own, weights = model.user_history(model.users.number(user))
        nums = np.concatenate([own, model.items.numbers(context)])
        w = None if weights is None else np.concatenate([weights, np.ones(len(context))])
        scores = model.score_history(nums, w)
        seen = set(model.items.id_of(own).tolist()) | set(context)
        ids = list(model.items.ids)
        order = sorted(range(len(ids)), key=lambda k: (-scores[k], k))
        expected = [ids[k] for k in order if ids[k] not in seen][:3]
        answer = pipeline.recommend_history(user, context, Query(n=3))
        assert answer.source == "session" and _ids(answer.items) == expected
