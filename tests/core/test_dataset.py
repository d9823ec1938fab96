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


# ---- one way onto existing vocabularies ----------------------------------------------------
def _batch() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u2", "new", "u1", "u2"],
            "item_id": ["b", "a", "zzz", "a"],
            "value": [1.0, 2.0, 3.0, 4.0],
            "timestamp": [5, 6, 7, 8],
        }
    )


def test_onto_given_vocabularies_missing_error_names_the_row() -> None:
    base = Dataset.from_frame(_frame())
    with pytest.raises(DataError, match=r"column 'user_id', row 2: id 'new' is not in the given"):
        Dataset.from_frame(_batch(), users=base.users, items=base.items)
    ok = Dataset.from_frame(_batch().iloc[[0, 3]], users=base.users, items=base.items)
    assert ok.users is base.users and ok.items is base.items
    assert ok.interactions.user_nums.tolist() == [1, 1]
    assert ok.interactions.item_nums.tolist() == [1, 0]


def test_onto_given_vocabularies_missing_drop() -> None:
    base = Dataset.from_frame(_frame())
    out = Dataset.from_frame(_batch(), users=base.users, items=base.items, missing="drop")
    assert out.users is base.users and out.items is base.items
    assert out.interactions.user_nums.tolist() == [1, 1]
    assert out.interactions.item_nums.tolist() == [1, 0]
    assert out.interactions.weights.tolist() == [1.0, 4.0]  # rows kept with their weights
    assert out.interactions.timestamps.tolist() == [5, 8]


def test_onto_given_vocabularies_missing_extend() -> None:
    base = Dataset.from_frame(_frame())
    catalog = pd.DataFrame({"item_id": ["c", "a"], "category": ["x", "y"]})
    out = Dataset.from_frame(
        _batch(), users=base.users, items=base.items, missing="extend", item_features=catalog
    )
    assert out.users.ids.tolist() == ["u1", "u2", "new"]  # appended: old numbers stay
    assert out.items.ids.tolist() == ["a", "b", "zzz", "c"]  # frame's new ids, then catalog's
    assert out.interactions.user_nums.tolist() == [1, 2, 0, 1]
    assert out.interactions.item_nums.tolist() == [1, 0, 2, 0]
    assert base.users.ids.tolist() == ["u1", "u2"]  # the given vocabulary is not modified
    assert out.item_features is not None
    assert out.item_features["category"].tolist()[0] == "y"
    same = Dataset.from_frame(_batch().iloc[[0]], users=base.users, missing="extend")
    assert same.users is base.users  # nothing new: the same object


def test_only_one_vocabulary_given_and_bad_missing() -> None:
    base = Dataset.from_frame(_frame())
    out = Dataset.from_frame(_batch(), items=base.items, missing="drop")
    assert out.users.ids.tolist() == ["u2", "new"]  # built from the kept rows only
    assert out.interactions.item_nums.tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="missing"):
        Dataset.from_frame(_batch(), items=base.items, missing="ignore")  # type: ignore[arg-type]
