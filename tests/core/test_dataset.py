from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import DataError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u1"],
            "item_id": ["a", "b", "a", "a"],
            "value": [1.0, 2.0, 3.0, 4.0],
            "timestamp": pd.to_datetime(["1970-01-01 00:00:10"] * 3 + ["1970-01-02 00:00:00"]),
        }
    )


def test_matrix_sums_repeated_pairs() -> None:
    ds = Dataset.from_frame(_frame())
    assert ds.matrix().toarray().tolist() == [[5.0, 2.0], [3.0, 0.0]]
    assert ds.matrix(weights=False).toarray().tolist() == [[1.0, 1.0], [1.0, 0.0]]
    assert ds.interactions.timestamps.tolist() == [10, 10, 10, 86_400]


def test_catalog_items_join_the_vocabulary_and_align() -> None:
    items = pd.DataFrame({"item_id": ["c", "a"], "category": ["x", "y"]})
    ds = Dataset.from_frame(_frame(), items=items)
    assert ds.items.ids.tolist() == ["a", "b", "c"]
    assert ds.item_features is not None
    assert ds.item_features["category"].tolist()[::2] == ["y", "x"]
    assert pd.isna(ds.item_features["category"].iloc[1])


def test_explicit_weight_column_and_errors() -> None:
    frame = _frame().assign(weight=np.float32(1))
    assert Dataset.from_frame(frame).matrix().toarray()[0].tolist() == [2.0, 1.0]
    with pytest.raises(DataError, match="column 'user_id'"):
        Dataset.from_frame(frame.drop(columns="user_id"))
    with pytest.raises(DataError, match="numeric"):
        Dataset.from_frame(frame.assign(value=["x", "1", "2", "3"]), weight="value")


def test_to_frame_round_trip() -> None:
    out = Dataset.from_frame(_frame()).to_frame()
    assert out[["user_id", "item_id"]].values.tolist() == [
        ["u1", "a"],
        ["u1", "b"],
        ["u2", "a"],
        ["u1", "a"],
    ]
