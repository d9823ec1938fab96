from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models import Popularity
from tailor.testing import RecommenderContract


class TestPopularityContract(RecommenderContract):
    fold_in_is_local = False  # one global ranking: a batch moves everyone's scores

    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        kwargs.pop("seed", None)
        return Popularity(**kwargs)


def _frame() -> pd.DataFrame:
    # item a: 3 users (old), b: 2 users (recent), c: 1 user seen 4 times (recent)
    return pd.DataFrame(
        {
            "user_id": ["1", "2", "3", "1", "2", "4", "4", "4", "4"],
            "item_id": ["a", "a", "a", "b", "b", "c", "c", "c", "c"],
            "value": [1, 1, 1, 2, 2, 5, 5, 5, 5],
            "timestamp": pd.to_datetime([0, 0, 0, 10, 10, 10, 10, 10, 10], unit="D"),
        }
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"measure": "users"}, [("a", 3.0), ("b", 2.0), ("c", 1.0)]),
        ({"measure": "count"}, [("c", 4.0), ("a", 3.0), ("b", 2.0)]),
        ({"measure": "weight"}, [("c", 20.0), ("b", 4.0), ("a", 3.0)]),
        ({"measure": "users", "half_life_days": 10.0}, [("b", 2.0), ("a", 1.5), ("c", 1.0)]),
    ],
)
def test_exact_scores(params: dict[str, Any], expected: list[tuple[str, float]]) -> None:
    model = Popularity(**params).fit(Dataset.from_frame(_frame()))
    top = model.top_items(3)
    assert top["item_id"].tolist() == [i for i, _ in expected]
    assert top["score"].tolist() == pytest.approx([s for _, s in expected])


def test_recommend_excludes_seen_items() -> None:
    model = Popularity().fit(Dataset.from_frame(_frame()))
    assert model.recommend(["1", "4"], n=3).to_frame().values.tolist() == [
        ["1", "c", 1, 1.0],
        ["4", "a", 1, 3.0],
        ["4", "b", 2, 2.0],
    ]


def test_per_category() -> None:
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "category": ["x", "y", "x", "y"]})
    model = Popularity().fit(Dataset.from_frame(_frame(), items=items))
    assert model.top_items(5, category="x")["item_id"].tolist() == ["a", "c"]
    assert model.top_items(5, category="y")["item_id"].tolist() == ["b"]
    assert model.top_items(5, category="nope").empty
    assert np.array_equal(model.categories, ["x", "y"])


# ---- partial_fit: the counts of a fit on the union ----------------------------------------
MEASURES = [
    {"measure": "users"},
    {"measure": "count"},
    {"measure": "weight"},
    {"measure": "users", "half_life_days": 3.0},
    {"measure": "count", "half_life_days": 3.0},
    {"measure": "weight", "half_life_days": 3.0},
]


def _batches() -> list[pd.DataFrame]:
    """Two batches after _frame(): repeats of fitted pairs (older and newer than their fitted
    interactions), a new user, a new item; the second batch is older than the first."""
    first = pd.DataFrame(
        {
            "user_id": ["1", "1", "5", "5", "4"],
            "item_id": ["a", "b", "a", "d", "c"],
            "value": [1, 3, 2, 1, 5],
            "timestamp": pd.to_datetime([12, 5, 12, 13, 13], unit="D"),
        }
    )
    second = pd.DataFrame(
        {
            "user_id": ["3", "6"],
            "item_id": ["d", "a"],
            "value": [4, 1],
            "timestamp": pd.to_datetime([11, 2], unit="D"),
        }
    )
    return [first, second]


@pytest.mark.parametrize("params", MEASURES, ids=lambda p: "-".join(map(str, p.values())))
def test_partial_fit_counts_equal_a_fit_on_the_union(params: dict[str, Any]) -> None:
    model = Popularity(**params).fit(Dataset.from_frame(_frame()))
    for batch in _batches():
        model.partial_fit(batch)
    union = pd.concat([_frame(), *_batches()], ignore_index=True)
    full = Popularity(**params).fit(Dataset.from_frame(union))
    assert model.items.ids.tolist() == full.items.ids.tolist()  # same first-appearance order
    if params.get("half_life_days") is None and params["measure"] != "weight":
        np.testing.assert_array_equal(model.item_scores, full.item_scores)  # integer counts
    else:
        np.testing.assert_allclose(model.item_scores, full.item_scores, rtol=1e-6)
    assert model.newest[0] == full.newest[0]
    pd.testing.assert_frame_equal(model.top_items(4), full.top_items(4), rtol=1e-6)


def test_partial_fit_planted_counts_by_hand() -> None:
    model = Popularity().fit(Dataset.from_frame(_frame()))  # a: 3 users, b: 2, c: 1
    model.partial_fit(_batches()[0])  # 1-a and 1-b and 4-c are known pairs; 5-a, 5-d new
    assert dict(zip(model.items.ids, model.item_scores.tolist(), strict=True)) == {
        "a": 4.0,
        "b": 2.0,
        "c": 1.0,
        "d": 1.0,
    }
    assert model.item_categories.tolist()[-1] == -1  # a new item: unknown category


def test_partial_fit_of_the_fallback_round_trips(tmp_path: Path) -> None:
    model = Popularity(half_life_days=3.0).fit(Dataset.from_frame(_frame()))
    model.partial_fit(_batches()[0]).save(tmp_path / "p")
    loaded = Popularity.load(tmp_path / "p")
    loaded.partial_fit(_batches()[1])
    model.partial_fit(_batches()[1])
    np.testing.assert_array_equal(loaded.item_scores, model.item_scores)
