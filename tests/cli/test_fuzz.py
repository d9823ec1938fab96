"""Issue 8: malformed CSV / Parquet / JSON lines / TOML fed to every command.

Property: each run either fails with exit status 2 and exactly one line ``error: ...`` on stderr
(never a traceback, never exit 1 or 130), or succeeds (exit 0) with its counts conserved: for
``data prepare``, ``rows_in - rows_out == sum(dropped)`` and the written file holds ``rows_out``
rows with finite weights >= 0. Commands run in-process through :func:`tailor.cli.main`.

Hypothesis reuses a test's function-scoped fixtures across examples, so each example makes its own
``tempfile.TemporaryDirectory``.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bad_input_helpers import tailor
from click.testing import Result
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

DEEP = int(os.environ.get("TAILOR_FUZZ_EXAMPLES", "0"))
"""Set TAILOR_FUZZ_EXAMPLES=2000 for a longer, randomised search (default: 50, derandomised)."""
SETTINGS = settings(
    max_examples=DEEP or 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not DEEP,  # by default the same examples every run: a failure is repeatable
    database=None,
)

# ---------------------------------------------------------------------------------------------
# cells: mostly plausible values, sometimes borderline or broken ones (written as raw text, so
# commas and quotes also break lines)

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)


def mostly(good: list[Any], bad: st.SearchStrategy[Any], odds: int = 6) -> st.SearchStrategy[Any]:
    """One of ``good``, except about once in ``odds + 1`` draws one of ``bad``.

    (The flag sits mid-list: Hypothesis favours the ends of a range.)"""
    flags = [True] * odds
    flags.insert(odds // 2, False)
    return st.sampled_from(flags).flatmap(lambda ok: st.sampled_from(good) if ok else bad)


def cells(good: list[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A table cell: rarely bad, since a table has many."""
    return mostly(good, bad, odds=24)


IDS = cells(
    ["u1", "u2", "u3", "0042", "17850.0"],
    st.one_of(st.sampled_from(["", " ", "1.5", "nan", "NULL", "é", '"', "a,b"]), _TEXT),
)
_BAD_TIMES = st.one_of(
    st.sampled_from(
        [
            *("9999-12-31", "0001-01-01", "", "soon", "2024-13-45", "1300000000000", "inf"),
            *("-inf", "1e300", "-1", "nan", "0", "1700000000"),
        ]
    ),
    _TEXT,
)
TIMES = {
    "iso": cells(["2024-01-01", "2024-01-02 10:00:00", "2024-01-03T00:00:00+05:00"], _BAD_TIMES),
    "%Y-%m-%d": cells(["2024-01-01", "2024-02-29", "2023-12-31"], _BAD_TIMES),
    "unix": cells(["1700000000", "1700086400", "0", "1700000000.5"], _BAD_TIMES),
    "unix_ms": cells(["1700000000000", "1700086400000"], _BAD_TIMES),
}
NUMBERS = cells(
    ["1", "2", "2.5", "5"],
    st.one_of(
        st.sampled_from(["0", "-1", "inf", "-inf", "nan", "", "1e300", "3.4e38", "x"]),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ),
)
EVENTS = cells(["purchase", "view", "rating", "click"], st.sampled_from([" Add to Cart", "", "?"]))
ROWS = {
    fmt: st.lists(st.tuples(IDS, IDS, times, EVENTS, NUMBERS), min_size=1, max_size=12)
    for fmt, times in TIMES.items()
}
FORMATS = mostly(["csv", "csv", "parquet", "jsonl"], st.sampled_from(["bytes", "empty"]))


def _write_table(path: Path, header: list[str], rows: list[tuple[str, ...]], fmt: str) -> Path:
    """Rows as raw CSV text (unquoted), as Parquet or JSON lines of strings, or random bytes."""
    if fmt == "bytes":
        path.write_bytes(np.random.default_rng(len(rows)).bytes(64 + 37 * len(rows)))
    elif fmt == "empty":
        path.write_bytes(b"")
    elif fmt == "csv":
        lines = [",".join(header), *(",".join(r[: len(header)]) for r in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        frame = pd.DataFrame([list(r[: len(header)]) for r in rows], columns=header, dtype=str)
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True)
    return path


def _check(result: Result) -> None:
    """Exit 0, or exit 2 with one ``error:`` line; never an uncaught exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        raise AssertionError(f"uncaught {result.exception!r}\n{trace}")
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        event(_kind(lines[0]))
    else:
        event("success")


def _kind(line: str) -> str:
    """A short label of an error line for Hypothesis' statistics (no paths or values)."""
    problem = line.split(": ")[-1] if ": " in line else line
    return " ".join(problem.split()[:4])


# ---------------------------------------------------------------------------------------------
# data profile / data prepare generic

_CLEANING = st.fixed_dictionaries(
    {},
    optional={
        "k_core_users": mostly(["0", "1", "2"], st.sampled_from(["50", "-1"])),
        "k_core_items": st.sampled_from(["0", "2"]),
        "aggregate": st.sampled_from(["true", "false"]),
        "drop_duplicates": st.sampled_from(["true", "false"]),
        "drop_unknown_event_types": st.sampled_from(["true", "false"]),
        "value_weighted_events": st.sampled_from(['["rating"]', '["purchase", "view"]', "[]"]),
        "event_weights": mostly(
            ["{view = 1.0, purchase = 5.0, rating = 1.0}"],
            st.sampled_from(["{view = -1.0}", "{click = inf}", "{}"]),
        ),
        "unknown_event_weight": mostly(["1.0", "0.5"], st.sampled_from(["-2.0", "nan"])),
        "cancellation_prefix": mostly(['"C"', '""'], st.just("3")),
        "impute_numeric": mostly(['"median"', '"mean"'], st.just('"nope"')),
    },
)


@st.composite
def _sources(draw: st.DrawFn) -> dict[str, Any]:
    header = ["customer", "sku", "time", "event", "qty"]
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.permutations(header))[: draw(st.integers(2, 5))]
    time_format = draw(mostly(list(TIMES), st.sampled_from(["%Q", "nonsense", "", "unix_us"])))
    return {
        "rows": draw(ROWS.get(time_format, ROWS["iso"])),
        "header": header,
        "format": draw(FORMATS),
        "timestamp_format": time_format,
        "encoding": draw(mostly(["utf-8", "latin-1"], st.sampled_from(["utf-16", "nope"]))),
        "map_value": draw(st.booleans()),
        "cleaning": draw(_CLEANING),
        "junk_toml": draw(mostly([""], _TEXT)),
    }


def _source_config(folder: Path, spec: dict[str, Any]) -> Path:
    suffix = {"bytes": "parquet", "empty": "csv"}.get(spec["format"], spec["format"])
    _write_table(folder / f"events.{suffix}", spec["header"], spec["rows"], spec["format"])
    columns = 'user_id = "customer"\nitem_id = "sku"\ntimestamp = "time"\nevent_type = "event"\n'
    if spec["map_value"]:
        columns += 'value = "qty"\n'
    cleaning = "".join(f"{key} = {value}\n" for key, value in spec["cleaning"].items())
    config = folder / "shop.toml"
    config.write_text(
        f'[interactions]\npath = "events.{suffix}"\n'
        f'timestamp_format = "{spec["timestamp_format"]}"\nencoding = "{spec["encoding"]}"\n'
        f"[interactions.columns]\n{columns}[cleaning]\n{cleaning}{spec['junk_toml']}\n",
        encoding="utf-8",
    )
    return config


@SETTINGS
@given(_sources())
def test_fuzz_data_profile_and_prepare(spec: dict[str, Any]) -> None:
    note(repr(spec))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = _source_config(folder, spec)
        _check(tailor("data", "profile", "generic", "--config", config))
        out = folder / "prepared"
        result = tailor("data", "prepare", "generic", "--config", config, "--out", out)
        _check(result)
        if result.exit_code == 0:
            report = json.loads((out / "report.json").read_text())
            assert report["rows_in"] - report["rows_out"] == sum(report["dropped"].values())
            assert report["rows_out"] > 0
            inter = pd.read_parquet(out / "interactions.parquet")
            assert len(inter) == report["rows_out"]
            weights = inter["weight"].to_numpy(np.float64)
            assert np.isfinite(weights).all() and (weights >= 0).all()
            assert inter["timestamp"].notna().all()


# ---------------------------------------------------------------------------------------------
# data split

_fractions = st.sampled_from(["-1", "0", "1", "1.5", "nan", "x"])
_WEIGHTS = cells([1.0, 5.0, 3.0], st.floats())


@st.composite
def _prepared(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 12))
    users = draw(st.lists(cells(["a", "b", "c"], st.none()), min_size=n, max_size=n))
    items = draw(st.lists(cells(["x", "y", "z"], st.none()), min_size=n, max_size=n))
    day = cells(list(range(31)), st.none())
    days = draw(st.lists(day, min_size=n, max_size=n))
    weights = draw(st.lists(_WEIGHTS, min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "user_id": pd.Series(users, dtype=object),
            "item_id": pd.Series(items, dtype=object),
            "timestamp": pd.to_datetime(
                [
                    None if d is None else pd.Timestamp("2024-01-01") + pd.Timedelta(days=d)
                    for d in days
                ]
            ),
            "weight": pd.Series(weights, dtype=np.float32),
        }
    )
    drop = draw(mostly([""], st.sampled_from(["user_id", "timestamp", "weight"])))
    if drop:
        frame = frame.drop(columns=drop)
    if draw(st.integers(0, 9)) == 0:
        frame["timestamp"] = frame.get("timestamp", pd.Series(dtype=object)).astype(str)
    strategy = draw(st.sampled_from(["temporal", "user-temporal", "random"]))
    options: list[str] = []
    if strategy == "temporal" and draw(st.booleans()):
        cuts = st.sampled_from(["junk", "9999-12-31", "0001-01-01", ""])
        options += ["--cut", draw(mostly(["2024-01-10", "2024-01-20"], cuts))]
    elif strategy == "temporal":
        options += ["--quantile", draw(mostly(["0.5", "0.8"], _fractions))]
    elif strategy == "user-temporal" and draw(st.booleans()):
        options += ["--last-n", draw(mostly(["1", "2", "3"], st.sampled_from(["-1", "0", "50"])))]
    elif strategy == "user-temporal":
        options += ["--last-fraction", draw(mostly(["0.2", "0.5"], _fractions))]
    else:
        options += ["--test-fraction", draw(mostly(["0.2", "0.5"], _fractions))]
        options += ["--seed", draw(mostly(["0", "7"], st.sampled_from(["-1", str(2**70)])))]
    fraction = draw(mostly(["0", "0.15", "0.3"], st.sampled_from(["-0.1", "1.0", "0.99"])))
    options += ["--validation-fraction", fraction]
    options += ["--scale", draw(st.sampled_from(["zscore", "minmax", "none"]))]
    return {
        "frame": frame,
        "corrupt": draw(mostly([""], st.sampled_from(["bytes", "truncated"]))),
        "items": draw(st.sampled_from([None, "ok", "bytes", "no_id"])),
        "args": ["--strategy", strategy, *options],
    }


@SETTINGS
@given(_prepared())
def test_fuzz_data_split(spec: dict[str, Any]) -> None:
    note(repr(spec))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "prepared"
        folder.mkdir()
        path = folder / "interactions.parquet"
        spec["frame"].to_parquet(path, index=False)
        if spec["corrupt"] == "bytes":
            path.write_bytes(np.random.default_rng(1).bytes(200))
        elif spec["corrupt"] == "truncated":
            path.write_bytes(path.read_bytes()[:-20])
        if spec["items"] == "ok":
            pd.DataFrame({"item_id": ["x", "y"], "price": [1.0, np.inf]}).to_parquet(
                folder / "items.parquet"
            )
        elif spec["items"] == "bytes":
            (folder / "items.parquet").write_bytes(b"PAR1 not really")
        elif spec["items"] == "no_id":
            pd.DataFrame({"sku": ["x"]}).to_parquet(folder / "items.parquet")
        result = tailor("data", "split", folder, *spec["args"], "--out", Path(tmp) / "split")
        _check(result)
        if result.exit_code == 0:
            info = json.loads((Path(tmp) / "split" / "split.json").read_text())
            parts = info["parts"]
            assert sum(part["rows"] for part in parts.values()) == len(spec["frame"])


# ---------------------------------------------------------------------------------------------
# fit and recommend

_TRAIN_ROWS = st.lists(st.tuples(IDS, IDS, TIMES["iso"], NUMBERS, NUMBERS), min_size=1, max_size=9)


@st.composite
def _fits(draw: st.DrawFn) -> dict[str, Any]:
    header = ["user_id", "item_id", "timestamp", "weight", "value"]
    cut = draw(st.sampled_from([5, 5, 5, 4, 4, 4, 3, 3, 2]))
    return {
        "rows": draw(_TRAIN_ROWS),
        "header": header[:cut],
        "format": draw(mostly(["csv", "parquet"], st.sampled_from(["bytes", "empty"]))),
        "model": draw(st.sampled_from(["popularity", "itemknn", "ease", "als"])),
        "params": draw(
            st.lists(mostly(["seed=1"], st.sampled_from(["k=0", "nope=1", "x"])), max_size=1)
        ),
        "threads": draw(mostly(["0", "1"], st.sampled_from(["-1", "100000"]))),
    }


@SETTINGS
@given(_fits())
def test_fuzz_fit(spec: dict[str, Any]) -> None:
    note(repr(spec))
    with tempfile.TemporaryDirectory() as tmp:
        suffix = "parquet" if spec["format"] in ("parquet", "bytes") else "csv"
        train = _write_table(
            Path(tmp) / f"train.{suffix}", spec["header"], spec["rows"], spec["format"]
        )
        params = [arg for p in spec["params"] for arg in ("--param", p)]
        result = tailor(
            "fit", "--train", train, "--model", spec["model"], *params,
            "--threads", spec["threads"], "--out", Path(tmp) / "model",
        )  # fmt: skip
        _check(result)


_MODEL: list[Path] = []


def _model_dir() -> Path:
    """One small fitted model directory for every recommend example (made once)."""
    if not _MODEL:
        folder = Path(tempfile.mkdtemp(prefix="tailor-fuzz-"))
        train = folder / "train.csv"
        train.write_text(
            "user_id,item_id,timestamp\n"
            + "".join(f"u{k % 4},i{k % 5},2024-01-{1 + k:02d}\n" for k in range(12))
        )
        result = tailor("fit", "--train", train, "--model", "itemknn", "--out", folder / "m")
        assert result.exit_code == 0, result.stderr
        _MODEL.append(folder / "m")
    return _MODEL[0]


@SETTINGS
@given(
    st.lists(st.tuples(IDS), max_size=6),
    mostly(["csv", "parquet", "all"], st.sampled_from(["bytes", "empty"])),
    mostly(["user_id"], st.just("customer")),
    mostly(["1", "3"], st.sampled_from(["-1", "0", "1000000000"])),
    mostly(["recs.csv", "recs.parquet"], st.sampled_from(["recs.txt", "recs"])),
)
def test_fuzz_recommend(rows: list[tuple[str]], fmt: str, column: str, k: str, name: str) -> None:
    model = _model_dir()
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "all":
            users: Path | str = "all"
        else:
            suffix = "parquet" if fmt in ("parquet", "bytes") else "csv"
            users = _write_table(Path(tmp) / f"users.{suffix}", [column], rows, fmt)
        out = Path(tmp) / name
        result = tailor("recommend", "--model-dir", model, "--users", users, "--k", k, "--out", out)
        _check(result)


# ---------------------------------------------------------------------------------------------
# evaluate

RANKS = cells(
    ["1", "2", "3", "4"],
    st.one_of(
        st.sampled_from(["0", "-1", "1.5", "", "inf", "x", "1e300"]), st.integers(-3, 30).map(str)
    ),
)


@st.composite
def _evaluations(draw: st.DrawFn) -> dict[str, Any]:
    order = draw(mostly(["rank", "score"], st.just("neither")))
    items = cells(list("abcdefgh"), IDS)
    unique = draw(mostly(["unique"], st.just("repeats"))) == "unique"
    listed = draw(st.lists(st.tuples(IDS, items), min_size=1, max_size=12, unique=unique))
    # ranks 1..n per user (a few bad ones), or scores
    position: dict[str, int] = {}
    recs = []
    for user, item in listed:
        position[user] = position.get(user, 0) + 1
        good = str(position[user]) if order != "score" else str(1.0 / position[user])
        recs.append((user, item, draw(cells([good], RANKS))))
    truth = draw(st.lists(st.tuples(IDS, items, NUMBERS), min_size=1, max_size=8))
    return {
        "recs": recs,
        "recs_header": ["user_id", "item_id", order],
        "recs_format": draw(mostly(["csv", "parquet"], st.sampled_from(["bytes", "empty"]))),
        "truth": truth,
        "truth_header": draw(
            st.sampled_from(
                [["user_id", "item_id"]] * 3
                + [["user_id", "item_id", "relevance"]] * 3
                + [["user_id", "x"]]
            )
        ),
        "truth_format": draw(mostly(["csv", "parquet"], st.just("bytes"))),
        "k": draw(mostly(["5,10", "1", "1,100000"], st.sampled_from(["0", "a", "", "100001"]))),
        "curve_k": draw(mostly(["0", "5", "100000"], st.sampled_from(["-1", "100001"]))),
        "relevance": draw(mostly(["", "relevance"], st.just("nope"))),
    }


@SETTINGS
@given(_evaluations())
def test_fuzz_evaluate(spec: dict[str, Any]) -> None:
    note(repr(spec))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kinds = {"bytes": "parquet", "empty": "csv"}
        recs = _write_table(
            folder / f"recs.{kinds.get(spec['recs_format'], spec['recs_format'])}",
            spec["recs_header"],
            spec["recs"],
            spec["recs_format"],
        )
        truth = _write_table(
            folder / f"truth.{kinds.get(spec['truth_format'], spec['truth_format'])}",
            spec["truth_header"],
            spec["truth"],
            spec["truth_format"],
        )
        args = ["--k", spec["k"], "--curve-k", spec["curve_k"], "--out", folder / "eval"]
        if spec["relevance"]:
            args += ["--relevance-column", spec["relevance"]]
        _check(tailor("evaluate", "--recs", recs, "--truth", truth, *args))
