"""``tailor recommend`` through the pipeline: availability, --category, --exclude, per-segment
fallback (--segment from the users file or the users table), and users with short or empty
lists reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailor.models.model_dir import fit_model_dir
from tailor.testing.cli import run_cli

# A: a b, B: a b c, C: b c, D: c d, E: e ; popularity: b, c (3 users), a (2), d, e (1)
PAIRS = [("A", "a"), ("A", "b"), ("B", "a"), ("B", "b"), ("B", "c"), ("C", "b"), ("C", "c")]
PAIRS += [("D", "c"), ("D", "d"), ("E", "e")]
CATALOG = pd.DataFrame(
    {
        "item_id": list("abcde"),
        "category": list("xxyyz"),
        "available": [True, False, True, True, True],  # b is out of stock
    }
)


def _model_dir(tmp: Path, name: str = "itemknn") -> Path:
    frame = pd.DataFrame(
        {
            "user_id": [u for u, _ in PAIRS],
            "item_id": [i for _, i in PAIRS],
            "timestamp": pd.date_range("2024-01-01", periods=len(PAIRS), freq="D"),
        }
    )
    path = tmp / "model"
    fit_model_dir(frame, name, {}, path, items=CATALOG)
    return path


def _recommend(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, model: Path, users: list[str], *extra: object
) -> pd.DataFrame:
    file = tmp / "users.csv"
    pd.DataFrame({"user_id": users}).to_csv(file, index=False)
    out = tmp / "recs.csv"
    code = run_cli("recommend", "--model-dir", model, "--users", file, "--out", out, *extra)
    assert code == 0
    return pd.read_csv(out, dtype={"user_id": str, "item_id": str})


def _lists(recs: pd.DataFrame) -> dict[str, list[str]]:
    return {str(u): g["item_id"].tolist() for u, g in recs.groupby("user_id", sort=False)}


def test_unavailable_items_are_never_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model_dir(tmp_path, "popularity")
    recs = _recommend(monkeypatch, tmp_path, model, ["D", "new"], "--k", "5")
    # b (the most popular) is out of stock: never listed, for known and unknown users
    assert _lists(recs) == {"D": ["a", "e"], "new": ["c", "a", "d", "e"]}
    assert recs.groupby("user_id")["source"].first().to_dict() == {
        "D": "model",
        "new": "cold_start",
    }


def test_category_and_exclude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_dir(tmp_path)
    recs = _recommend(monkeypatch, tmp_path, model, ["A", "new"], "--k", "3", "--category", "y")
    # category y = c, d; A has seen a and b
    assert _lists(recs) == {"A": ["c", "d"], "new": ["c", "d"]}
    recs = _recommend(
        monkeypatch, tmp_path, model, ["A", "new"], "--k", "3", "--category", "y",
        "--exclude", "c",
    )  # fmt: skip
    assert _lists(recs) == {"A": ["d"], "new": ["d"]}


def test_users_with_short_or_empty_lists_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model_dir(tmp_path)
    capsys.readouterr()
    recs = _recommend(
        monkeypatch, tmp_path, model, ["B", "E", "new"], "--k", "2", "--category", "x"
    )
    # category x = a, b (b out of stock): B has seen a, so B gets nothing
    assert _lists(recs) == {"E": ["a"], "new": ["a"]}
    captured = capsys.readouterr()
    assert "for 3 users" in captured.out
    assert "warning: 3 users got fewer than 2 items after the filters, 1 got none (B)" in (
        captured.err
    )


def test_segment_fallback_from_users_file_and_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model_dir(tmp_path, "popularity")
    table = pd.DataFrame(
        {
            "user_id": ["A", "B", "C", "D", "E", "old"],
            "country": ["FR", "FR", "FR", "UK", "UK", "UK"],
        }
    )
    table.to_parquet(model / "users.parquet", index=False)
    # FR users (A, B, C): b 3 users (out of stock), a and c 2 each (tie: a first, lower item
    # number); UK (D, E): c, d, e one each; global: c (3 users), a (2)
    file = tmp_path / "users.csv"
    pd.DataFrame({"user_id": ["new", "old", "x"], "country": ["FR", "DE", None]}).to_csv(
        file, index=False
    )
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model-dir", model, "--users", file, "--k", "2", "--out", out]
    assert run_cli(*args, "--segment", "country") == 0
    recs = pd.read_csv(out, dtype=str)
    # new: FR from the file; old: DE (no list) -> global; x: no country -> global
    assert _lists(recs) == {"new": ["a", "c"], "old": ["c", "a"], "x": ["c", "a"]}
    pd.DataFrame({"user_id": ["old"]}).to_csv(file, index=False)  # no column: the table's UK
    assert run_cli(*args, "--segment", "country") == 0
    assert _lists(pd.read_csv(out, dtype=str)) == {"old": ["c", "d"]}


def test_segment_column_missing_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model_dir(tmp_path)
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model-dir", model, "--users", "all", "--out", out]
    assert run_cli(*args, "--segment", "country") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no users table" in err[0] and "users.parquet" in err[0]
    assert not out.exists()
