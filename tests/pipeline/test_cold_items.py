"""New items in model lists: rank slots filled from the content model, the same on both paths.

Planted shop (hand-derived): A bought a and c, B a and b, C b and d, D a and d. Popularity by
distinct users: a 3, b 2, d 2, c 1. Categories: a, b and the new item ``new`` are knit, c and d
cotton. ``new`` has no interaction, so Popularity does not know it; the content model scores it
for A at cos((knit 1, cotton 1), knit) = 1/sqrt(2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models.content import Content
from tailor.models.popular import Popularity
from tailor.pipeline import Pipeline, Query
from tailor.pipeline.cold import ColdItems, slot_in

PAIRS = [("A", "a"), ("A", "c"), ("B", "a"), ("B", "b"), ("C", "b"), ("C", "d")]
PAIRS += [("D", "a"), ("D", "d")]
CATALOG = pd.DataFrame(
    {
        "item_id": ["a", "b", "c", "d", "new"],
        "category": ["knit", "knit", "cotton", "cotton", "knit"],
    }
)


@pytest.fixture(scope="module")
def shop() -> tuple[Popularity, Content]:
    frame = pd.DataFrame(
        {
            "user_id": [u for u, _ in PAIRS],
            "item_id": [i for _, i in PAIRS],
            "timestamp": pd.to_datetime(np.arange(len(PAIRS)), unit="D"),
        }
    )
    popularity = Popularity().fit(frame)
    content = Content(text_weight=0.0, price_weight=0.0, half_life_days=None)
    content.fit(Dataset.from_frame(frame, item_features=CATALOG))
    return popularity, content


def _pipeline(shop: tuple[Popularity, Content], ranks: tuple[int, ...]) -> Pipeline:
    popularity, content = shop
    cold = ColdItems.build(content, popularity, ranks=ranks)
    return Pipeline.build(popularity, popularity, catalog=CATALOG, cold_items=cold)


def _both_paths(pipe: Pipeline, user: str, query: Query) -> list[tuple[str, float]]:
    one = pipe.recommend_user(user, query).items
    batch = pipe.recommend([user, "B", "C"], query).lists()[user]
    assert [i for i, _ in one] == [i for i, _ in batch]
    np.testing.assert_allclose([s for _, s in one], [s for _, s in batch], rtol=1e-6)
    return one


def test_the_new_item_takes_its_slot_with_the_score_before_it(shop) -> None:
    pipe = _pipeline(shop, ranks=(2,))
    assert list(pipe.cold_items.item_ids) == ["new"]
    # A: model list b (2), d (2) after a and c (seen); new goes to rank 2 with b's score
    assert _both_paths(pipe, "A", Query(n=3)) == [("b", 2.0), ("new", 2.0), ("d", 2.0)]


def test_a_first_slot_takes_the_first_score_and_n_cuts(shop) -> None:
    pipe = _pipeline(shop, ranks=(1,))
    assert _both_paths(pipe, "A", Query(n=2)) == [("new", 2.0), ("b", 2.0)]


def test_filters_apply_to_cold_items(shop) -> None:
    pipe = _pipeline(shop, ranks=(1,))
    assert "new" not in dict(_both_paths(pipe, "A", Query(n=3, exclude=frozenset({"new"}))))
    cotton = _both_paths(pipe, "A", Query(n=3, category="cotton"))
    assert [i for i, _ in cotton] == ["d"]  # new is knit; c is seen


def test_slots_past_n_and_unknown_users_add_nothing(shop) -> None:
    pipe = _pipeline(shop, ranks=(5,))
    assert [i for i, _ in _both_paths(pipe, "A", Query(n=3))] == ["b", "d"]
    unknown = pipe.recommend_user("nobody", Query(n=2))
    assert unknown.source == "cold_start" and [i for i, _ in unknown.items] == ["a", "b"]


def test_a_model_that_knows_the_item_without_interactions_still_counts_it_cold(shop) -> None:
    _, content = shop
    frame = pd.DataFrame({"user_id": [u for u, _ in PAIRS], "item_id": [i for _, i in PAIRS]})
    knows = Popularity().fit(Dataset.from_frame(frame, item_features=CATALOG))
    assert "new" in knows.items
    assert list(ColdItems.build(content, knows).item_ids) == ["new"]


def test_content_model_given_directly_gets_default_slots(shop) -> None:
    popularity, content = shop
    pipe = Pipeline.build(popularity, popularity, cold_items=content)
    assert pipe.cold_items is not None and pipe.cold_items.ranks == (5, 10)
    with pytest.raises(ConfigError, match="cold items need a model"):
        Pipeline.build(None, popularity, cold_items=content)
    with pytest.raises(ValueError, match="distinct"):
        ColdItems.build(content, popularity, ranks=(2, 2))


def test_slot_in_by_hand() -> None:
    items = [("x", 3.0), ("y", 2.0), ("z", 1.0)]
    picks = [("p", 0.9), ("q", 0.8)]
    assert slot_in(items, picks, (2, 4), 4) == [("x", 3.0), ("p", 3.0), ("y", 2.0), ("q", 2.0)]
    assert slot_in([], picks, (3,), 5) == [("p", 0.9)]
    assert slot_in(items, picks, (9,), 3) == items
