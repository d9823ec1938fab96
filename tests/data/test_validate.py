"""Validation helpers: each bad value or file gives one DataError naming file, column and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.validate import (
    infer_format,
    parse_ids,
    parse_numbers,
    parse_timestamps,
    read_table,
    require_columns,
)
from tailor.errors import DataError


def test_ids_become_text() -> None:
    floats = pd.Series([17850.0, np.nan, 3.0])
    assert parse_ids(floats, file="f", column="c").tolist()[::2] == ["17850", "3"]
    assert pd.isna(parse_ids(floats, file="f", column="c").iloc[1])
    text = pd.Series([" 0042 ", "17850.0", "", None, "A1.5"], dtype="str")
    out = parse_ids(text, file="f", column="c")
    assert out.iloc[0] == "0042" and out.iloc[1] == "17850" and out.iloc[4] == "A1.5"
    assert out.iloc[2:4].isna().all()
    assert parse_ids(pd.Series([1, 2]), file="f", column="c").tolist() == ["1", "2"]
    with pytest.raises(DataError, match=r"file f, column 'c', row 2: id 1.5 is not a whole number"):
        parse_ids(pd.Series([1.0, 1.5]), file="f", column="c")


def test_numbers_name_the_first_bad_row() -> None:
    out = parse_numbers(pd.Series(["1", " 2.5", "", None]), file="f", column="qty")
    assert out.iloc[:2].tolist() == [1.0, 2.5] and out.iloc[2:].isna().all()
    with pytest.raises(DataError) as info:
        parse_numbers(pd.Series(["1", "2", "two", "x"]), file="f.csv", column="qty")
    assert str(info.value) == "file f.csv, column 'qty', row 3: value 'two' is not a number"


def test_timestamps_formats_and_bad_rows() -> None:
    fmt = "%Y-%m-%d %H:%M:%S"
    out = parse_timestamps(pd.Series(["2024-01-02 03:04:05", ""]), fmt, file="f", column="t")
    assert out.iloc[0] == pd.Timestamp("2024-01-02 03:04:05") and pd.isna(out.iloc[1])
    assert out.dtype == "datetime64[ns]"
    with pytest.raises(DataError) as info:
        parse_timestamps(
            pd.Series(["2024-01-02 03:04:05", "02/01/2024"]), fmt, file="f", column="t"
        )
    assert "file f, column 't', row 2: cannot parse timestamp '02/01/2024'" in str(info.value)
    aware = pd.Series(pd.to_datetime(["2024-01-01 01:00"]).tz_localize("Europe/Paris"))
    assert parse_timestamps(aware, None, file="f", column="t").iloc[0] == pd.Timestamp("2024-01-01")
    ms = parse_timestamps(pd.Series([1000]), "unix_ms", file="f", column="t")
    assert ms.iloc[0] == pd.Timestamp("1970-01-01 00:00:01")
    with pytest.raises(DataError, match="row 1: value 'soon' is not a number"):
        parse_timestamps(pd.Series(["soon"]), "unix", file="f", column="t")


def test_infer_format() -> None:
    assert infer_format(Path("a.csv.gz")) == "csv"
    assert infer_format(Path("a.parquet")) == "parquet"
    assert infer_format(Path("a.jsonl.gz")) == "jsonl"
    assert infer_format(Path("a.txt")) == "csv"


def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="file has no data rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "ragged.csv")
    assert info.value.row == 2 and "malformed CSV" in str(info.value)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet")
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match="cannot read the file as jsonl"):
        read_table(tmp_path / "bad.jsonl")
    (tmp_path / "latin.csv").write_bytes("a\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="cannot decode the file as utf-8"):
        read_table(tmp_path / "latin.csv")
    assert read_table(tmp_path / "latin.csv", encoding="latin-1")["a"].tolist() == ["café"]


def test_require_columns_lists_what_the_file_has() -> None:
    frame = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(DataError) as info:
        require_columns(frame, {"user_id": "a", "item_id": "x"}, file="f.csv", table="t.columns")
    assert info.value.column == "x" and info.value.file == "f.csv"
    assert "[t.columns] item_id = 'x' names a column the file lacks (it has: a, b)" in str(
        info.value
    )
