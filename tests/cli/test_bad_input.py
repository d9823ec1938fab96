"""Issue 8: every bad input is one line on stderr naming file/column/row/option, exit status 2.

Each case here printed a traceback (exit 1), was killed, or exited 130 before. Commands run
in-process through :func:`tailor.cli.main` (see ``bad_input_helpers``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bad_input_helpers import error_line, tailor

import tailor.cli as tailor_cli

# ---------------------------------------------------------------------------------------------
# files


def _events(folder: Path, times: list[str], *, fmt: str = "iso", extra: str = "") -> Path:
    """A generic source: events.csv (customer, sku, time[, rating]) and shop.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"u{i % 3},i{i % 4},{t}" for i, t in enumerate(times)]
    (folder / "events.csv").write_text("\n".join(["customer,sku,time", *rows]) + "\n")
    config = folder / "shop.toml"
    config.write_text(
        f'[interactions]\npath = "events.csv"\ntimestamp_format = "{fmt}"\n{extra}'
        '[interactions.columns]\nuser_id = "customer"\nitem_id = "sku"\ntimestamp = "time"\n'
    )
    return config


def _prepare(config: Path, out: Path) -> tuple[int, str]:
    result = tailor("data", "prepare", "generic", "--config", config, "--out", out)
    return result.exit_code, result.stderr


def _train(folder: Path, **columns: list[object]) -> Path:
    """A small training CSV (4 users, 4 items, 9 rows) plus extra columns."""
    folder.mkdir(parents=True, exist_ok=True)
    users = ["A", "A", "B", "B", "B", "C", "C", "D", "D"]
    items = ["a", "b", "a", "b", "c", "b", "c", "c", "d"]
    frame = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": pd.date_range("2024-01-01", periods=9, freq="D"),
            **columns,
        }
    )
    path = folder / "train.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# timestamps out of range, and the seconds/milliseconds slip


@pytest.mark.parametrize(
    ("fmt", "bad", "expected"),
    [
        ("iso", "9999-12-31", "timestamp '9999-12-31' is out of range"),
        ("iso", "0001-01-01", "timestamp '0001-01-01' is out of range"),
        ("%Y-%m-%d", "9999-12-31", "timestamp '9999-12-31' is out of range"),
        ("unix", "inf", "timestamp inf is not a finite number"),
        ("unix", "-inf", "timestamp -inf is not a finite number"),
        ("unix", "1e300", "timestamp 1e+300 is out of range"),
        ("unix_ms", "1e300", "timestamp 1e+300 is out of range"),
    ],
)
def test_timestamp_out_of_range_names_file_column_row(
    tmp_path: Path, fmt: str, bad: str, expected: str
) -> None:
    good = "2024-01-01" if fmt in ("iso", "%Y-%m-%d") else "1700000000"
    config = _events(tmp_path / "shop", [good, good, bad, good], fmt=fmt)
    result = tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "out")
    line = error_line(result)
    assert f"file {tmp_path / 'shop' / 'events.csv'}, column 'time', row 3: {expected}" in line


@pytest.mark.parametrize(
    ("fmt", "value", "unit"),
    [
        ("unix", "1300000000000", 'looks like milliseconds: set timestamp_format = "unix_ms"'),
        ("unix", "1300000000000000", 'looks like microseconds: set timestamp_format = "unix_us"'),
        (
            "unix_ms",
            "1300000000000000",
            'looks like microseconds: set timestamp_format = "unix_us"',
        ),
        (
            "unix_ms",
            "1300000000000000000",
            'looks like nanoseconds: set timestamp_format = "unix_ns"',
        ),
    ],
)
def test_unit_slip_names_the_likely_unit(tmp_path: Path, fmt: str, value: str, unit: str) -> None:
    config = _events(tmp_path / "shop", [value, value], fmt=fmt)
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "out")
    )
    assert "column 'time', row 1:" in line and unit in line


def test_finer_unix_units_read(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["1300000000000000"] * 3, fmt="unix_us")
    assert tailor("data", "profile", "generic", "--config", config).exit_code == 0


def test_timestamps_in_a_prepared_file_out_of_range(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("user_id,item_id,timestamp\nA,a,2024-01-01\nB,b,9999-12-31\n")
    args = ["fit", "--train", train, "--model", "popularity", "--out", tmp_path / "m"]
    line = error_line(tailor(*args))
    assert (
        f"file {train}, column 'timestamp', row 2: timestamp '9999-12-31' is out of range" in line
    )


# ---------------------------------------------------------------------------------------------
# bad config: encoding, timestamp_format


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01"], extra='encoding = "utf-99"\n')
    line = error_line(tailor("data", "profile", "generic", "--config", config))
    assert f"{config}: interactions.encoding" in line and "unknown encoding 'utf-99'" in line


@pytest.mark.parametrize("fmt", ["%Q", "%Y-%m-%d %", "%U"])
def test_bad_timestamp_format_is_a_config_error(tmp_path: Path, fmt: str) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01"], fmt=fmt)
    line = error_line(tailor("data", "profile", "generic", "--config", config))
    assert f"{config}: interactions.timestamp_format" in line
    assert f"{fmt!r} is not a usable timestamp format" in line


def test_items_encoding_checked_too(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01"])
    config.write_text(
        config.read_text()
        + '[items]\npath = "events.csv"\nencoding = "nope"\n[items.columns]\nitem_id = "sku"\n'
    )
    line = error_line(tailor("data", "profile", "generic", "--config", config))
    assert "items.encoding" in line and "unknown encoding 'nope'" in line


# ---------------------------------------------------------------------------------------------
# output paths: under a file, read-only, a folder where a file is expected


def test_out_under_a_file(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02"])
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", blocker / "sub")
    )
    assert str(blocker) in line


def test_out_on_a_read_only_file_system(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02"])
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", "/sys/tailor-out")
    )
    assert "--out /sys/tailor-out cannot be written" in line and ".tmp-" not in line


def test_json_output_is_a_folder(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02"])
    folder = tmp_path / "profile.json"
    folder.mkdir()
    line = error_line(tailor("data", "profile", "generic", "--config", config, "--json", folder))
    assert str(folder) in line


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermissionError(13, "Permission denied", "/x/out"), "error: /x/out: Permission denied"),
        (NotADirectoryError(20, "Not a directory", "/x/f/out"), "error: /x/f/out: Not a directory"),
        (IsADirectoryError(21, "Is a directory", "/x/d"), "error: /x/d: Is a directory"),
        (OSError(28, "No space left on device", "/x/o"), "error: /x/o: No space left on device"),
        (
            OSError(18, "Invalid cross-device link", "/a", None, "/b"),
            "error: /a -> /b: Invalid cross-device link",
        ),
        (EOFError("Compressed file ended before the end-of-stream marker was reached"), "error:"),
        (MemoryError(), "error: out of memory"),
    ],
)
def test_main_maps_os_errors_to_one_line(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, expected: str
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(tailor_cli.cli, "main", boom)
    line = error_line(tailor("data", "profile", "online-retail"))
    assert line.startswith(expected)


def test_eof_inside_a_command_is_not_an_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    """click turns an EOFError raised by a command into Abort, which main printed as "aborted"
    with exit status 130, as if the user had pressed Ctrl-C."""
    import tailor.cli.data as cli_data

    def truncated(*args: object, **kwargs: object) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(cli_data, "read_source", truncated)
    result = tailor("data", "profile", "online-retail")
    assert result.exit_code == 2
    assert "unexpected end of input: Compressed file ended" in result.stderr
    assert "aborted" not in result.stderr


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    line = error_line(tailor("data", "prepare", "nope", "--out", tmp_path))
    assert "Invalid value for 'SOURCE'" in line and "tailor data prepare --help" in line


# ---------------------------------------------------------------------------------------------
# corrupt Parquet


def _corrupt_parquet(path: Path, how: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif how == "truncated":
        frame = pd.DataFrame({"user_id": ["A", "B"] * 50, "item_id": ["a", "b"] * 50})
        frame["timestamp"] = pd.Timestamp("2024-01-01")
        frame.to_parquet(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:  # magic bytes at both ends, garbage between
        path.write_bytes(b"PAR1" + np.random.default_rng(1).bytes(500) + b"\x10\x00\x00\x00PAR1")
    return path


@pytest.mark.parametrize("how", ["random", "truncated", "footer"])
def test_corrupt_parquet_names_the_file(tmp_path: Path, how: str) -> None:
    bad = _corrupt_parquet(tmp_path / "in" / "interactions.parquet", how)
    good = _train(tmp_path / "good")
    commands = [
        ("fit", "--train", bad, "--model", "popularity", "--out", tmp_path / "m1"),
        ("fit", "--train", good, "--items", bad, "--model", "popularity", "--out", tmp_path / "m"),
        ("data", "split", bad.parent, "--strategy", "random", "--out", tmp_path / "s"),
        ("evaluate", "--recs", bad, "--truth", good, "--out", tmp_path / "e"),
        ("evaluate", "--recs", good.with_name("r.csv"), "--truth", bad, "--out", tmp_path / "e"),
        ("data", "profile", "online-retail", "--input", bad),
    ]
    good.with_name("r.csv").write_text("user_id,item_id,rank\nA,a,1\n")
    for args in commands:
        line = error_line(tailor(*args))
        assert str(bad) in line, (args, line)
    config = tmp_path / "in" / "shop.toml"
    config.write_text(
        '[interactions]\npath = "interactions.parquet"\n'
        '[interactions.columns]\nuser_id = "user_id"\nitem_id = "item_id"\n'
        'timestamp = "timestamp"\n'
    )
    assert str(bad) in error_line(tailor("data", "profile", "generic", "--config", config))
    fitted = tailor("fit", "--train", good, "--model", "popularity", "--out", tmp_path / "m")
    assert fitted.exit_code == 0
    bad_users = _corrupt_parquet(tmp_path / "users.parquet", how)
    line = error_line(
        tailor(
            "recommend", "--model-dir", tmp_path / "m", "--users", bad_users, "--out",
            tmp_path / "r.parquet",
        )
    )  # fmt: skip
    assert str(bad_users) in line


def test_truncated_gzip_csv_is_not_an_abort(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "retail.csv.gz"
    body = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    body += "".join(f"{k},85123A,X,{k % 7},2010-12-01 08:26:00,2.55,{k},UK\n" for k in range(3000))
    data = gzip.compress(body.encode())
    path.write_bytes(data[: len(data) // 2])
    result = tailor("data", "profile", "online-retail", "--input", path)
    assert result.exit_code != 130
    assert str(path) in error_line(result)


# ---------------------------------------------------------------------------------------------
# weights and values


@pytest.mark.parametrize(
    ("column", "values", "row", "problem"),
    [
        ("weight", [1, 1, 1, "inf", 1, 1, 1, 1, 1], 4, "weight inf is not a finite number"),
        ("weight", [1, 1, 1, 1, 1, "nan", 1, 1, 1], 6, "value 'nan' is not a number"),
        ("weight", [1, 1, 1, 1, 1, 1, 1, -2, 1], 8, "weight -2.0 is negative"),
        ("value", [1, "-inf", 1, 1, 1, 1, 1, 1, 1], 2, "value -inf is not a finite number"),
        ("value", [1, 1, 1, 1, 1, 1, 1, 1, -1], 9, "value -1.0 is negative"),
    ],
)
@pytest.mark.parametrize("model", ["popularity", "itemknn", "als"])
def test_fit_rejects_nonfinite_or_negative_weights(
    tmp_path: Path, column: str, values: list[object], row: int, problem: str, model: str
) -> None:
    train = _train(tmp_path, **{column: values})
    line = error_line(tailor("fit", "--train", train, "--model", model, "--out", tmp_path / "m"))
    assert line.startswith(f"error: file {train}, column {column!r}, row {row}: {problem}")


def test_als_diverging_on_extreme_weights_is_one_line(tmp_path: Path) -> None:
    """implicit raises its own ModelFitError (not a TailorError) on NaN factors."""
    train = _train(tmp_path, weight=[3e38, 1, 1, 1, 1, 1, 1, 1, 1])
    args = ["fit", "--train", train, "--model", "als", "--param", "binary=false"]  # use weights
    line = error_line(tailor(*args, "--out", tmp_path / "m"))
    assert line.startswith("error: als: training diverged (NaN encountered in factors)")


def test_fit_rejects_bad_weights_in_the_validation_file(tmp_path: Path) -> None:
    train = _train(tmp_path / "t")
    val = _train(tmp_path / "v", weight=[1, 1, 1, 1, 1, 1, 1, 1, "inf"])
    args = ["fit", "--train", train, "--validation", val, "--model", "als", "--out", tmp_path / "m"]
    assert f"file {val}, column 'weight', row 9" in error_line(tailor(*args))


def test_prepare_drops_nonfinite_and_negative_values_by_counted_rules(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    rows = [
        "u1,a,2024-01-01,rating,4",
        "u1,b,2024-01-02,rating,inf",  # nonfinite_value
        "u2,a,2024-01-03,rating,-1",  # negative_weight
        "u2,b,2024-01-04,rating,",  # missing_value
        "u3,a,2024-01-05,purchase,1e300",  # kept: a quantity, weight 5
        "u3,b,2024-01-06,rating,1e300",  # nonfinite_value: beyond float32 as a weight
        "u3,c,2024-01-07,view,-inf",  # nonfinite_value
    ]
    (folder / "e.csv").write_text("\n".join(["c,s,t,e,v", *rows]) + "\n")
    config = folder / "shop.toml"
    config.write_text(
        '[interactions]\npath = "e.csv"\n[interactions.columns]\nuser_id = "c"\nitem_id = "s"\n'
        'timestamp = "t"\nevent_type = "e"\nvalue = "v"\n'
    )
    out = tmp_path / "out"
    result = tailor("data", "prepare", "generic", "--config", config, "--out", out)
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["rows_in"] == 7 and report["rows_out"] == 2
    dropped = report["dropped"]
    assert (dropped["missing_value"], dropped["nonfinite_value"], dropped["negative_weight"]) == (
        1,
        3,
        1,
    )
    assert report["rows_in"] - report["rows_out"] == sum(dropped.values())
    weights = pd.read_parquet(out / "interactions.parquet")["weight"]
    assert np.isfinite(weights).all() and (weights >= 0).all()


# ---------------------------------------------------------------------------------------------
# --threads


@pytest.mark.parametrize("threads", ["-1", "100000"])
def test_threads_out_of_range(tmp_path: Path, threads: str) -> None:
    train = _train(tmp_path)
    args = ["fit", "--train", train, "--model", "als", "--out", tmp_path / "m"]
    line = error_line(tailor(*args, "--threads", threads))
    top = (os.cpu_count() or 1) * 4
    assert f"'--threads': {threads} is not in the range 0<=x<={top}" in line


# ---------------------------------------------------------------------------------------------
# evaluate: K bounds


def _recs_truth(tmp_path: Path) -> tuple[Path, Path]:
    recs, truth = tmp_path / "recs.csv", tmp_path / "truth.csv"
    recs.write_text("user_id,item_id,rank\n1,a,1\n1,b,2\n2,a,1\n")
    truth.write_text("user_id,item_id\n1,b\n2,c\n")
    return recs, truth


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--k", "1000000000", "--k: 1000000000 is more than 100000"),
        ("--k", "5,0", "--k must be positive integers"),
        ("--curve-k", "100000000", "'--curve-k': 100000000 is not in the range 0<=x<=100000"),
        ("--curve-k", "-1", "'--curve-k': -1 is not in the range 0<=x<=100000"),
    ],
)
def test_evaluate_k_is_bounded(tmp_path: Path, option: str, value: str, expected: str) -> None:
    recs, truth = _recs_truth(tmp_path)
    args = ["evaluate", "--recs", recs, "--truth", truth, option, value, "--out", tmp_path / "o"]
    assert expected in error_line(tailor(*args))


def test_evaluate_k_beyond_the_longest_list_is_fine(tmp_path: Path) -> None:
    recs, truth = _recs_truth(tmp_path)
    out = tmp_path / "o"
    args = ["evaluate", "--recs", recs, "--truth", truth, "--k", "1,100000", "--out", out]
    result = tailor(*args, "--curve-k", "1000")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["precision@100000"] == pytest.approx(0.5 / 100000)
    assert metrics["recall@100000"] == 0.5


# ---------------------------------------------------------------------------------------------
# k-core, --last-n


def test_k_core_removing_every_row(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02", "2024-01-03"])
    config.write_text(config.read_text() + "[cleaning]\nk_core_users = 5\n")
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "o")
    )
    assert "k-core filter (k_core_users = 5, k_core_items = 0) removes every row" in line


def test_cleaning_that_removes_every_row(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02"])
    config.write_text(
        config.read_text()
        + '[cleaning]\nevent_weights = {view = 1.0}\nunknown_event_types = "drop"\n'
    )
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "o")
    )
    assert "cleaning removes every row" in line and "unknown_event_type 2" in line


def test_unknown_event_types_are_an_error_naming_them(tmp_path: Path) -> None:
    config = _events(tmp_path / "shop", ["2024-01-01", "2024-01-02"])
    config.write_text(config.read_text() + "[cleaning]\nevent_weights = {view = 1.0}\n")
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "o")
    )
    assert "unknown event types: 'purchase' (2 rows)" in line
    assert "[interactions.event_names]" in line and 'unknown_event_types = "drop"' in line


def test_every_event_type_blank(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "e.csv").write_text("c,s,t,e\nu1,a,2024-01-01,\nu2,b,2024-01-02,\n")
    config = folder / "shop.toml"
    config.write_text(
        '[interactions]\npath = "e.csv"\n[interactions.columns]\nuser_id = "c"\nitem_id = "s"\n'
        'timestamp = "t"\nevent_type = "e"\n'
    )
    line = error_line(
        tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "o")
    )
    assert "unknown event types: blank (2 rows)" in line


def _prepared(folder: Path, users: list[str], times: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(users)
    pd.DataFrame(
        {
            "user_id": users,
            "item_id": [f"i{k}" for k in range(n)],
            "timestamp": pd.to_datetime(times or list(range(n)), unit="D", origin="2024-01-01"),
            "event_type": "purchase",
            "value": 1.0,
            "weight": np.float32(5.0),
        }
    ).to_parquet(folder / "interactions.parquet", index=False)
    return folder


def test_last_n_longer_than_every_history(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path / "p", ["a", "a", "a", "b", "b", "c"])
    args = ["data", "split", prepared, "--strategy", "user-temporal", "--out", tmp_path / "s"]
    line = error_line(tailor(*args, "--last-n", "10"))
    assert "--last-n 10" in line and "the longest user history has 3 rows" in line
    line = error_line(tailor(*args, "--last-n", "2"))  # every user is left with one train row
    assert "--last-n 2" in line and "validation" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--strategy", "temporal", "--cut", "9999-12-31"], "the cut '9999-12-31' is out of range"),
        (["--strategy", "random", "--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
    ],
)
def test_split_options_out_of_range(tmp_path: Path, args: list[str], expected: str) -> None:
    prepared = _prepared(tmp_path / "p", ["a", "a", "b", "b"])
    line = error_line(tailor("data", "split", prepared, *args, "--out", tmp_path / "s"))
    assert expected in line


def test_split_rows_are_one_based_and_name_the_file(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path / "p", ["a", "a", "b", "b"])
    frame = pd.read_parquet(prepared / "interactions.parquet")
    frame.loc[2, "user_id"] = None
    frame.to_parquet(prepared / "interactions.parquet", index=False)
    args = ["data", "split", prepared, "--strategy", "random", "--out", tmp_path / "s"]
    line = error_line(tailor(*args))
    assert line == (
        f"error: file {prepared / 'interactions.parquet'}, column 'user_id', row 3: "
        "value is missing"
    )
    frame.loc[2, "user_id"] = "b"
    frame.loc[1, "timestamp"] = pd.NaT
    frame.to_parquet(prepared / "interactions.parquet", index=False)
    line = error_line(tailor(*args))
    assert line == (
        f"error: file {prepared / 'interactions.parquet'}, column 'timestamp', row 2: "
        "value is missing"
    )


# ---------------------------------------------------------------------------------------------
# recommendation files given to evaluate


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["1,a,1", "1,b,2", "1,a,3"], "row 3: (user_id, item_id) ('1', 'a') repeats row 1"),
        (["1,a,0", "1,b,1"], "column 'rank', row 1: rank 0 is not a positive integer"),
        (["1,a,1", "1,b,-2"], "column 'rank', row 2: rank -2 is not a positive integer"),
        (["1,a,1", "1,b,1.5"], "column 'rank', row 2: rank 1.5 is not a positive integer"),
        (["1,a,1", "2,a,1", "1,b,1"], "column 'rank', row 3: rank 1 repeats row 1 of user '1'"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_recs_with_duplicates_or_bad_ranks(
    tmp_path: Path, rows: list[str], expected: str, fmt: str
) -> None:
    recs = tmp_path / f"recs.{fmt}"
    text = "\n".join(["user_id,item_id,rank", *rows]) + "\n"
    (tmp_path / "r.csv").write_text(text)
    if fmt == "parquet":
        pd.read_csv(tmp_path / "r.csv", dtype={"user_id": str, "item_id": str}).to_parquet(recs)
    else:
        recs.write_text(text)
    truth = tmp_path / "truth.csv"
    truth.write_text("user_id,item_id\n1,b\n")
    args = ["evaluate", "--recs", recs, "--truth", truth, "--out", tmp_path / "o"]
    line = error_line(tailor(*args))
    assert line.startswith(f"error: file {recs}, ") and expected in line
