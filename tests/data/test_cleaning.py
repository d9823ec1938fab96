"""Each cleaning rule on small planted data, with exact counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.cleaning import CleaningConfig, aggregate, clean, k_core
from tailor.data.sources.raw import RawData
from tailor.errors import ConfigError, DataError

T0 = pd.Timestamp("2024-01-01")


def _raw(rows: list[dict[str, Any]], **tables: pd.DataFrame) -> RawData:
    """Rows of the interaction contract; unspecified fields take harmless defaults."""
    full = [
        {
            "user_id": "u1",
            "item_id": "i1",
            "timestamp": T0 + pd.Timedelta(days=k),
            "event_type": "purchase",
            "value": 1.0,
            "session_id": f"S{k}",
            "price": 1.0,
            **row,
        }
        for k, row in enumerate(rows)
    ]
    frame = pd.DataFrame(full)
    for col in ("user_id", "item_id", "session_id", "event_type"):
        frame[col] = frame[col].astype("str")
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    frame["value"] = frame["value"].astype(float)
    frame["price"] = frame["price"].astype(float)
    return RawData("planted", frame, tables.get("items"), tables.get("users"))


def _only(report_dropped: dict[str, int], rule: str, n: int) -> None:
    assert report_dropped[rule] == n
    assert sum(v for k, v in report_dropped.items() if k != rule) == 0


def test_exact_duplicates_removed_first_copy_kept() -> None:
    row = {"user_id": "u1", "session_id": "S", "timestamp": T0}
    raw = _raw([row, row, row, {**row, "value": 2.0}])
    prepared, report = clean(raw)
    _only(report.dropped, "duplicates", 2)
    assert report.rows_in == 4 and report.rows_out == 2
    assert prepared.interactions["value"].tolist() == [1.0, 2.0]


def test_duplicates_kept_when_rule_off() -> None:
    row = {"session_id": "S", "timestamp": T0}
    _, report = clean(_raw([row, row]), CleaningConfig(drop_duplicates=False))
    assert "duplicates" not in report.dropped and report.rows_out == 2


def test_missing_ids_and_timestamps_dropped() -> None:
    raw = _raw(
        [
            {"user_id": None},
            {"user_id": None, "item_id": None},  # counted once, under the first rule
            {"item_id": None},
            {"timestamp": pd.NaT},
            {},
        ]
    )
    _, report = clean(raw)
    assert report.dropped["missing_user_id"] == 2
    assert report.dropped["missing_item_id"] == 1
    assert report.dropped["missing_timestamp"] == 1
    assert report.rows_out == 1


def test_event_types_normalised_then_unknown_dropped() -> None:
    raw = _raw(
        [
            {"event_type": " Add to Cart"},
            {"event_type": "VIEW"},
            {"event_type": "add-to-cart"},
            {"event_type": "wishlist"},
            {"event_type": "purchase"},
        ]
    )
    prepared, report = clean(raw, CleaningConfig(unknown_event_types="drop"))
    _only(report.dropped, "unknown_event_type", 1)
    assert report.changed["event_types_normalised"] == 3
    assert prepared.interactions["event_type"].tolist() == [
        "add_to_cart",
        "view",
        "add_to_cart",
        "purchase",
    ]


def test_unknown_event_types_kept_with_weight_when_rule_off() -> None:
    raw = _raw([{"event_type": "wishlist"}, {"event_type": "view"}])
    config = CleaningConfig(drop_unknown_event_types=False, unknown_event_weight=0.5)
    prepared, report = clean(raw, config)
    assert report.rows_out == 2
    assert prepared.interactions["weight"].tolist() == [0.5, 1.0]


def test_extra_event_type_known_once_weighted() -> None:
    raw = _raw([{"event_type": "wishlist"}])
    config = CleaningConfig(event_weights={"wishlist": 4.0})
    prepared, report = clean(raw, config)
    assert report.rows_out == 1 and prepared.interactions["weight"].tolist() == [4.0]


def test_cancellations_then_nonpositive_quantities() -> None:
    raw = _raw(
        [
            {"session_id": "C1", "value": -2.0},  # a cancellation, negative as usual
            {"session_id": "C2", "value": 3.0},
            {"session_id": "S1", "value": -1.0},  # a return without a C invoice
            {"session_id": "S2", "value": 0.0},
            {"session_id": "S3", "value": 2.0},
            {"session_id": "S4", "value": 0.0, "event_type": "rating"},  # not a quantity
        ]
    )
    _, report = clean(raw, CleaningConfig(cancellation_prefix="C"))
    assert report.dropped["cancellation"] == 2
    assert report.dropped["nonpositive_quantity"] == 2
    assert report.rows_out == 2
    _, off = clean(raw)  # no prefix: the cancellation rule does not run
    assert "cancellation" not in off.dropped
    assert off.dropped["nonpositive_quantity"] == 3


def test_nonpositive_prices_dropped_missing_price_kept() -> None:
    raw = _raw([{"price": 0.0}, {"price": -1.0}, {"price": np.nan}, {"price": 2.0}])
    _, report = clean(raw)
    _only(report.dropped, "nonpositive_price", 2)
    _, kept = clean(raw, CleaningConfig(drop_nonpositive_prices=False))
    assert kept.rows_out == 4


def test_event_weights_and_rating_value() -> None:
    events = ["view", "click", "add_to_cart", "purchase", "rating"]
    raw = _raw([{"event_type": e, "value": 4.0} for e in events])
    prepared, _ = clean(raw)
    weights = prepared.interactions["weight"]
    assert weights.dtype == np.float32
    assert weights.tolist() == [1.0, 2.0, 3.0, 5.0, 4.0]
    custom = CleaningConfig(
        event_weights={"view": 0.5, "purchase": 10.0}, drop_unknown_event_types=False
    )
    prepared, _ = clean(raw, custom)
    assert prepared.interactions["weight"].tolist() == [0.5, 1.0, 1.0, 10.0, 4.0]


def test_aggregation_merges_pairs_and_counts_them() -> None:
    raw = _raw(
        [
            {"user_id": "u1", "item_id": "a", "event_type": "view", "value": 1.0},
            {"user_id": "u2", "item_id": "a", "event_type": "purchase", "value": 2.0},
            {"user_id": "u1", "item_id": "a", "event_type": "purchase", "value": 3.0},
            {"user_id": "u1", "item_id": "b", "event_type": "click", "value": 1.0},
            {"user_id": "u1", "item_id": "a", "event_type": "add_to_cart", "value": 1.0},
        ]
    )
    prepared, report = clean(raw, CleaningConfig(aggregate=True))
    assert report.dropped["merged"] == 2
    assert report.rows_in - report.rows_out == sum(report.dropped.values())
    out = prepared.interactions
    assert list(zip(out["user_id"], out["item_id"], strict=True)) == [
        ("u1", "a"),
        ("u2", "a"),
        ("u1", "b"),
    ]
    assert out["weight"].tolist() == [1.0 + 5.0 + 3.0, 5.0, 2.0]
    assert out["value"].tolist() == [5.0, 2.0, 1.0]
    first = out.iloc[0]
    assert first["timestamp"] == T0 + pd.Timedelta(days=4)
    assert first["event_type"] == "add_to_cart" and first["session_id"] == "S4"


def test_k_core_iterates_until_stable() -> None:
    # u1-u2 share items a and b; u3 only rated c, so dropping c's lone user leaves a chain.
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u4"],
            "item_id": ["a", "b", "a", "b", "b", "c", "c"],
        }
    )
    # pass 1 (k=2): u4 has 1 row -> dropped; c then has 1 row (u3) -> pass 2 drops it;
    # u3 then has 1 row -> pass 3 drops it; b keeps u1, u2.
    out = k_core(frame, 2, 2)
    assert sorted(zip(out["user_id"], out["item_id"], strict=True)) == [
        ("u1", "a"),
        ("u1", "b"),
        ("u2", "a"),
        ("u2", "b"),
    ]
    rows = [
        {"user_id": u, "item_id": i}
        for u, i in zip(frame["user_id"], frame["item_id"], strict=True)
    ]
    _, report = clean(_raw(rows), CleaningConfig(k_core_users=2, k_core_items=2))
    assert report.dropped["k_core"] == 3 and report.rows_out == 4


def test_item_titles_one_canonical_spelling_per_product() -> None:
    raw = _raw(
        [
            {"item_id": "i1", "item.title": "Mug"},
            {"item_id": "i1", "item.title": "mug  "},
            {"item_id": "i1", "item.title": "Mug"},
            {"item_id": "i1", "item.title": "Big   Mug"},
            {"item_id": "i2", "item.title": "Plate"},
            {"item_id": "i2", "item.title": "plate"},
            {"item_id": "i3", "item.title": None},
        ]
    )
    prepared, report = clean(raw)
    titles = dict(zip(prepared.items["item_id"], prepared.items["title"], strict=True))
    # i1: the mug group has 3 rows (Mug x2, "mug") against 1 for "Big Mug"; "Mug" is its most
    # frequent spelling. i2: a tie between spellings goes to the alphabetically first.
    assert titles == {"i1": "Mug", "i2": "Plate", "i3": "unknown"}
    assert report.changed["items.title.normalised"] == 2  # "mug  " and "Big   Mug"
    assert report.changed["items.title.resolved"] == 2  # i1 and i2 had several spellings
    assert report.changed["items.title.imputed"] == 1
    assert report.rows_out == 7  # attributes never drop interaction rows


def test_categories_are_labels_lower_cased() -> None:
    items = pd.DataFrame(
        {"item_id": ["a", "a", "b", "c"], "category": ["Home ", "home", "GARDEN", None]}
    )
    prepared, report = clean(_raw([{"item_id": "a"}], items=items))
    cats = dict(zip(prepared.items["item_id"], prepared.items["category"], strict=True))
    assert cats == {"a": "home", "b": "garden", "c": "unknown"}
    assert report.changed["items.category.normalised"] == 2
    assert "items.category.resolved" not in report.changed  # "Home " and "home" are one label


def test_imputation_strategies() -> None:
    users = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4"],
            "country": ["FR", "FR", "UK", None],
            "age": [20.0, 30.0, 70.0, np.nan],
            "member": pd.array([True, True, False, None], dtype="object"),
        }
    )
    prepared, report = clean(_raw([{}], users=users))
    u4 = prepared.users.set_index("user_id").loc["u4"]
    assert u4["country"] == "unknown" and u4["age"] == 30.0 and bool(u4["member"]) is True
    assert report.changed["users.country.imputed"] == 1
    assert report.changed["users.age.imputed"] == 1
    config = CleaningConfig(impute_categorical="most_frequent", impute_numeric="mean")
    prepared, _ = clean(_raw([{}], users=users), config)
    u4 = prepared.users.set_index("user_id").loc["u4"]
    assert u4["country"] == "FR" and u4["age"] == 40.0
    prepared, report = clean(
        _raw([{}], users=users), CleaningConfig(impute_categorical="none", impute_numeric="none")
    )
    assert prepared.users["country"].isna().sum() == 1 and prepared.users["age"].isna().sum() == 1
    assert not any(k.endswith(".imputed") for k in report.changed)


def test_catalog_prices_median_of_positive_prices() -> None:
    raw = _raw(
        [
            {"item_id": "a", "item.price": 2.0},
            {"item_id": "a", "item.price": 4.0},
            {"item_id": "a", "item.price": 0.0},
            {"item_id": "a", "item.price": 9.0},
            {"item_id": "b", "item.price": -1.0},
        ]
    )
    prepared, report = clean(raw)
    prices = dict(zip(prepared.items["item_id"], prepared.items["price"], strict=True))
    assert prices == {"a": 4.0, "b": 4.0}  # b: no positive price -> the median of the items
    assert report.changed["items.price.nonpositive_removed"] == 2
    assert report.changed["items.price.resolved"] == 1
    assert report.changed["items.price.imputed"] == 1


def test_rules_in_order_and_rows_conserved() -> None:
    dup = {"session_id": "S", "timestamp": T0}
    raw = _raw(
        [
            dup,
            dup,
            {"user_id": None, "session_id": "C1", "value": -1.0},  # missing user wins
            {"event_type": "return", "session_id": "C2"},  # unknown type before cancellation
            {"session_id": "C3", "price": 0.0},  # cancellation before price
            {"value": -5.0, "price": -1.0},  # quantity before price
            {"price": 0.0},
            {"user_id": "u2", "item_id": "i2"},
        ]
    )
    config = CleaningConfig(cancellation_prefix="C", unknown_event_types="drop")
    prepared, report = clean(raw, config)
    assert report.dropped == {
        "duplicates": 1,
        "missing_user_id": 1,
        "missing_item_id": 0,
        "missing_timestamp": 0,
        "unknown_event_type": 1,
        "cancellation": 1,
        "nonpositive_quantity": 1,
        "nonpositive_price": 1,
        "missing_value": 0,
        "nonfinite_value": 0,
        "negative_weight": 0,
    }
    assert report.rows_in == 8 and report.rows_out == 2
    assert report.to_dict()["rows_in"] - report.to_dict()["rows_out"] == sum(
        report.to_dict()["dropped"].values()
    )
    assert list(prepared.interactions.columns) == [
        "user_id",
        "item_id",
        "timestamp",
        "event_type",
        "value",
        "session_id",
        "price",
        "weight",
    ]


def test_users_and_items_tables_default_to_ids_when_no_attributes() -> None:
    prepared, report = clean(_raw([{"user_id": "u1"}, {"user_id": "u2", "item_id": "i2"}]))
    assert prepared.users["user_id"].tolist() == ["u1", "u2"]
    assert prepared.items["item_id"].tolist() == ["i1", "i2"]
    assert (report.items, report.users) == (2, 2)


def test_aggregate_function_keeps_columns() -> None:
    frame = _raw([{}, {}]).interactions.assign(weight=np.float32(5.0))
    out = aggregate(frame)
    assert list(out.columns) == list(frame.columns) and out["weight"].tolist() == [10.0]


def test_config_from_table_merges_defaults_and_rejects_typos(tmp_path: Any) -> None:
    config = CleaningConfig.from_table({"aggregate": True}, {"cancellation_prefix": "C"})
    assert config.aggregate and config.cancellation_prefix == "C"
    with pytest.raises(ConfigError, match="agregate"):
        CleaningConfig.from_table({"agregate": True})
    path = tmp_path / "c.toml"
    path.write_text('[cleaning]\nk_core_users = 3\nimpute_numeric = "mean"\n')
    loaded = CleaningConfig.from_toml(path)
    assert loaded.k_core_users == 3 and loaded.impute_numeric == "mean"
    with pytest.raises(ConfigError, match="k_core_items"):
        CleaningConfig.from_table({"k_core_items": -1})


def test_unknown_event_types_are_an_error_by_default_naming_them_and_their_counts() -> None:
    types = ["wishlist", "wishlist", "Refund", "view"]
    raw = _raw([*({"event_type": t} for t in types), {"event_type": "wishlist", "user_id": None}])
    with pytest.raises(DataError) as caught:
        clean(raw)
    message = str(caught.value)
    # counted on the rows the earlier rules keep (the row without a user is not counted)
    assert message.startswith("unknown event types: 'wishlist' (2 rows), 'refund' (1 rows);")
    assert "[interactions.event_names]" in message and 'unknown_event_types = "drop"' in message
    _, report = clean(_raw([{"event_type": "view"}]))
    assert report.dropped["unknown_event_type"] == 0  # the rule ran and found none


def test_bots_rule_drops_every_row_of_a_user_over_the_daily_cap() -> None:
    day = [{"user_id": "bot", "item_id": f"i{k}", "session_id": "S",
            "timestamp": T0 + pd.Timedelta(minutes=k)} for k in range(5)]  # fmt: skip
    other_day = {"user_id": "bot", "timestamp": T0 + pd.Timedelta(days=3)}
    human = [{"user_id": "h", "timestamp": T0 + pd.Timedelta(hours=k)} for k in range(4)]
    raw = _raw([*day, day[0], other_day, *human])  # day[0] twice: a duplicate, counted there
    prepared, report = clean(raw, CleaningConfig(max_events_per_user_day=4))
    assert report.dropped["duplicates"] == 1 and report.dropped["bots"] == 6
    assert set(prepared.interactions["user_id"]) == {"h"} and report.warnings == []
    _, off = clean(raw)
    assert "bots" not in off.dropped and off.warnings == []  # 5 a day: far from a bot


def test_a_busy_user_day_is_a_warning_while_the_bot_rule_is_off() -> None:
    rows = [{"user_id": "b", "item_id": f"i{k}", "timestamp": T0 + pd.Timedelta(seconds=k)}
            for k in range(1001)]  # fmt: skip
    _, report = clean(_raw(rows))
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("user b has 1,001 events on 2024-01-01: a bot?")
    assert report.to_dict()["warnings"] == report.warnings
