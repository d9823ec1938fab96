"""Splits: exact rows and segment tags on planted data, no-leak properties on real data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailor.data.split import (
    DEFAULT_VALIDATION_FRACTION,
    Split,
    misplaced_option,
    random_split,
    split_frame,
    tag_segments,
    temporal_split,
    user_temporal_split,
    with_validation,
)
from tailor.errors import ConfigError, DataError
from tailor.testing.data import random_frame

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ONLINE_RETAIL = SHARED / "online-retail" / "online_retail.csv.gz"
ML100K = SHARED / "ml-100k" / "u.data"


def _frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """rows of (user, item, day); ``rid`` is the row's position, to name rows in assertions."""
    users, items, days = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "rid": np.arange(len(rows)),
            "user_id": list(users),
            "item_id": list(items),
            "timestamp": pd.to_datetime(list(days), unit="D", origin="2024-01-01"),
            "value": 1.0,
        }
    )


# day d is 2024-01-01 + d days, so day 4 is 2024-01-05
GLOBAL = _frame(
    [
        ("u1", "a", 0),  # r0
        ("u1", "b", 1),  # r1
        ("u2", "a", 2),  # r2
        ("u4", "c", 3),  # r3: only in validation once it is carved out
        ("u3", "b", 4),  # r4: first row at the cut 2024-01-05
        ("u1", "d", 4),  # r5
        ("u3", "e", 5),  # r6
        ("u4", "c", 5),  # r7
    ]
)


def _rids(frame: pd.DataFrame | None) -> list[int]:
    assert frame is not None
    return frame["rid"].tolist()


def _tags(frame: pd.DataFrame | None, suffix: str = "") -> list[tuple[str, str]]:
    assert frame is not None
    return list(zip(frame["user_segment" + suffix], frame["item_segment" + suffix], strict=True))


@pytest.mark.parametrize(
    "cut", ["2024-01-05", date(2024, 1, 5), pd.Timestamp("2024-01-05"), "2024-01-05T01:00+01:00"]
)
def test_temporal_cut_rows_and_segments(cut: object) -> None:
    split = temporal_split(GLOBAL, cut=cut)  # type: ignore[arg-type]
    assert _rids(split.train) == [0, 1, 2, 3]
    assert _rids(split.test) == [4, 5, 6, 7]
    assert split.validation is None
    assert _tags(split.test) == [
        ("cold", "warm"),
        ("warm", "cold"),
        ("cold", "cold"),
        ("warm", "warm"),
    ]
    assert _tags(split.test, "_train") == _tags(split.test)
    assert "user_segment" not in split.train.columns
    assert split.info["parameters"] == {"cut": "2024-01-05T00:00:00", "quantile": None}


@pytest.mark.parametrize(
    ("quantile", "train_rids"),
    [(0.4, [0, 1, 2]), (0.5, [0, 1, 2, 3]), (0.7, [0, 1, 2, 3]), (0.8, [0, 1, 2, 3, 4, 5])],
)
def test_temporal_quantile(quantile: float, train_rids: list[int]) -> None:
    # sorted days 0 1 2 3 4 4 5 5; cut = day of t_(floor(8 q)): q = 0.7 -> t_5 = day 4, and the
    # tie at day 4 puts only four rows (days < 4) in train
    split = temporal_split(GLOBAL, quantile=quantile)
    assert _rids(split.train) == train_rids


def test_temporal_with_validation_tags_test_against_train_and_validation() -> None:
    split = with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0.25)
    assert _rids(split.train) == [0, 1, 2]
    assert _rids(split.validation) == [3]
    assert _rids(split.test) == [4, 5, 6, 7]
    assert _tags(split.validation) == [("cold", "cold")]
    # relative to train + validation (what the model is refitted on) ...
    assert _tags(split.test) == [
        ("cold", "warm"),
        ("warm", "cold"),
        ("cold", "cold"),
        ("warm", "warm"),
    ]
    # ... and relative to train alone: u4 and c are known only from validation
    assert _tags(split.test, "_train") == [
        ("cold", "warm"),
        ("warm", "cold"),
        ("cold", "cold"),
        ("cold", "cold"),
    ]
    assert split.info["validation"] == {
        "strategy": "temporal",
        "fraction": 0.25,
        "cut": "2024-01-04T00:00:00",
    }
    assert _rids(split.fit_frame()) == [0, 1, 2, 3]
    assert "user_segment" not in split.fit_frame().columns


def test_temporal_info_counts_per_segment() -> None:
    info = with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0.25).info
    parts = info["parts"]
    assert parts["train"] == {
        "rows": 3,
        "users": 2,
        "items": 2,
        "start": "2024-01-01T00:00:00",
        "end": "2024-01-03T00:00:00",
    }
    assert parts["validation"]["segments"]["user"] == {
        "warm": {"rows": 0, "users": 0, "items": 0},
        "cold": {"rows": 1, "users": 1, "items": 1},
    }
    test = parts["test"]
    assert (test["rows"], test["users"], test["items"]) == (4, 3, 4)
    assert (test["start"], test["end"]) == ("2024-01-05T00:00:00", "2024-01-06T00:00:00")
    assert test["segments"]["user"] == {
        "warm": {"rows": 2, "users": 2, "items": 2},  # r5 (u1, d), r7 (u4, c)
        "cold": {"rows": 2, "users": 1, "items": 2},  # r4 (u3, b), r6 (u3, e)
    }
    assert test["segments"]["item"] == {
        "warm": {"rows": 2, "users": 2, "items": 2},  # r4 (u3, b), r7 (u4, c)
        "cold": {"rows": 2, "users": 2, "items": 2},  # r5 (u1, d), r6 (u3, e)
    }
    assert test["segments_vs_train"]["user"]["cold"] == {"rows": 3, "users": 2, "items": 3}
    assert info["rows"] == 8


def test_temporal_errors() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        temporal_split(GLOBAL)
    with pytest.raises(ConfigError, match="exactly one"):
        temporal_split(GLOBAL, cut="2024-01-05", quantile=0.5)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        temporal_split(GLOBAL, quantile=1.0)
    with pytest.raises(ConfigError, match="cannot read the cut"):
        temporal_split(GLOBAL, cut="next tuesday")
    with pytest.raises(DataError, match="no rows in the test part"):
        temporal_split(GLOBAL, cut="2030-01-01")
    with pytest.raises(DataError, match="no rows in the training part"):
        temporal_split(GLOBAL, cut="2000-01-01")
    with pytest.raises(DataError, match="timestamps must be datetimes"):
        temporal_split(GLOBAL.assign(timestamp=GLOBAL["timestamp"].astype(str)), quantile=0.5)
    with pytest.raises(DataError, match="column 'timestamp', row 3: 1 timestamps are missing"):
        temporal_split(
            GLOBAL.assign(timestamp=GLOBAL["timestamp"].where(GLOBAL.rid != 2)), quantile=0.5
        )
    with pytest.raises(DataError, match="column 'item_id'"):
        temporal_split(GLOBAL.drop(columns="item_id"), quantile=0.5)
    with pytest.raises(DataError, match="no interactions"):
        temporal_split(GLOBAL.iloc[:0], quantile=0.5)


# per-user histories: u1 five rows on days 0-4; u2 three rows with a tie on day 1; u3 one row
PER_USER = _frame(
    [
        ("u1", "a", 0),  # r0
        ("u2", "b", 1),  # r1  tie with r3: ordered by item_id, a before b
        ("u1", "b", 1),  # r2
        ("u2", "a", 1),  # r3
        ("u1", "c", 2),  # r4
        ("u2", "c", 0),  # r5  u2's first row
        ("u1", "d", 3),  # r6
        ("u3", "a", 2),  # r7  single interaction: stays in train
        ("u1", "e", 4),  # r8
    ]
)


@pytest.mark.parametrize(
    ("options", "test_rids"),
    [
        ({"last_n": 1}, [1, 8]),
        ({"last_n": 2}, [1, 3, 6, 8]),
        ({"last_n": 5}, [1, 2, 3, 4, 6, 8]),  # u1 keeps r0, u2 keeps r5
        ({"last_fraction": 0.4}, [1, 6, 8]),  # round(2.0), round(1.2), round(0.4)
        ({"last_fraction": 0.5}, [1, 3, 4, 6, 8]),  # round(2.5)=3, min(round(1.5), 2), 0
    ],
)
def test_user_temporal_rows(options: dict[str, float], test_rids: list[int]) -> None:
    split = user_temporal_split(PER_USER, **options)  # type: ignore[arg-type]
    assert sorted(_rids(split.test)) == test_rids
    assert sorted(_rids(split.train)) == sorted(set(range(9)) - set(test_rids))
    assert set(split.test["user_segment"]) == {"warm"}
    # the order of the input rows does not change which rows are held out
    shuffled = PER_USER.sample(frac=1.0, random_state=3)
    assert sorted(_rids(user_temporal_split(shuffled, **options).test)) == test_rids  # type: ignore[arg-type]


def test_user_temporal_item_segments_and_validation() -> None:
    split = user_temporal_split(PER_USER, last_n=1)
    by_rid = dict(zip(split.test["rid"], split.test["item_segment"], strict=True))
    assert by_rid == {1: "warm", 8: "cold"}  # b is also in u1's training rows; e only in test
    carved = with_validation(split, fraction=0.5)
    # train parts: u1 r0 r2 r4 r6 -> round(2.0) = 2 -> r4, r6; u2 r5 r3 -> min(1, 1) -> r3; u3 none
    assert sorted(_rids(carved.validation)) == [3, 4, 6]
    assert sorted(_rids(carved.train)) == [0, 2, 5, 7]
    assert sorted(_rids(carved.test)) == [1, 8]
    assert carved.info["validation"] == {"strategy": "user-temporal", "fraction": 0.5}


def test_user_temporal_errors() -> None:
    with pytest.raises(ConfigError, match="positive integer"):
        user_temporal_split(PER_USER, last_n=0)
    with pytest.raises(ConfigError, match="exactly one"):
        user_temporal_split(PER_USER, last_n=1, last_fraction=0.2)
    with pytest.raises(DataError, match="no rows in the test part"):
        user_temporal_split(PER_USER[PER_USER.user_id == "u3"], last_n=1)
    with pytest.raises(DataError, match="column 'user_id', row 1: ids must not be missing"):
        user_temporal_split(
            PER_USER.assign(user_id=PER_USER["user_id"].where(PER_USER.rid > 0)), last_n=1
        )


def test_random_split_follows_the_documented_sample() -> None:
    frame = GLOBAL
    split = random_split(frame, test_fraction=0.25, seed=7)
    expected = sorted(np.random.default_rng(7).permutation(8)[:2].tolist())
    assert _rids(split.test) == expected
    assert _rids(split.train) == sorted(set(range(8)) - set(expected))
    train_users, train_items = set(split.train["user_id"]), set(split.train["item_id"])
    assert split.test["user_segment"].tolist() == [
        "warm" if u in train_users else "cold" for u in split.test["user_id"]
    ]
    assert split.test["item_segment"].tolist() == [
        "warm" if i in train_items else "cold" for i in split.test["item_id"]
    ]
    assert split.info["parameters"] == {"test_fraction": 0.25, "seed": 7}


def test_random_split_sizes_round_half_up_and_records_a_drawn_seed() -> None:
    frame = pd.concat([GLOBAL] * 5, ignore_index=True).assign(rid=np.arange(40))
    assert len(random_split(frame, test_fraction=0.1, seed=1).test) == 4
    assert len(random_split(frame, test_fraction=0.2625, seed=1).test) == 11  # 10.5 -> 11
    drawn = random_split(frame, test_fraction=0.3)
    again = random_split(frame, test_fraction=0.3, seed=drawn.info["parameters"]["seed"])
    assert _rids(again.test) == _rids(drawn.test)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        random_split(frame, test_fraction=0.0, seed=1)


def test_random_validation_is_seeded_and_disjoint() -> None:
    frame = pd.concat([GLOBAL] * 5, ignore_index=True).assign(rid=np.arange(40))
    base = random_split(frame, test_fraction=0.25, seed=3)
    one, two = with_validation(base, fraction=0.2), with_validation(base, fraction=0.2)
    assert _rids(one.validation) == _rids(two.validation)
    assert len(one.validation) == 6  # round(0.2 * 30)
    parts = _rids(one.train) + _rids(one.validation) + _rids(one.test)
    assert sorted(parts) == list(range(40))
    other = with_validation(base, fraction=0.2, seed=99)
    assert _rids(other.validation) != _rids(one.validation)


def test_with_validation_errors() -> None:
    split = with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0.25)
    with pytest.raises(ConfigError, match="already has a validation"):
        with_validation(split)
    with pytest.raises(ConfigError, match="unknown split strategy"):
        with_validation(temporal_split(GLOBAL, cut="2024-01-05"), how="sideways")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0)


def test_tag_segments_against_union_of_frames() -> None:
    test = pd.DataFrame({"user_id": ["x", "y", None], "item_id": ["p", "q", "p"]})
    train = pd.DataFrame({"user_id": ["x"], "item_id": ["z"]})
    more = pd.DataFrame({"user_id": ["q"], "item_id": ["q"]})
    tagged = tag_segments(test, [train, more])
    assert tagged["user_segment"].tolist() == ["warm", "cold", "cold"]
    assert tagged["item_segment"].tolist() == ["cold", "warm", "cold"]
    assert "user_segment" not in test.columns
    assert tag_segments(test, train, suffix="_x")["item_segment_x"].tolist() == ["cold"] * 3


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    split = with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0.25)
    split.save(tmp_path)
    loaded = Split.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.train, split.train)
    assert loaded.validation is not None and split.validation is not None
    pd.testing.assert_frame_equal(loaded.validation, split.validation)
    pd.testing.assert_frame_equal(loaded.test, split.test)
    assert loaded.info == json.loads(json.dumps(split.info))
    # saving a split without validation removes the stale validation part
    temporal_split(GLOBAL, cut="2024-01-05").save(tmp_path)
    assert Split.load(tmp_path).validation is None
    with pytest.raises(DataError, match="not a split directory"):
        Split.load(tmp_path / "nope")


# ---- real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def online_retail(require: Callable[[bool, str], None]) -> pd.DataFrame:
    require(ONLINE_RETAIL.is_file(), f"{ONLINE_RETAIL} is not available")
    raw = pd.read_csv(ONLINE_RETAIL, usecols=["StockCode", "InvoiceDate", "CustomerID"])
    raw = raw.dropna(subset=["CustomerID"]).reset_index(drop=True)
    return pd.DataFrame(
        {
            "rid": np.arange(len(raw)),
            "user_id": raw["CustomerID"].astype("int64").astype(str),
            "item_id": raw["StockCode"].astype(str),
            "timestamp": pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S"),
        }
    )


def _assert_partition(split: Split, n: int) -> None:
    parts = [split.train, split.test] + ([] if split.validation is None else [split.validation])
    rids = np.sort(np.concatenate([p["rid"].to_numpy() for p in parts]))
    assert np.array_equal(rids, np.arange(n))  # no row lost, none duplicated


def _assert_ordered_per_user(before: pd.DataFrame, after: pd.DataFrame) -> None:
    """For every user in both frames: max(time in before) <= min(time in after)."""
    both = pd.concat(
        [
            before.groupby("user_id")["timestamp"].max().rename("last_before"),
            after.groupby("user_id")["timestamp"].min().rename("first_after"),
        ],
        axis=1,
        join="inner",
    )
    assert len(both) > 0
    assert (both["last_before"] <= both["first_after"]).all()


def test_online_retail_temporal_has_no_leak(online_retail: pd.DataFrame) -> None:
    cut = pd.Timestamp("2011-11-09")
    split = with_validation(temporal_split(online_retail, cut=cut), fraction=0.15)
    assert split.validation is not None
    val_cut = pd.Timestamp(split.info["validation"]["cut"])
    assert split.train["timestamp"].max() < val_cut <= split.validation["timestamp"].min()
    assert split.validation["timestamp"].max() < cut <= split.test["timestamp"].min()
    _assert_partition(split, len(online_retail))
    # every row at or after the cut is a test row
    assert len(split.test) == int((online_retail["timestamp"] >= cut).sum())
    known_users = set(split.train["user_id"]) | set(split.validation["user_id"])
    cold = ~split.test["user_id"].isin(known_users)
    assert (split.test["user_segment"] == "cold").tolist() == cold.tolist()
    assert split.info["parts"]["test"]["segments"]["user"]["cold"]["rows"] == int(cold.sum())


def test_online_retail_user_temporal_has_no_leak(online_retail: pd.DataFrame) -> None:
    split = with_validation(user_temporal_split(online_retail, last_fraction=0.2), fraction=0.15)
    assert split.validation is not None
    _assert_ordered_per_user(split.train, split.validation)
    _assert_ordered_per_user(split.validation, split.test)
    _assert_ordered_per_user(split.train, split.test)
    _assert_partition(split, len(online_retail))
    singles = online_retail["user_id"].value_counts().loc[lambda c: c == 1].index
    assert set(singles) <= set(split.train["user_id"])
    assert not split.test["user_id"].isin(singles).any()


def test_online_retail_random_is_seeded_partition(online_retail: pd.DataFrame) -> None:
    one = random_split(online_retail, test_fraction=0.2, seed=11)
    two = random_split(online_retail, test_fraction=0.2, seed=11)
    other = random_split(online_retail, test_fraction=0.2, seed=12)
    assert np.array_equal(one.test["rid"], two.test["rid"])
    assert not np.array_equal(one.test["rid"], other.test["rid"])
    assert len(one.test) == round(0.2 * len(online_retail))
    _assert_partition(one, len(online_retail))
    _assert_partition(with_validation(one, fraction=0.15), len(online_retail))


def test_movielens_user_temporal_holds_out_each_users_last_fifth(
    require: Callable[[bool, str], None],
) -> None:
    require(ML100K.is_file(), f"{ML100K} is not available")
    raw = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "rating", "ts"], dtype=str)
    frame = pd.DataFrame(
        {
            "rid": np.arange(len(raw)),
            "user_id": raw["user_id"],
            "item_id": raw["item_id"],
            "timestamp": pd.to_datetime(raw["ts"].astype("int64"), unit="s"),
        }
    )
    split = with_validation(user_temporal_split(frame, last_fraction=0.2), fraction=0.2)
    assert split.validation is not None
    counts = frame["user_id"].value_counts()
    test_counts = split.test["user_id"].value_counts().reindex(counts.index, fill_value=0)
    assert (test_counts == np.floor(0.2 * counts + 0.5)).all()  # every user has >= 20 ratings
    train_part = counts - test_counts
    val_counts = split.validation["user_id"].value_counts().reindex(counts.index, fill_value=0)
    assert (val_counts == np.floor(0.2 * train_part + 0.5)).all()
    _assert_ordered_per_user(split.train, split.validation)
    _assert_ordered_per_user(split.validation, split.test)
    _assert_partition(split, len(frame))
    assert set(split.test["user_segment"]) == {"warm"}


def test_history_order_matches_a_three_key_lexsort() -> None:
    from tailor.data.split import _history_order

    rng = np.random.default_rng(0)
    users, times, items = (rng.integers(0, k, 2000) for k in (30, 50, 20))
    assert np.array_equal(_history_order(users, times, items), np.lexsort((items, times, users)))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    strategy=st.sampled_from(["temporal", "user-temporal", "random"]),
    fraction=st.floats(0.05, 0.5),
)
def test_any_split_partitions_rows_and_orders_time(
    seed: int, strategy: str, fraction: float
) -> None:
    frame = random_frame(n_users=15, n_items=10, n=120, seed=seed)
    frame = frame.assign(rid=np.arange(len(frame)))
    if strategy == "temporal":
        base = temporal_split(frame, quantile=1 - fraction)
    elif strategy == "user-temporal":
        base = user_temporal_split(frame, last_fraction=fraction)
    else:
        base = random_split(frame, test_fraction=fraction, seed=seed)
    split = with_validation(base, fraction=0.3)
    _assert_partition(split, len(frame))
    assert split.validation is not None
    fit = split.fit_frame()
    for part, reference in ((split.validation, split.train), (split.test, fit)):
        for kind in ("user", "item"):
            warm = part[f"{kind}_id"].isin(set(reference[f"{kind}_id"]))
            assert part[f"{kind}_segment"].tolist() == np.where(warm, "warm", "cold").tolist()
    if strategy == "temporal":
        assert split.train["timestamp"].max() < split.validation["timestamp"].min()
        assert split.validation["timestamp"].max() < split.test["timestamp"].min()
    if strategy == "user-temporal":
        _assert_ordered_per_user(split.train, split.validation)
        _assert_ordered_per_user(split.validation, split.test)
        assert set(split.test["user_segment"]) == {"warm"}


# ---- split_frame: the one entry point with each strategy's defaults (tailor data split) ----


def test_split_frame_fills_each_strategys_default() -> None:
    temporal = split_frame(GLOBAL, "temporal")  # quantile 0.8: the cut falls on day 5
    assert temporal.info["parameters"] == {"cut": "2024-01-06T00:00:00", "quantile": 0.8}
    assert (_rids(temporal.train), _rids(temporal.test)) == ([0, 1, 2, 3, 4, 5], [6, 7])
    # last fraction 0.2: u1's 3 rows -> 0.6 -> its last row r5; 1- and 2-row users keep theirs
    per_user = split_frame(GLOBAL, "user-temporal")
    assert per_user.info["parameters"] == {"last_n": None, "last_fraction": 0.2}
    assert _rids(per_user.test) == [5]
    rand = split_frame(GLOBAL, "random", seed=3)  # test fraction 0.2 of 8 rows: 1.6 -> 2
    assert rand.info["parameters"] == {"test_fraction": 0.2, "seed": 3}
    assert _rids(rand.test) == _rids(random_split(GLOBAL, test_fraction=0.2, seed=3).test)
    assert len(rand.test) == 2
    assert temporal.validation is None and per_user.validation is None


def test_split_frame_given_options_and_validation() -> None:
    split = split_frame(GLOBAL, "temporal", cut="2024-01-05", validation_fraction=0.25)
    assert _rids(split.train) == [0, 1, 2]
    assert _rids(split.validation) == [3]
    assert _rids(split.test) == [4, 5, 6, 7]
    by_hand = with_validation(temporal_split(GLOBAL, cut="2024-01-05"), fraction=0.25)
    assert split.info == by_hand.info
    # last 2 rows per user, each user keeping one in train: u1 r1 r5, u3 r6, u4 r7 (u2: 1 row)
    assert _rids(split_frame(GLOBAL, "user-temporal", last_n=2).test) == [1, 5, 6, 7]
    assert DEFAULT_VALIDATION_FRACTION == 0.15


@pytest.mark.parametrize(
    ("strategy", "options", "message"),
    [
        ("temporal", {"last_n": 1}, "last_n applies to strategy user-temporal only"),
        ("random", {"cut": "2024-01-05"}, "cut applies to strategy temporal only"),
        ("user-temporal", {"test_fraction": 0.2}, "test_fraction applies to strategy random only"),
        ("sideways", {}, "unknown split strategy 'sideways'"),
        ("temporal", {"validation_fraction": -0.1}, "validation fraction must be a number"),
        ("temporal", {"validation_fraction": 1.0}, "validation fraction must be a number"),
    ],
)
def test_split_frame_rejects_misplaced_options(
    strategy: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        split_frame(GLOBAL, strategy, **options)  # type: ignore[arg-type]


def test_misplaced_option_names_the_first_option_of_another_strategy() -> None:
    assert misplaced_option("temporal", cut="2024-01-05", quantile=None, last_n=None) is None
    assert misplaced_option("temporal", cut=None, last_n=2, test_fraction=0.2) == "last_n"
    assert misplaced_option("random", test_fraction=0.2, cut=None) is None
    assert misplaced_option("user-temporal", last_fraction=0.2, quantile=0.5) == "quantile"
