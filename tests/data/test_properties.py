"""Property logs (long-form catalogues), their config, and pivoting as of a time."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tailor.data.cleaning import CleaningConfig
from tailor.data.properties import (
    canonical_text,
    catalogue_as_of,
    from_text,
    pivot_latest,
)
from tailor.data.sources import load_config, read_source
from tailor.errors import ConfigError

T = pd.Timestamp("2024-01-01")


def _log(rows: list[tuple[str | None, int | None, str, str | None, str]]) -> pd.DataFrame:
    """(item, day, property, value, type) rows."""
    return pd.DataFrame(
        {
            "item_id": pd.Series([r[0] for r in rows], dtype="str"),
            "timestamp": [
                T + pd.Timedelta(days=r[1]) if r[1] is not None else pd.NaT for r in rows
            ],
            "property": pd.Series([r[2] for r in rows], dtype="str"),
            "value": pd.Series([r[3] for r in rows], dtype="str"),
            "type": pd.Series([r[4] for r in rows], dtype="str"),
        }
    )


LOG = _log(
    [
        ("a", 0, "category", "330", "category"),
        ("a", 0, "available", "true", "flag"),
        ("b", 1, "category", "12", "category"),
        ("b", 1, "available", "true", "flag"),
        ("a", 5, "available", "false", "flag"),
        ("a", 3, "price", "2.5", "number"),
        ("a", 9, "available", "true", "flag"),
        ("b", 9, "category", "13", "category"),
        ("b", 9, "category", "14", "category"),  # same time: the later row wins
        ("c", 20, "available", "false", "flag"),
        (None, 2, "available", "false", "flag"),  # no item: ignored
        ("b", None, "available", "false", "flag"),  # no time: ignored
    ]
)


def test_pivot_latest_takes_each_property_s_last_value() -> None:
    wide = pivot_latest(LOG).set_index("item_id")
    assert list(wide.columns) == ["category", "available", "price"]
    assert wide.loc["a"].tolist() == ["330", True, 2.5]
    assert wide.loc["b", "category"] == "14" and bool(wide.loc["b", "available"])
    assert not wide.loc["c", "available"] and pd.isna(wide.loc["c", "category"])
    assert str(wide["available"].dtype) == "boolean" and wide["price"].dtype == "float64"


def test_pivot_as_of_a_time_sees_only_earlier_rows() -> None:
    at = pivot_latest(LOG, before=T + pd.Timedelta(days=6)).set_index("item_id")
    assert list(at.index) == ["a", "b"]  # c is not listed yet
    assert not at.loc["a", "available"] and at.loc["b", "category"] == "12"
    exactly = pivot_latest(LOG, before=T + pd.Timedelta(days=5)).set_index("item_id")
    assert exactly.loc["a", "available"]  # a row at the cut is not before it
    cols = pivot_latest(LOG, before=T, properties=["price", "category"])
    assert list(cols.columns) == ["item_id", "price", "category"] and cols.empty


def test_canonical_text_round_trips() -> None:
    flags = pd.Series(pd.array([True, False, None], dtype="boolean"))
    assert canonical_text(flags, "flag").tolist()[:2] == ["true", "false"]
    assert from_text(canonical_text(flags, "flag"), "flag").tolist() == [True, False, pd.NA]
    numbers = pd.Series([0.1, 1e300, float("nan")])
    back = from_text(canonical_text(numbers, "number"), "number")
    assert back.iloc[0] == 0.1 and back.iloc[1] == 1e300 and pd.isna(back.iloc[2])


def test_catalogue_as_of_keeps_rows_and_other_columns_and_imputes() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["c", "a", "b", "d", "z"],
            "category": ["x", "330", "14", "7", "unknown"],
            "available": [False, True, True, True, True],
            "price": [1.0, 2.5, 2.5, 2.5, 2.5],
            "title": ["C", "A", "B", "D", "Z"],
        }
    )
    log = pd.concat([LOG, _log([("d", 2, "available", "true", "flag")])], ignore_index=True)
    at, changed = catalogue_as_of(items, log, T + pd.Timedelta(days=6))
    assert at["item_id"].tolist() == ["c", "a", "b", "d", "z"] and at["title"].tolist()[0] == "C"
    assert at["available"].dtype == bool
    # c and z have no row yet: imputed like prepare does (booleans: the most frequent value)
    assert at["available"].tolist() == [True, False, True, True, True]
    assert at["category"].tolist() == ["unknown", "330", "12", "unknown", "unknown"]
    assert at["price"].tolist() == [2.5] * 5
    assert changed["items.category.imputed"] == 3


def _long_config(tmp_path: Path, items: str) -> Path:
    (tmp_path / "e.csv").write_text("u,i,t\n1,a,2024-01-01\n")
    path = tmp_path / "shop.toml"
    path.write_text(
        '[interactions]\npath = "e.csv"\n[interactions.columns]\nuser_id = "u"\nitem_id = "i"\n'
        f'timestamp = "t"\n[items]\npath = "p.csv"\n{items}'
    )
    return path


LONG_COLUMNS = (
    '[items.columns]\nitem_id = "itemid"\ntimestamp = "timestamp"\nproperty = "property"\n'
    'value = "value"\n'
)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ('layout = "long"\n' + LONG_COLUMNS, "keeps no property"),
        (
            'layout = "long"\n[items.columns]\nitem_id = "x"\n[items.properties]\nc = "c"\n',
            "missing: ['timestamp', 'property', 'value']",
        ),
        (LONG_COLUMNS + '[items.properties]\ncategory = "c"\n', 'needs layout = "long"'),
        (
            'layout = "long"\n' + LONG_COLUMNS + '[items.properties]\na = "x"\nb = "x"\n',
            "maps the properties ['x'] more than once",
        ),
        ('[items.columns]\nitem_id = "sku"\n[items.types]\nsize = "float"\n', "items.types.size"),
    ],
)
def test_long_layout_config_errors(tmp_path: Path, items: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_long_config(tmp_path, items))


def test_types_belong_to_the_attribute_tables(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(
        '[interactions]\npath = "e.csv"\n[interactions.columns]\nuser_id = "u"\n'
        '[interactions.types]\nx = "flag"\n'
    )
    with pytest.raises(ConfigError, match=r"\[interactions.item_types\]"):
        load_config(path)


def test_unknown_event_types_option_and_its_older_spelling() -> None:
    assert CleaningConfig().unknown_event_types == "error"
    assert CleaningConfig.from_table({"drop_unknown_event_types": True}).unknown_event_types == (
        "drop"
    )
    assert CleaningConfig.from_table({"drop_unknown_event_types": False}).unknown_event_types == (
        "keep"
    )
    with pytest.raises(ConfigError, match="not also drop_unknown_event_types"):
        CleaningConfig.from_table({"drop_unknown_event_types": True, "unknown_event_types": "drop"})
    with pytest.raises(ConfigError, match="unknown_event_types"):
        CleaningConfig.from_table({"unknown_event_types": "ignore"})
    with pytest.raises(ConfigError, match="max_events_per_user_day"):
        CleaningConfig.from_table({"max_events_per_user_day": -1})


def test_keep_unmapped_properties_and_property_names_that_look_like_numbers(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.csv").write_text(
        "timestamp,itemid,property,value\n"
        "1000,a,790,n12.000\n2000,a,categoryid,330\n1500,b,790,n3.5\n3000,a,790,n13.000\n"
    )
    config = _long_config(
        tmp_path,
        'layout = "long"\ntimestamp_format = "unix_ms"\nkeep_unmapped = true\n'
        + LONG_COLUMNS
        + '[items.properties]\ncategory = "categoryid"\n',
    )
    raw = read_source("generic", config=config)
    assert raw.items is not None and raw.item_properties is not None
    wide = raw.items.set_index("item_id")
    assert list(wide.columns) == ["category", "790"]
    assert wide.loc["a"].tolist() == ["330", "n13.000"]
    assert raw.types["items"] == {"category": "category", "790": "text"}
