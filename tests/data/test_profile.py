"""profile() on planted data, and on Online Retail against an independent count of the CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.prepare import prepare
from tailor.data.profile import profile
from tailor.data.sources import read_source
from tailor.data.sources.raw import RawData

ROOT = Path(__file__).resolve().parents[2]
RETAIL_CSV = (ROOT / "../shared/data/online-retail/online_retail.csv.gz").resolve()


def test_profile_planted() -> None:
    frame = pd.DataFrame(
        {
            "user_id": pd.Series(["a", "a", "b", None, "a"], dtype="str"),
            "item_id": pd.Series(["x", "y", "x", "x", "x"], dtype="str"),
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-03", "2024-01-02", None, "2024-01-01"]
            ),
            "event_type": pd.Series(["view", "purchase", "view", None, "view"], dtype="str"),
            "value": [1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    stats = profile(RawData("planted", frame))
    assert stats["rows"] == 5
    assert stats["duplicates"] == 1  # the last row repeats the first
    assert (stats["users"], stats["items"], stats["pairs"]) == (2, 2, 3)
    assert stats["density"] == pytest.approx(3 / 4)
    assert stats["interactions_per_user"]["max"] == 3.0  # a: 3 rows
    assert stats["interactions_per_user"]["min"] == 1.0
    assert stats["interactions_per_item"]["p50"] == 2.5  # x: 4 rows, y: 1
    assert stats["event_types"] == {"view": 3, "purchase": 1, "<missing>": 1}
    assert stats["time_span"] == {
        "start": "2024-01-01T00:00:00",
        "end": "2024-01-03T00:00:00",
        "days": 2.0,
    }
    assert stats["missing"]["interactions"]["user_id"] == 1
    assert stats["missing"]["interactions"]["timestamp"] == 1
    assert stats["tables"] == {"items": None, "users": None}


@pytest.fixture(scope="module")
def retail_csv(require: Callable[[bool, str], None]) -> pd.DataFrame:
    require(RETAIL_CSV.exists(), "needs ../shared/data/online-retail")
    return pd.read_csv(RETAIL_CSV, dtype={"InvoiceNo": str, "StockCode": str})


def test_online_retail_profile_agrees_with_independent_count(retail_csv: pd.DataFrame) -> None:
    csv = retail_csv
    stats = profile(read_source("online-retail"))  # the bundled Parquet copy
    assert stats["rows"] == len(csv) == 541_909
    assert stats["duplicates"] == int(csv.duplicated().sum()) == 5_268
    assert stats["missing"]["interactions"]["user_id"] == int(csv["CustomerID"].isna().sum())
    assert stats["missing"]["interactions"]["user_id"] == 135_080
    assert stats["missing"]["interactions"]["item.title"] == int(csv["Description"].isna().sum())
    assert stats["users"] == csv["CustomerID"].nunique()
    assert stats["items"] == csv["StockCode"].nunique()
    assert stats["event_types"] == {"purchase": 541_909}
    assert stats["time_span"]["start"] == pd.Timestamp(csv["InvoiceDate"].min()).isoformat()
    assert stats["time_span"]["end"] == pd.Timestamp(csv["InvoiceDate"].max()).isoformat()
    per_user = csv.groupby("CustomerID").size()
    assert stats["interactions_per_user"]["max"] == per_user.max()
    assert stats["interactions_per_user"]["p50"] == pytest.approx(float(np.median(per_user)))


def test_online_retail_report_conserves_rows(retail_csv: pd.DataFrame) -> None:
    prepared, report = prepare("online-retail")
    assert report.rows_in == 541_909
    assert report.rows_in - report.rows_out == sum(report.dropped.values())
    assert len(prepared.interactions) == report.rows_out
    # the same rules done independently with plain pandas on the CSV
    csv = retail_csv.drop_duplicates()
    assert report.dropped["duplicates"] == 5_268
    csv = csv[csv["CustomerID"].notna()]
    csv = csv[~csv["InvoiceNo"].str.startswith("C")]
    csv = csv[csv["Quantity"] > 0]
    csv = csv[csv["UnitPrice"] > 0]
    assert report.rows_out == len(csv)
    assert report.dropped["cancellation"] > 0
    got = prepared.interactions.groupby("user_id")["value"].sum()
    want = csv.groupby(csv["CustomerID"].astype("int64").astype(str))["Quantity"].sum()
    assert got.sort_index().equals(want.sort_index())
    assert prepared.items["item_id"].is_unique and prepared.users["user_id"].is_unique
    assert prepared.items["title"].notna().all() and prepared.users["country"].notna().all()
