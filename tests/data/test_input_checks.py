"""Issue 8, the library side of bad input: timestamps in range, usable config, weights >= 0 and
finite, cleaning that never writes an empty result, split options that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.cleaning import CleaningConfig, clean
from tailor.data.dataset import Dataset
from tailor.data.io import read_interactions
from tailor.data.sources.raw import RawData
from tailor.data.split import random_split, temporal_split, user_temporal_split, with_validation
from tailor.data.validate import check_timestamp_format, parse_timestamps
from tailor.errors import ConfigError, DataError
from tailor.models.base import FitOptions, max_threads

# ---------------------------------------------------------------------------------------------
# timestamps


def test_datetime_columns_out_of_range_name_the_row() -> None:
    # a Parquet timestamp[us] column can hold year 9999; datetime64[ns] cannot
    times = pd.Series(pd.to_datetime(["2024-01-01", "9999-12-31"]).as_unit("us"))
    with pytest.raises(DataError) as info:
        parse_timestamps(times, None, file="f.parquet", column="t")
    assert str(info.value).startswith(
        "file f.parquet, column 't', row 2: timestamp '9999-12-31 00:00:00' is out of range"
    )
    ok = parse_timestamps(times.iloc[:1], None, file="f", column="t")
    assert ok.dtype == "datetime64[ns]" and ok.iloc[0] == pd.Timestamp("2024-01-01")


@pytest.mark.parametrize(
    ("fmt", "value"),
    [("unix", 1.7e9), ("unix_ms", 1.7e12), ("unix_us", 1.7e15), ("unix_ns", 1.7e18)],
)
def test_every_unix_unit_reads_the_same_instant(fmt: str, value: float) -> None:
    out = parse_timestamps(pd.Series([value, np.nan]), fmt, file="f", column="t")
    assert out.iloc[0] == pd.Timestamp(1_700_000_000, unit="s") and pd.isna(out.iloc[1])


def test_unix_seconds_read_as_milliseconds_hint_is_only_for_finer_units() -> None:
    with pytest.raises(DataError, match=r"as nanoseconds since 1970 .* must lie between"):
        parse_timestamps(pd.Series([1e300]), "unix_ns", file="f", column="t")


@pytest.mark.parametrize("fmt", ["iso", "unix", "unix_ms", "unix_us", "unix_ns", "%d/%m/%Y %H:%M"])
def test_usable_formats(fmt: str) -> None:
    assert check_timestamp_format(fmt) == fmt


@pytest.mark.parametrize(
    ("fmt", "why"),
    [
        ("%Q", "bad directive"),
        ("%Y-%m-%d %", "stray %"),
        ("YYYY-MM-DD", "give a strftime format"),
        ("", "give a strftime format"),
    ],
)
def test_unusable_formats(fmt: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_timestamp_format(fmt)


def test_parse_with_a_bad_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'%Q' is not a usable timestamp format"):
        parse_timestamps(pd.Series(["x"]), "%Q", file="f", column="t")


# ---------------------------------------------------------------------------------------------
# cleaning


def _raw(events: list[tuple[str, str, str, float]]) -> RawData:
    frame = pd.DataFrame(
        {
            "user_id": pd.Series([e[0] for e in events], dtype="str"),
            "item_id": pd.Series([e[1] for e in events], dtype="str"),
            "timestamp": pd.date_range("2024-01-01", periods=len(events), freq="D"),
            "event_type": pd.Series([e[2] for e in events], dtype="str"),
            "value": [e[3] for e in events],
        }
    )
    return RawData("planted", frame)


def test_value_rules_count_and_conserve() -> None:
    raw = _raw(
        [
            ("u1", "a", "rating", 4.0),
            ("u1", "b", "rating", np.nan),  # missing_value: a rating without a value
            ("u1", "c", "view", np.nan),  # kept: a view without a quantity
            ("u2", "a", "purchase", np.inf),  # nonfinite_value
            ("u2", "b", "rating", 1e39),  # nonfinite_value: beyond float32 as a weight
            ("u2", "c", "rating", -2.0),  # negative_weight
            ("u3", "a", "purchase", 1e39),  # kept: a quantity; weight 5
        ]
    )
    prepared, report = clean(raw)
    dropped = report.dropped
    assert (dropped["missing_value"], dropped["nonfinite_value"], dropped["negative_weight"]) == (
        1,
        2,
        1,
    )
    assert report.rows_in - report.rows_out == sum(dropped.values())
    assert prepared.interactions["weight"].tolist() == [4.0, 1.0, 5.0]


@pytest.mark.parametrize(
    "table",
    [
        {"event_weights": {"view": -1.0}},
        {"event_weights": {"view": float("inf")}},
        {"unknown_event_weight": float("nan")},
        {"unknown_event_weight": -1.0},
    ],
)
def test_weights_in_the_config_are_finite_and_not_negative(table: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"\[cleaning\]"):
        CleaningConfig.from_table(table)


def test_k_core_removing_every_row_is_an_error() -> None:
    raw = _raw([("u1", "a", "view", 1.0), ("u2", "b", "view", 1.0)])
    with pytest.raises(DataError, match=r"k-core filter \(k_core_users = 2, k_core_items = 0\)"):
        clean(raw, CleaningConfig(k_core_users=2))


def test_rules_removing_every_row_is_an_error() -> None:
    raw = _raw([("u1", "a", "refund", 1.0), ("u2", "b", "rating", -1.0)])
    with pytest.raises(
        DataError, match=r"cleaning removes every row \(unknown_event_type 1, negative_weight 1\)"
    ):
        clean(raw, CleaningConfig(unknown_event_types="drop"))


def test_aggregated_weights_that_overflow_are_an_error() -> None:
    raw = _raw([("u1", "a", "rating", 3e38), ("u1", "a", "rating", 3e38)])
    with pytest.raises(DataError, match="summed weight of user 'u1' and item 'a' overflows"):
        clean(raw, CleaningConfig(aggregate=True))


# ---------------------------------------------------------------------------------------------
# weights at fit time


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, -1.0], r"row 2: weights must be >= 0 \(got -1\)"),
        ([np.inf, 1.0], r"row 1: weights must be finite \(got inf\)"),
        ([1.0, np.nan], r"row 2: weights must be numeric and present"),
        ([1e39, 1.0], r"row 1: weights must fit in float32"),
    ],
)
def test_dataset_refuses_bad_weights(weights: list[float], message: str) -> None:
    frame = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "weight": weights})
    with pytest.raises(DataError, match=message):
        Dataset.from_frame(frame)


def test_prepared_file_may_lack_a_value_when_it_has_weights(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(
        "user_id,item_id,timestamp,value,weight\na,x,2024-01-01,,1\nb,y,2024-01-02,2,5\n"
    )
    frame = read_interactions(path)
    assert pd.isna(frame["value"].iloc[0]) and frame["weight"].tolist() == [1.0, 5.0]
    path.write_text("user_id,item_id,timestamp,value\na,x,2024-01-01,\n")
    with pytest.raises(DataError, match="column 'value', row 1: value is missing"):
        read_interactions(path)


def test_parquet_weights_keep_their_dtype(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a"],
            "item_id": ["x"],
            "timestamp": [pd.Timestamp("2024-01-01")],
            "weight": np.float32([5.0]),
        }
    )
    frame.to_parquet(tmp_path / "i.parquet")
    assert read_interactions(tmp_path / "i.parquet")["weight"].dtype == np.float32


@pytest.mark.parametrize("threads", [-1, max_threads() + 1, 1.5, True])
def test_fit_options_bound_threads(threads: object) -> None:
    with pytest.raises(ConfigError, match="threads must be"):
        FitOptions(threads=threads)  # type: ignore[arg-type]


def test_fit_options_accept_the_bounds() -> None:
    assert FitOptions(threads=0).threads == 0
    assert FitOptions(threads=max_threads()).threads == max_threads()


# ---------------------------------------------------------------------------------------------
# splits

HISTORY = pd.DataFrame(
    {
        "user_id": ["a", "a", "a", "b", "b", "c"],
        "item_id": ["x", "y", "z", "x", "y", "x"],
        "timestamp": pd.date_range("2024-01-01", periods=6, freq="D"),
    }
)


def test_last_n_longer_than_every_history() -> None:
    with pytest.raises(ConfigError, match="longest user history has 3 rows"):
        user_temporal_split(HISTORY, last_n=4)
    assert len(user_temporal_split(HISTORY, last_n=3).test) == 3  # a: 2, b: 1, c: 0


def test_validation_after_last_n_names_it() -> None:
    split = user_temporal_split(HISTORY, last_n=2)
    with pytest.raises(DataError, match="left by --last-n 2 has 1 row; lower --last-n"):
        with_validation(split, fraction=0.15)


def test_cut_out_of_range_and_negative_seed() -> None:
    with pytest.raises(ConfigError, match="the cut '9999-12-31' is out of range"):
        temporal_split(HISTORY, cut="9999-12-31")
    with pytest.raises(ConfigError, match="seed must be a non-negative integer, got -1"):
        random_split(HISTORY, seed=-1)


def test_malformed_rows_without_a_header_count_from_one(tmp_path: Path) -> None:
    from tailor.data.validate import read_table

    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\n1\t2\t3\t4\t5\n")
    with pytest.raises(DataError, match=r"u.data, row 2: malformed CSV"):
        read_table(path, "csv", delimiter="\t", header=False, names=["a", "b", "c", "d"])
    path.write_text("a,b\n1,2\n1,2,3\n")
    with pytest.raises(DataError, match=r"u.data, row 2: malformed CSV"):
        read_table(path, "csv")


def test_scaling_ignores_infinite_attributes() -> None:
    from tailor.data.features import scale_side_features

    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "price": [1.0, 3.0, np.inf, 2.0]})
    table, scaler = scale_side_features(items, "item_id", ["a", "b", "c"], "minmax")
    assert scaler is not None
    assert table["price_scaled"].tolist()[:2] == [0.0, 1.0]
    assert table["price_scaled"].iloc[3] == 0.5
