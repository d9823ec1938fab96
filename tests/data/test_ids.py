"""One id normalisation for every reader (tailor.data.ids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.cli.fit import read_user_ids
from tailor.data.ids import id_array, normalise_ids, normalise_text_id
from tailor.data.io import read_interactions, read_items
from tailor.data.validate import parse_ids
from tailor.data.vocab import Vocabulary
from tailor.errors import DataError

CASES = [
    (pd.Series([17850.0, np.nan, 12.0]), ["17850", None, "12"]),
    (pd.Series([17850, 12], dtype="int64"), ["17850", "12"]),
    (pd.Series([17850, None], dtype="Int64"), ["17850", None]),
    (pd.Series(["17850.0", " 42 ", "0042", "85123A", "", None, "1.50", "-3.00"]),
     ["17850", "42", "0042", "85123A", None, None, "1.50", "-3"]),
]  # fmt: skip


@pytest.mark.parametrize(("values", "expected"), CASES)
def test_normalise_ids(values: pd.Series, expected: list[str | None]) -> None:
    out = normalise_ids(values)
    assert [None if pd.isna(v) else v for v in out] == expected


def test_a_float_id_with_a_fraction_is_an_error_naming_its_row() -> None:
    with pytest.raises(DataError, match=r"file f.csv, column 'c', row 2: id 1.5 is not a whole"):
        normalise_ids(pd.Series([1.0, 1.5]), file="f.csv", column="c")
    with pytest.raises(DataError, match="row 1: id inf"):
        normalise_ids(pd.Series([np.inf]))


def test_parse_ids_is_the_same_function() -> None:
    values = pd.Series(["17850.0", " 7 ", None])
    assert parse_ids(values, file="f", column="c").equals(normalise_ids(values))


@pytest.mark.parametrize(
    "values",
    [["17850.0", " a ", "0042", "7"], np.array(["17850.0", "b"]), ("1.0", "2.50")],
)
def test_the_few_ids_path_agrees_with_the_column_path(values: Any) -> None:
    many = normalise_ids(pd.Series(list(values))).tolist()
    assert id_array(values).tolist() == many
    assert [normalise_text_id(v) for v in values] == many


def test_vocabulary_uses_it() -> None:
    vocab = Vocabulary(["17850", "12"])
    assert vocab.numbers(np.array([17850.0, 12.0])).tolist() == [0, 1]
    assert vocab.numbers(["17850.0", " 12"]).tolist() == [0, 1]
    assert vocab.numbers(pd.Series(["17850.0"] * 100)).tolist() == [0] * 100
    assert vocab.number(17850.0) == 0 and vocab.number("17850.0") == 0
    assert vocab.number(float("nan")) is None and vocab.number("") is None
    assert Vocabulary.from_values([17850.0, 17850, "17850.0"]).ids.tolist() == ["17850"]
    with pytest.raises(ValueError, match="missing"):
        Vocabulary([1.0, np.nan])


def test_every_file_reader_agrees(tmp_path: Path) -> None:
    """A float id column (what pandas makes of a column with blanks) means the same ids in the
    interaction, catalogue and user-list readers."""
    frame = pd.DataFrame(
        {
            "user_id": [17850.0, 12.0],
            "item_id": [3.0, 4.0],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    parquet = tmp_path / "f.parquet"
    frame.to_parquet(parquet)
    csv = tmp_path / "f.csv"
    csv.write_text("user_id,item_id,timestamp\n17850.0,3.0,2024-01-01\n12.0,4.0,2024-01-02\n")
    for path in (parquet, csv):
        assert read_interactions(path)["user_id"].tolist() == ["17850", "12"]
        assert read_items(path)["item_id"].tolist() == ["3", "4"]
        assert read_user_ids(path).tolist() == ["17850", "12"]


def test_missing_ids_are_missing_whatever_pandas_writes_for_them() -> None:
    # pandas 2 turns NA into the text "<NA>" (nullable integers), "nan" and "None" (objects)
    # under astype(str); those must stay missing, or they become a user called "<NA>"
    floats = normalise_ids(pd.Series([17850.0, np.nan, None, 12583.0]))
    assert floats.isna().tolist() == [False, True, True, False]
    assert floats.dropna().tolist() == ["17850", "12583"]
    objects = normalise_ids(pd.Series(["a", None, np.nan, pd.NA, " ", 42], dtype=object))
    assert objects.isna().tolist() == [False, True, True, True, True, False]
    assert objects.dropna().tolist() == ["a", "42"]


def test_online_retail_rows_without_a_customer_are_dropped(tmp_path: Path) -> None:
    from tailor.data.prepare import prepare

    csv = tmp_path / "online_retail.csv"
    csv.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536366,71053,LANTERN,6,2010-12-01 08:28:00,3.39,,United Kingdom\n"
        "536367,84406B,CREAM,8,2010-12-01 08:34:00,2.75,13047.0,United Kingdom\n"
        "536368,84029G,FLAG,6,2010-12-01 08:35:00,3.39,,United Kingdom\n"
    )
    prepared, report = prepare("online-retail", csv)
    assert prepared.interactions["user_id"].tolist() == ["17850", "13047"]
    assert report.dropped["missing_user_id"] == 2 and report.rows_out == 2
