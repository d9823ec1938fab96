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


# ---------------------------------------------------------------------------------------------
# issue 10: truth filters, K beyond the lists, several systems, --no-ci, progress, the title
def _shop(tmp_path: Path) -> dict[str, Path]:
    """A split folder and recommendation files with known answers.

    train: u1 a b, u2 a; validation: u1 c. Test rows: u1 c (purchase, seen in validation),
    u1 d (purchase, new), u1 e (view, new), u2 b (add_to_cart, new), u2 a (purchase, seen),
    u3 a (purchase, a new user). Lists: u1 d e x, u2 b z, u3 a b (model); u1 x y, u2 z b,
    u3 b a (other); u1 a b, u2 b a, u3 a b (popular)."""
    split = tmp_path / "split"
    split.mkdir()
    day = pd.Timestamp("2024-01-01")
    pd.DataFrame(
        {"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "a"], "timestamp": [day] * 3}
    ).to_parquet(split / "train.parquet")
    pd.DataFrame(
        {"user_id": ["u1"], "item_id": ["c"], "timestamp": [day], "user_segment": ["warm"]}
    ).to_parquet(split / "validation.parquet")
    pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u3"],
            "item_id": ["c", "d", "e", "b", "a", "a"],
            "event_type": ["purchase", "purchase", "view", "add_to_cart", "purchase", "purchase"],
            "timestamp": [day] * 6,
        }
    ).to_parquet(split / "test.parquet")
    pd.DataFrame(
        {"item_id": list("abcdexyz"), "title": [f"Product {c.upper()}" for c in "abcdexyz"]}
    ).to_parquet(split / "items.parquet")
    (split / "split.json").write_text(
        json.dumps(
            {
                "strategy": "temporal",
                "parameters": {"cut": "2024-02-01T00:00:00", "quantile": None},
                "parts": {"train": {"rows": 3}, "validation": {"rows": 1}, "test": {"rows": 6}},
            }
        )
    )
    files = {"split": split, "truth": split / "test.parquet"}
    lists = {
        "model": {"u1": "dex", "u2": "bz", "u3": "ab"},
        "other": {"u1": "xy", "u2": "zb", "u3": "ba"},
        "popular": {"u1": "ab", "u2": "ba", "u3": "ab"},
    }
    for name, per_user in lists.items():
        rows = [(u, i, r + 1) for u, items in per_user.items() for r, i in enumerate(items)]
        path = tmp_path / f"{name}.csv"
        pd.DataFrame(rows, columns=["user_id", "item_id", "rank"]).to_csv(path, index=False)
        files[name] = path
    return files


def _run(monkeypatch: pytest.MonkeyPatch, *args: object) -> int:
    from tailor.cli import main

    monkeypatch.setattr(sys, "argv", ["tailor", "evaluate", *map(str, args)])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _metrics(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "metrics.json").read_text())


def test_truth_filters_novel_only_and_relevant_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _shop(tmp_path)
    base = ["--recs", f["model"], "--truth", f["truth"], "--split", f["split"], "--k", "1,3"]
    # every row: u1 {c, d, e} (d, e at 1, 2), u2 {b, a} (b at 1), u3 {a} (a at 1)
    assert _run(monkeypatch, *base, "--out", tmp_path / "all") == 0
    m = _metrics(tmp_path / "all")
    assert m["recall@1"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
    assert m["settings"]["truth"] == {"file": str(f["truth"]), "rows": 6, "rows_kept": 6}
    # novel only (new to the user in train + validation): u1 {d, e}, u2 {b}, u3 {a}
    assert _run(monkeypatch, *base, "--novel-only", "--out", tmp_path / "novel") == 0
    m = _metrics(tmp_path / "novel")
    assert m["recall@1"] == pytest.approx((1 / 2 + 1 + 1) / 3) and m["recall@3"] == 1.0
    assert m["settings"]["truth"]["rows_after_novel_only"] == 4
    # purchases and carts: u1 {c, d}, u2 {b, a}, u3 {a}
    events = ["--relevant-events", "purchase,add_to_cart"]
    assert _run(monkeypatch, *base, *events, "--out", tmp_path / "events") == 0
    m = _metrics(tmp_path / "events")
    assert m["recall@1"] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    assert m["settings"]["truth"]["relevant_events"] == ["purchase", "add_to_cart"]
    assert m["settings"]["truth"]["rows_after_relevant_events"] == 5
    # both: u1 {d}, u2 {b}, u3 {a}: every first item is a hit
    assert _run(monkeypatch, *base, *events, "--novel-only", "--out", tmp_path / "both") == 0
    m = _metrics(tmp_path / "both")
    assert m["recall@1"] == 1.0 and m["n_users"] == 3
    assert m["settings"]["truth"]["rows_kept"] == 3
    out = capsys.readouterr().out
    assert "truth: " + str(f["truth"]) + ": 3 of 6 rows; events purchase, add_to_cart; novel" in out


def test_truth_filter_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _shop(tmp_path)
    args = ["--recs", f["model"], "--truth", f["truth"], "--out", tmp_path / "o"]
    assert _run(monkeypatch, *args, "--novel-only") == 2
    assert capsys.readouterr().err.strip() == (
        "error: --novel-only needs --split: the train (+ validation) interactions the items "
        "must be new to"
    )
    no_events = tmp_path / "truth.csv"
    no_events.write_text("user_id,item_id\nu1,d\n")
    args = ["--recs", f["model"], "--truth", no_events, "--out", tmp_path / "o"]
    assert _run(monkeypatch, *args, "--relevant-events", "purchase") == 2
    assert capsys.readouterr().err.strip() == (
        f"error: file {no_events}, column 'event_type': --relevant-events needs an event_type "
        "column in the truth"
    )
    args = ["--recs", f["model"], "--truth", f["truth"], "--out", tmp_path / "o"]
    assert _run(monkeypatch, *args, "--relevant-events", "refund") == 2
    assert "no truth row is left after --relevant-events/--novel-only" in capsys.readouterr().err


def test_k_beyond_the_lists_warns_on_stderr_and_marks_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _shop(tmp_path)
    args = ["--recs", f["model"], "--truth", f["truth"], "--k", "3,10", "--out", tmp_path / "o"]
    assert _run(monkeypatch, *args) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: K=10 is longer than the longest recommendation list (3 items): the @10 "
        "metrics are those of the 3-item lists (recall, NDCG, MAP, MRR and hit rate equal @3; "
        "precision divides by 10); recommend at least 10 items to measure @10"
    ]
    assert "@10*" in captured.out and "* K longer than the longest list (3)" in captured.out
    m = _metrics(tmp_path / "o")
    assert m["settings"]["longest_list"] == 3 and m["settings"]["k_beyond_lists"] == [10]
    assert m["recall@10"] == m["recall@3"] and len(m["warnings"]) == 1
    assert "recall@10 (K &gt; longest list)" in (tmp_path / "o" / "report.html").read_text()


def test_several_systems_and_a_baseline_get_paired_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tailor.evaluation import compare, evaluate, read_recs, read_truth

    f = _shop(tmp_path)
    out = tmp_path / "o"
    args = ["--recs", f["model"], "--recs", f["other"], "--baseline", f["popular"]]
    args += ["--truth", f["truth"], "--k", "1,2", "--out", out]
    assert _run(monkeypatch, *args) == 0
    m = _metrics(out)
    assert list(m["systems"]) == ["model", "other", "popular"]
    truth = read_truth(f["truth"])
    per = {n: evaluate(read_recs(f[n]), truth, (1, 2)).per_user for n in m["systems"]}
    assert m["systems"]["other"]["ndcg@2"] == pytest.approx(per["other"]["ndcg@2"].mean())
    pairs = [(c["a"], c["b"], c["metric"]) for c in m["comparisons"]]
    assert pairs == [
        ("popular", b, f"{metric}@{k}") for b in ("model", "other") for k in (1, 2)
        for metric in ("ndcg", "recall")
    ]  # fmt: skip
    expected = compare(per["popular"], per["model"], "ndcg@1").to_dict()
    assert m["comparisons"][0] == {"a": "popular", "b": "model", **expected}
    assert m["ndcg@2"] == pytest.approx(per["model"]["ndcg@2"].mean())  # the first --recs
    page = (out / "report.html").read_text()
    assert "<h2>Systems (mean [95% CI])</h2>" in page and "<h2>Paired comparison</h2>" in page
    assert "model vs popular on ndcg@1:" in capsys.readouterr().out
    # without --baseline, later systems are compared with the first
    assert _run(monkeypatch, *args[:4], *args[6:-1], tmp_path / "o2") == 0
    assert {(c["a"], c["b"]) for c in _metrics(tmp_path / "o2")["comparisons"]} == {
        ("model", "other")
    }
    # one pair: the systems name the columns; several pairs: each row names them
    assert "<th>other - model</th>" in (tmp_path / "o2" / "report.html").read_text()
    assert "<th>A</th><th>B</th>" in page and "<td class='text'>popular</td>" in page


def test_no_ci_skips_every_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _shop(tmp_path)
    args = ["--recs", f["model"], "--truth", f["truth"], "--split", f["split"], "--k", "2"]
    assert _run(monkeypatch, *args, "--no-ci", "--out", tmp_path / "o") == 0
    m = _metrics(tmp_path / "o")
    assert "ci" not in m and all("ci" not in s for s in m["segments"].values())
    assert _run(monkeypatch, *args, "--out", tmp_path / "ci") == 0
    m = _metrics(tmp_path / "ci")
    assert m["ci"]["method"] == "bootstrap" and "ci" in m["segments"]["user:warm"]


def test_progress_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import functools

    import tailor.cli.options as module  # stderr_progress: the display of every command

    f = _shop(tmp_path)
    args = ["--recs", f["model"], "--truth", f["truth"], "--k", "2"]
    assert _run(monkeypatch, *args, "--out", tmp_path / "o") == 0
    assert capsys.readouterr().err == ""  # not a terminal: nothing on stderr
    terminal = functools.partial(module.Console, force_terminal=True)
    monkeypatch.setattr(module, "Console", terminal)
    assert _run(monkeypatch, *args, "--out", tmp_path / "t") == 0
    err = capsys.readouterr().err
    assert "evaluating model" in err or "comparing and writing" in err


def test_report_title_names_model_parameters_data_split_date_and_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tailor
    from tailor.models.model_dir import fit_model_dir

    f = _shop(tmp_path)
    train = pd.read_parquet(f["split"] / "train.parquet")
    fit_model_dir(train, "itemknn", {"k": 5}, tmp_path / "model")
    args = ["--recs", f["model"], "--truth", f["truth"], "--split", f["split"], "--k", "2"]
    args += ["--model-dir", tmp_path / "model", "--novel-only", "--out", tmp_path / "o"]
    assert _run(monkeypatch, *args) == 0
    page = (tmp_path / "o" / "report.html").read_text()
    title = page[page.index("<title>") + 7 : page.index("</title>")]
    assert title.startswith(f"tailor evaluate: itemknn on {f['split']} (temporal split) [")
    assert "k=5" in title and f"UTC with tailor {tailor.__version__}" in title
    about = _metrics(tmp_path / "o")["about"]
    assert about["split"] == "temporal (cut=2024-02-01T00:00:00)"
    assert about["data"] == f"{f['split']} (train 3 rows, validation 1 rows, test 6 rows)"
    assert about["tailor"] == tailor.__version__ and about["evaluated"].endswith(" UTC")
    assert about["reference"].startswith("train + validation")
    assert f"<td class='text'>{tailor.__version__}</td>" in page
    # the sample lists carry the catalogue's titles
    assert "<h2>Sample lists</h2>" in page and "Product D" in page


def test_readme_use_it_commands_parse() -> None:
    """Every `tailor` line of the README's "Use it" block names real commands and options (the
    numbers next to them were measured by running the block; see the README)."""
    import shlex

    import click

    from tailor.cli import cli

    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text[text.index("## Use it") :]
    block = section[
        section.index("```bash") + 7 : section.index("```", section.index("```bash") + 7)
    ]
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines if line.startswith("tailor ")]
    assert len(commands) >= 8
    for words in commands:
        ctx = click.Context(cli)
        command: click.Command = cli
        args = words[1:]
        while isinstance(command, click.Group) and args and not args[0].startswith("-"):
            found = command.get_command(ctx, args[0])
            assert found is not None, words
            command, args = found, args[1:]
        command.make_context(words[1], list(args))  # raises on an unknown option
