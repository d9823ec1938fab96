from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models import Popularity
from tailor.testing import RecommenderContract


class TestPopularityContract(RecommenderContract):
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
