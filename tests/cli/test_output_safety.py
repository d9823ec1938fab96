"""No command writes over its inputs or over a folder it did not create (issue: data loss).

Each test reproduces a case that destroyed a user's file before outputs went through
tailor.outputs, and checks the input is byte-for-byte intact afterwards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailor.outputs import MARKER
from tailor.testing.cli import run_cli

EVENTS = pd.DataFrame(
    {
        "customer": ["A", "A", "B", "B", "B", "C", "C", "D", "D"],
        "sku": ["a", "b", "a", "b", "c", "b", "c", "c", "d"],
        "time": pd.date_range("2024-01-01", periods=9, freq="D").astype(str),
        "extra": range(9),
    }
)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _shop(folder: Path) -> Path:
    """A generic source whose interactions file is DIR/interactions.parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    EVENTS.to_parquet(folder / "interactions.parquet", index=False)
    config = folder / "shop.toml"
    config.write_text(
        '[interactions]\npath = "interactions.parquet"\ntimestamp_format = "iso"\n'
        '[interactions.columns]\nuser_id = "customer"\nitem_id = "sku"\ntimestamp = "time"\n'
    )
    return config


def test_prepare_into_the_folder_it_reads_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _shop(tmp_path / "shop")
    raw = (tmp_path / "shop" / "interactions.parquet").read_bytes()
    out = tmp_path / "shop"
    assert run_cli("data", "prepare", "generic", "--config", config, "--out", out) == 2
    assert "would overwrite the input" in _error(capsys)
    # --force does not allow it either: an input is never an output
    args = ("data", "prepare", "generic", "--config", config, "--out", out, "--force")
    assert run_cli(*args) == 2
    assert (tmp_path / "shop" / "interactions.parquet").read_bytes() == raw
    assert sorted(p.name for p in out.iterdir()) == ["interactions.parquet", "shop.toml"]


def _prepared_and_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    config = _shop(tmp_path / "shop")
    prepared, split = tmp_path / "prepared", tmp_path / "split"
    assert run_cli("data", "prepare", "generic", "--config", config, "--out", prepared) == 0
    args = ("data", "split", prepared, "--strategy", "random", "--test-fraction", "0.3")
    assert run_cli(*args, "--validation-fraction", "0", "--out", split) == 0
    return prepared, split


def test_split_into_its_input_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepared, _ = _prepared_and_split(tmp_path, monkeypatch)
    before = {p.name: p.read_bytes() for p in prepared.iterdir()}
    capsys.readouterr()
    args = ("data", "split", prepared, "--strategy", "random", "--out", prepared, "--force")
    assert run_cli(*args) == 2
    assert "would overwrite the input" in _error(capsys)
    assert {p.name: p.read_bytes() for p in prepared.iterdir()} == before


def test_fit_refuses_a_folder_it_did_not_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, split = _prepared_and_split(tmp_path, monkeypatch)
    target = tmp_path / "mine"
    target.mkdir()
    (target / "items.parquet").write_bytes(b"the user's own catalogue")
    capsys.readouterr()
    fit = ("fit", "--train", split / "train.parquet", "--model", "popularity", "--out", target)
    assert run_cli(*fit) == 2
    assert "non-empty folder that tailor did not create" in _error(capsys)
    assert (target / "items.parquet").read_bytes() == b"the user's own catalogue"
    # fitting into the split folder that holds its inputs is refused even with --force
    into_inputs = (*fit[:-1], split, "--force")
    assert run_cli(*into_inputs) == 2
    assert "would overwrite the input" in _error(capsys)
    assert (split / "train.parquet").is_file()
    assert run_cli(*fit, "--force") == 0  # the user said so
    assert (target / "manifest.json").is_file() and (target / MARKER).is_file()


def test_refit_replaces_the_model_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, split = _prepared_and_split(tmp_path, monkeypatch)
    model = tmp_path / "model"
    fit = ("fit", "--train", split / "train.parquet", "--out", model)
    assert run_cli(*fit, "--model", "itemknn") == 0
    (model / "learning_curve.html").write_text("a stale curve of an older model")
    assert run_cli(*fit, "--model", "popularity") == 0
    names = sorted(p.name for p in model.iterdir())
    expected = ["items.parquet", "manifest.json", "params.npz", "popularity", "users.parquet"]
    assert names == [MARKER, *expected]  # the split's users.parquet is copied in by fit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "prepared", "shop", "split"]


def test_recommend_never_overwrites_its_users_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, split = _prepared_and_split(tmp_path, monkeypatch)
    model = tmp_path / "model"
    assert run_cli("fit", "--train", split / "train.parquet", "--model", "popularity",
               "--out", model) == 0  # fmt: skip
    users = tmp_path / "users.csv"
    users.write_text("user_id\nA\nB\n")
    capsys.readouterr()
    args = ("recommend", "--model-dir", model, "--users", users, "--out", users)
    assert run_cli(*args) == 2
    assert "would overwrite the input" in _error(capsys)
    assert users.read_text() == "user_id\nA\nB\n"
    out = tmp_path / "recs.csv"
    assert run_cli(*args[:-1], out) == 0
    assert list(pd.read_csv(out)["user_id"].unique()) == ["A", "B"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_evaluate_writes_metrics_and_report_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, split = _prepared_and_split(tmp_path, monkeypatch)
    recs = tmp_path / "recs.csv"
    recs.write_text("user_id,item_id,rank\nA,c,1\nB,d,1\n")
    out = tmp_path / "eval"
    args = ("evaluate", "--recs", recs, "--truth", split / "test.parquet", "--k", "1")
    assert run_cli(*args, "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "metrics.json", "report.html"]
    capsys.readouterr()
    assert run_cli(*args, "--out", split) == 2  # the truth lives there
    assert "would overwrite the input" in _error(capsys)
