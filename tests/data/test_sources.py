"""Readers: the generic config-driven reader on planted files, and the built-in sources."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tailor.data.cleaning import CleaningConfig
from tailor.data.prepare import prepare
from tailor.data.prepared import Prepared
from tailor.data.sources import SOURCES, get_source, load_config, read_source
from tailor.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[2]
ML100K = (ROOT / "../shared/data/ml-100k").resolve()
CONFIGS = ROOT / "configs" / "sources"

EVENTS_CSV = """customer,sku,time,event,qty,order
17850.0,A1,2024-01-02 10:00:00,Purchase,2,O1
17850.0,0042,2024-01-02 10:05:00,view,,O1
,A1,2024-01-03 09:00:00,view,1,O2
12,A1,2024-01-04 00:00:00,add_to_cart,1,O3
"""

MAPPING = """
name = "shop"
[interactions]
path = "events.csv"
timestamp_format = "%Y-%m-%d %H:%M:%S"
[interactions.columns]
user_id = "customer"
item_id = "sku"
timestamp = "time"
event_type = "event"
value = "qty"
session_id = "order"
[items]
path = "items.csv"
[items.columns]
item_id = "sku"
title = "name"
category = "cat"
price = "price"
"""


def _write_shop(tmp_path: Path) -> Path:
    (tmp_path / "events.csv").write_text(EVENTS_CSV)
    (tmp_path / "items.csv").write_text("sku,name,cat,price\nA1,Mug,Home,2.5\n0042,Plate,home,\n")
    config = tmp_path / "shop.toml"
    config.write_text(MAPPING)
    return config


def test_generic_csv_maps_columns_and_keeps_ids_as_text(tmp_path: Path) -> None:
    raw = read_source("generic", config=_write_shop(tmp_path))
    inter = raw.interactions
    assert raw.name == "shop" and raw.raw_rows == 4
    assert inter["user_id"].tolist()[:2] == ["17850", "17850"]  # 17850.0 -> "17850"
    assert pd.isna(inter["user_id"].iloc[2])
    assert inter["item_id"].tolist() == ["A1", "0042", "A1", "A1"]  # leading zeros kept
    assert inter["timestamp"].dtype == "datetime64[ns]"
    assert inter["timestamp"].iloc[3] == pd.Timestamp("2024-01-04")
    assert inter["event_type"].tolist() == ["Purchase", "view", "view", "add_to_cart"]  # as read
    assert inter["value"].iloc[0] == 2.0 and pd.isna(inter["value"].iloc[1])
    assert inter["session_id"].tolist() == ["O1", "O1", "O2", "O3"]
    assert raw.items is not None and raw.items["item_id"].tolist() == ["A1", "0042"]
    assert raw.items["price"].tolist()[0] == 2.5


def test_generic_prepare_end_to_end(tmp_path: Path) -> None:
    prepared, report = prepare("generic", config=_write_shop(tmp_path))
    assert report.dropped["missing_user_id"] == 1
    assert report.rows_out == 3
    assert prepared.interactions["event_type"].tolist() == ["purchase", "view", "add_to_cart"]
    assert prepared.interactions["weight"].tolist() == [5.0, 1.0, 3.0]
    cats = dict(zip(prepared.items["item_id"], prepared.items["category"], strict=True))
    assert cats == {"A1": "home", "0042": "home"}
    assert prepared.items.set_index("item_id").loc["0042", "price"] == 2.5  # imputed median


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_generic_parquet_and_jsonl(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {
            "u": ["a", "b"],
            "i": ["x", "y"],
            "ts": ["2024-01-01T00:00:00+01:00", "2024-01-02T00:00:00Z"],
            "rating": [4, 5],
        }
    )
    path = tmp_path / f"events.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    config = tmp_path / "c.toml"
    config.write_text(
        '[interactions]\nevent_type = "rating"\n'
        '[interactions.columns]\nuser_id = "u"\nitem_id = "i"\ntimestamp = "ts"\nvalue = "rating"\n'
    )
    raw = read_source("generic", input=path, config=config)
    # ISO 8601 with offsets -> naive UTC
    assert raw.interactions["timestamp"].tolist() == [
        pd.Timestamp("2023-12-31 23:00:00"),
        pd.Timestamp("2024-01-02 00:00:00"),
    ]
    assert raw.interactions["value"].tolist() == [4.0, 5.0]
    assert set(raw.interactions["event_type"]) == {"rating"}


def test_unix_timestamps_and_constant_value(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("u,i,t\n1,2,0\n1,3,86400\n")
    config = tmp_path / "c.toml"
    config.write_text(
        '[interactions]\npath = "e.csv"\ntimestamp_format = "unix"\nvalue = 2.0\n'
        '[interactions.columns]\nuser_id = "u"\nitem_id = "i"\ntimestamp = "t"\n'
    )
    raw = read_source("generic", config=config)
    assert raw.interactions["timestamp"].tolist() == [
        pd.Timestamp("1970-01-01"),
        pd.Timestamp("1970-01-02"),
    ]
    assert raw.interactions["value"].tolist() == [2.0, 2.0]
    assert raw.interactions["event_type"].tolist() == ["purchase", "purchase"]


def test_config_errors_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("u,i,t\n1,2,2024-01-01\n")
    config = tmp_path / "c.toml"
    config.write_text('[interactions]\npath = "e.csv"\n[interactions.columns]\nuser_id = "u"\n')
    with pytest.raises(ConfigError, match="must map 'item_id'"):
        read_source("generic", config=config)
    config.write_text('[interactions]\npaht = "e.csv"\n')
    with pytest.raises(ConfigError, match="paht"):
        load_config(config)
    with pytest.raises(ConfigError, match="needs --config"):
        read_source("generic")
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        get_source("nope")
    config.write_text("[interactions\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(config)


def test_registry_lists_the_three_sources() -> None:
    assert set(SOURCES) == {"online-retail", "movielens-100k", "generic"}
    assert get_source("online-retail").cleaning_defaults == {"cancellation_prefix": "C"}


def test_prepared_save_load_round_trip(tmp_path: Path) -> None:
    prepared, _ = prepare("generic", config=_write_shop(tmp_path))
    prepared.save(tmp_path / "out")
    loaded = Prepared.load(tmp_path / "out")
    pd.testing.assert_frame_equal(loaded.interactions, prepared.interactions)
    pd.testing.assert_frame_equal(loaded.items, prepared.items)
    pd.testing.assert_frame_equal(loaded.users, prepared.users)
    with pytest.raises(DataError, match="run `tailor data prepare` first"):
        Prepared.load(tmp_path)


def test_online_retail_config_file_matches_builtin_source() -> None:
    builtin = read_source("online-retail")
    generic = read_source("generic", config=CONFIGS / "online-retail.toml")
    assert builtin.raw_rows == generic.raw_rows == 541_909
    assert builtin.interactions.dtypes.equals(generic.interactions.dtypes)
    assert builtin.interactions.equals(generic.interactions)


def test_movielens_100k_reader(require: Callable[[bool, str], None]) -> None:
    require(ML100K.is_dir(), "needs ../shared/data/ml-100k")
    raw = read_source("movielens-100k", input=ML100K)
    inter = raw.interactions
    assert raw.raw_rows == 100_000
    assert inter["user_id"].nunique() == 943 and inter["item_id"].nunique() == 1682
    assert set(inter["event_type"]) == {"rating"}
    assert sorted(inter["value"].unique()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    # u.data's first line: 196 242 3 881250949
    first = inter.iloc[0]
    assert (first["user_id"], first["item_id"], first["value"]) == ("196", "242", 3.0)
    assert first["timestamp"] == pd.Timestamp(881250949, unit="s")
    assert raw.users is not None and raw.items is not None
    assert len(raw.users) == 943 and len(raw.items) == 1682
    toy_story = raw.items.iloc[0]
    assert toy_story["title"] == "Toy Story (1995)"
    assert toy_story["category"] == "animation"  # first of animation, children's, comedy
    assert toy_story["genre_comedy"] and not toy_story["genre_drama"]
    assert toy_story["release_date"] == pd.Timestamp("1995-01-01")
    assert raw.users.iloc[0][["user_id", "age", "gender", "occupation", "zip"]].tolist() == [
        "1",
        24.0,
        "M",
        "technician",
        "85711",
    ]
    prepared, report = prepare("movielens-100k", input=ML100K)
    assert report.rows_out == 100_000 and sum(report.dropped.values()) == 0
    assert prepared.interactions["weight"].equals(prepared.interactions["value"].astype("float32"))


def test_movielens_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs --input"):
        read_source("movielens-100k")
    with pytest.raises(DataError, match="file not found"):
        read_source("movielens-100k", input=tmp_path)


def test_example_config_documents_the_defaults() -> None:
    config = load_config(CONFIGS / "example-generic.toml")
    assert config.name == "my-shop"
    assert config.interactions is not None and config.items is not None
    assert config.interactions.columns["user_id"] == "customer"
    # every [cleaning] value written in the example is the default
    assert CleaningConfig.from_table(config.cleaning) == CleaningConfig()
    assert set(config.cleaning) == set(CleaningConfig.model_fields)
    retail = load_config(CONFIGS / "online-retail.toml")
    builtin = get_source("online-retail").cleaning_defaults
    assert CleaningConfig.from_table(retail.cleaning) == CleaningConfig.from_table({}, builtin)
