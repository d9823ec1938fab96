"""``tailor data profile|prepare``: outputs, and every bad-input message through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tailor.cli import cli, main
from tailor.errors import DataError

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
RETAIL_ROWS = [
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom",
]


def _retail_csv(tmp_path: Path, rows: list[str], header: str = RETAIL_HEADER) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "retail.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_prepare_writes_tables_and_report(tmp_path: Path) -> None:
    csv = _retail_csv(tmp_path, RETAIL_ROWS)
    out = tmp_path / "prepared"
    result = CliRunner().invoke(
        cli, ["data", "prepare", "online-retail", "--input", str(csv), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "rows out" in result.output and "cancellation" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["rows_in"] == 4 and report["rows_out"] == 2
    assert report["dropped"]["cancellation"] == 1 and report["dropped"]["missing_user_id"] == 1
    assert report["rows_in"] - report["rows_out"] == sum(report["dropped"].values())
    inter = pd.read_parquet(out / "interactions.parquet")
    assert inter["item_id"].tolist() == ["85123A", "71053"]
    assert inter["user_id"].tolist() == ["17850", "17850"]
    assert inter["weight"].dtype == "float32"
    items = pd.read_parquet(out / "items.parquet")
    assert set(items["item_id"]) == {"85123A", "71053", "D", "22633"}
    users = pd.read_parquet(out / "users.parquet")
    assert users.set_index("user_id").loc["17850", "country"] == "United Kingdom"


def test_profile_prints_and_writes_json(tmp_path: Path) -> None:
    csv = _retail_csv(tmp_path, [*RETAIL_ROWS, RETAIL_ROWS[0]])
    out = tmp_path / "profile.json"
    result = CliRunner().invoke(
        cli, ["data", "profile", "online-retail", "--input", str(csv), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "exact duplicate rows" in result.output
    stats = json.loads(out.read_text())
    assert (stats["rows"], stats["duplicates"], stats["users"], stats["items"]) == (5, 1, 2, 4)
    assert stats["missing"]["interactions"]["user_id"] == 1


def test_online_retail_report_json_conserves_rows(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "prepare", "online-retail", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows_in"] == 541_909
    assert report["rows_in"] - report["rows_out"] == sum(report["dropped"].values())
    assert len(pd.read_parquet(tmp_path / "interactions.parquet")) == report["rows_out"]


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (CLI args, the exact message)."""
    no_customer = RETAIL_HEADER.replace(",CustomerID", "")
    missing = _retail_csv(tmp_path / "missing", ["1,A,x,1,2010-12-01 08:26:00,1.0,UK"], no_customer)
    bad_time = _retail_csv(
        tmp_path / "time",
        [RETAIL_ROWS[0], RETAIL_ROWS[1].replace("2010-12-01 08:26:00", "01/12/2010")],
    )
    bad_qty = _retail_csv(
        tmp_path / "qty", [*RETAIL_ROWS[:2], RETAIL_ROWS[3].replace(",6,", ",six,")]
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = _retail_csv(tmp_path / "header", [])
    ragged = _retail_csv(tmp_path / "ragged", [RETAIL_ROWS[0], RETAIL_ROWS[1] + ",extra"])
    (tmp_path / "shop").mkdir()
    events = tmp_path / "shop" / "events.csv"
    events.write_text("customer,sku,time\n1,A,2024-01-01\n")
    config = tmp_path / "shop" / "shop.toml"
    config.write_text(
        '[interactions]\npath = "events.csv"\n'
        '[interactions.columns]\nuser_id = "client"\nitem_id = "sku"\ntimestamp = "time"\n'
    )
    retail = ["data", "prepare", "online-retail", "--out", str(tmp_path / "out"), "--input"]
    return {
        "missing column": (
            [*retail, str(missing)],
            f"file {missing}, column 'CustomerID': column is missing: the mapping "
            "[interactions.columns] user_id = 'CustomerID' names a column the file lacks (it has: "
            "InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, Country)",
        ),
        "bad timestamp": (
            [*retail, str(bad_time)],
            f"file {bad_time}, column 'InvoiceDate', row 2: cannot parse timestamp '01/12/2010' "
            "with format '%Y-%m-%d %H:%M:%S'; set `timestamp_format` in the source config",
        ),
        "non-numeric value": (
            [*retail, str(bad_qty)],
            f"file {bad_qty}, column 'Quantity', row 3: value 'six' is not a number",
        ),
        "empty file": ([*retail, str(empty)], f"file {empty}: file is empty"),
        "header only": ([*retail, str(header_only)], f"file {header_only}: file has no data rows"),
        "malformed file": (
            [*retail, str(ragged)],
            f"file {ragged}, row 2: malformed CSV: Error tokenizing data. C error: Expected 8 "
            "fields in line 3, saw 9",
        ),
        "wrong mapping": (
            ["data", "profile", "generic", "--config", str(config)],
            f"file {events}, column 'client': column is missing: the mapping "
            "[interactions.columns] user_id = 'client' names a column the file lacks "
            "(it has: customer, sku, time)",
        ),
    }


CASES = [
    "missing column",
    "bad timestamp",
    "non-numeric value",
    "empty file",
    "header only",
    "malformed file",
    "wrong mapping",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_clear_data_error(tmp_path: Path, case: str) -> None:
    args, message = _bad_inputs(tmp_path)[case]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == message


@pytest.mark.parametrize("case", CASES)
def test_main_exits_2_with_one_line(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args, message = _bad_inputs(tmp_path)[case]
    monkeypatch.setattr(sys, "argv", ["tailor", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"  # one line, no traceback


def test_unknown_source_and_missing_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["tailor", "data", "profile", "generic"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert (
        capsys.readouterr().err.strip().endswith("needs --config FILE with an [interactions] table")
    )
    result = CliRunner().invoke(cli, ["data", "profile", "nope"])
    assert result.exit_code == 2 and "Invalid value for 'SOURCE'" in result.output
