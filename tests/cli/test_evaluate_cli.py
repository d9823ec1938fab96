"""``tailor evaluate`` on CSV and Parquet files, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tailor.cli.evaluate import evaluate
from tailor.errors import DataError


def _files(tmp_path: Path, fmt: str) -> tuple[Path, Path]:
    recs = pd.DataFrame(
        {
            "user_id": ["1", "1", "2", "2"],
            "item_id": ["a", "b", "c", "a"],
            "score": [0.9, 0.5, 0.8, 0.1],
        }
    )
    truth = pd.DataFrame(
        {"user_id": ["1", "2", "3"], "item_id": ["b", "a", "a"], "grade": [2, 1, 0]}
    )
    paths = tmp_path / f"recs.{fmt}", tmp_path / f"truth.{fmt}"
    for frame, path in zip((recs, truth), paths, strict=True):
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
    return paths


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_evaluate_writes_metrics_and_report(tmp_path: Path, fmt: str) -> None:
    recs, truth = _files(tmp_path, fmt)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        evaluate,
        [
            "--recs",
            str(recs),
            "--truth",
            str(truth),
            "--k",
            "1,2",
            "--relevance-column",
            "grade",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    # user 1: b at rank 2 -> recall@2 1, P@1 0; user 2: a at rank 2; user 3 has no relevant item
    assert metrics["n_users"] == 2 and metrics["n_users_without_relevant"] == 1
    assert metrics["recall@2"] == 1.0 and metrics["precision@1"] == 0.0
    assert metrics["hit_rate@2"] == 1.0
    assert (out / "report.html").is_file()
    assert "ndcg" in res.output and "report.html" in res.output


def test_split_dir_adds_segments_and_coverage(tmp_path: Path) -> None:
    recs, truth = _files(tmp_path, "csv")
    split = tmp_path / "split"
    split.mkdir()
    pd.DataFrame({"user_id": ["1", "1"], "item_id": ["a", "c"]}).to_parquet(split / "train.parquet")
    pd.DataFrame({"item_id": ["a", "b", "c", "d"], "category": ["x", "x", "y", "y"]}).to_parquet(
        split / "items.parquet"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        evaluate,
        [
            "--recs",
            str(recs),
            "--truth",
            str(truth),
            "--k",
            "2",
            "--split",
            str(split),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["coverage@2"] == pytest.approx(3 / 4)
    assert set(metrics["segments"]) >= {"user:warm", "user:cold", "item:warm", "item:cold"}
    assert "diversity@2" in metrics


def test_bad_files_raise_data_errors(tmp_path: Path) -> None:
    _, truth = _files(tmp_path, "csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item\n1,a\n")
    args = ["--truth", str(truth), "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(evaluate, ["--recs", str(bad), *args])
    assert isinstance(res.exception, DataError)
    assert "column 'item_id'" in str(res.exception) and "bad.csv" in str(res.exception)
    noscore = tmp_path / "noscore.csv"
    noscore.write_text("user_id,item_id\n1,a\n")
    res = CliRunner().invoke(evaluate, ["--recs", str(noscore), *args])
    assert "'rank' or a 'score'" in str(res.exception)


def test_console_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    recs, _ = _files(tmp_path, "csv")
    truth = tmp_path / "t.csv"
    truth.write_text("user_id,item_id,relevance\n1,a,1\n2,b,high\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tailor.cli import main; main()",
            "evaluate",
            "--recs",
            str(recs),
            "--truth",
            str(truth),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: file {truth}, column 'relevance', row 2: value 'high' is not a finite number"
    ]
