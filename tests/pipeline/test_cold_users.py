"""New customers: per-segment popular lists with recency decay and a blend of the global trend.

Planted shop (hand-derived), newest interaction on day 10, half-life 10 days:
F2 (FR) bought y on day 0, F1 (FR) x on day 10, U1 (UK) y and z on day 10. Item numbers by
first appearance: y 0, x 1, z 2. Decayed distinct users: y = 0.5 (F2) + 1 (U1) = 1.5, x = 1,
z = 1; within FR: x 1, y 0.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.models.popular import Popularity
from tailor.pipeline import Pipeline, Query
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.popular import PopularLists

FRAME = pd.DataFrame(
    {
        "user_id": ["F2", "F1", "U1", "U1"],
        "item_id": ["y", "x", "y", "z"],
        "timestamp": pd.to_datetime([0, 10, 10, 10], unit="D"),
    }
)
SEGMENTS = {"F1": "FR", "F2": "FR", "U1": "UK"}


def _lists(half_life: float | None, weight: float) -> PopularLists:
    popularity = Popularity(half_life_days=half_life).fit(FRAME)
    return PopularLists.build(popularity, Catalog(), 10, SEGMENTS, global_weight=weight)


def _close(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-6)


def test_plain_counts_tie_by_item_number() -> None:
    lists = _lists(None, 0.0)
    _close(lists.by_segment["FR"], [("y", 1.0), ("x", 1.0)])
    _close(lists.by_segment["UK"], [("y", 1.0), ("z", 1.0)])


def test_a_half_life_decays_old_customers() -> None:
    _close(_lists(10.0, 0.0).by_segment["FR"], [("x", 1.0), ("y", 0.5)])


def test_the_global_blend_adds_the_trend_and_fills_small_segments() -> None:
    # FR shares x 2/3, y 1/3; global shares y 1.5/3.5, x 1/3.5, z 1/3.5
    _close(
        _lists(10.0, 1.0).by_segment["FR"],
        [("x", 2 / 3 + 1 / 3.5), ("y", 1 / 3 + 1.5 / 3.5), ("z", 1 / 3.5)],
    )


def test_a_new_customer_gets_the_blended_list_on_both_paths() -> None:
    popularity = Popularity(half_life_days=10.0).fit(FRAME)
    pipe = Pipeline.build(popularity, popularity, segments=SEGMENTS, segment_blend=1.0)
    one = pipe.recommend_user("newcomer", Query(n=3, segment="FR"))
    assert one.source == "cold_start"
    assert [i for i, _ in one.items] == ["x", "y", "z"]
    batch = pipe.recommend(["newcomer"], Query(n=3), segments={"newcomer": "FR"}).lists()
    assert [i for i, _ in batch["newcomer"]] == ["x", "y", "z"]


def test_a_bad_blend_weight_is_named() -> None:
    popularity = Popularity().fit(FRAME)
    with pytest.raises(ValueError, match="global_weight"):
        PopularLists.build(popularity, Catalog(), 10, SEGMENTS, global_weight=-1.0)
