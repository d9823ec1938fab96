"""report.html: self-contained, and it renders in headless Chromium without console errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.evaluation import (
    compare,
    evaluate,
    learning_curve_verdict,
    residuals,
    write_report,
)

CHROMIUM = Path("/usr/bin/chromium")


def _result_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    users = [f"u{u}" for u in range(40)]
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(users, 20),
            "item_id": [f"i{i}" for i in rng.integers(0, 30, 800)],
            "rank": np.tile(np.arange(1, 21), 40),
        }
    ).drop_duplicates(["user_id", "item_id"])
    recs["rank"] = recs.groupby("user_id").cumcount() + 1
    truth = pd.DataFrame(
        {
            "user_id": np.repeat(users, 3),
            "item_id": [f"i{i}" for i in rng.integers(0, 30, 120)],
            "user_segment": np.repeat(["warm", "cold"] * 20, 3),
            "item_segment": rng.choice(["warm", "cold"], 120),
        }
    )
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(30)], "category": list("ABC") * 10})
    result = evaluate(recs, truth, (5, 10), items=items, curve_k=20)
    other = evaluate(
        recs.assign(rank=lambda f: f["rank"][::-1].to_numpy()), truth, (5, 10), curve_k=0
    )
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "train": [0.1, 0.2, 0.3, 0.4],
            "validation": [0.1, 0.15, 0.14, 0.12],
        }
    )
    preds = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "item_id": ["i1", "i2"],
            "prediction": [3.5, 4.0],
            "value": [4.0, 4.0],
        }
    )
    write_report(
        result,
        tmp_path,
        comparisons=[compare(other.per_user, result.per_user, "ndcg@10")],
        learning=(history, learning_curve_verdict(history)),
        residuals=residuals(preds),
    )
    return tmp_path


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = _result_dir(tmp_path)
    page = (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["n_users"] == 40
    assert "Plotly" in page and len(page) > 1_000_000  # plotly.js inlined, not fetched
    assert not re.search(r"<script[^>]+src=['\"]https?://", page)
    assert "Paired comparison" in page and "truth users without any relevant item" in page


@pytest.mark.browser
def test_report_renders_in_headless_chromium(
    tmp_path: Path, require: Callable[[bool, str], None]
) -> None:
    require(
        CHROMIUM.exists(),
        "needs Debian's chromium at /usr/bin/chromium (make chromium installs it)",
    )
    out = _result_dir(tmp_path / "report")
    page = out / "report.html"
    # record uncaught errors and console.error into the DOM, then dump the DOM after scripts ran
    hook = (
        "<script>window.__errors=[];window.onerror=function(m){window.__errors.push(String(m))};"
        "console.error=function(m){window.__errors.push(String(m))};"
        "window.addEventListener('load',function(){setTimeout(function(){"
        "var d=document.createElement('div');d.id='tailor-errors';"
        "d.textContent='ERRORS:'+window.__errors.length+':'+"
        "window.__errors.join('|');document.body.appendChild(d);"
        "d.setAttribute('data-plots',document.querySelectorAll('.js-plotly-plot').length)},500)});"
        "</script>"
    )
    probe = out / "probe.html"
    probe.write_text(page.read_text().replace("<head>", "<head>" + hook, 1))
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert "ERRORS:0:" in dom.stdout, dom.stdout[-2000:]
    plots = re.search(r'data-plots="(\d+)"', dom.stdout)
    assert plots and int(plots.group(1)) >= 4  # curves, segments, learning, residuals
    assert "Uncaught" not in dom.stderr and "ERROR:CONSOLE" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("TAILOR_SCREENSHOT_DIR")  # set it to keep the PNG for a person to see
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "report.png").write_bytes(shot.read_bytes())


def test_report_sections_order_titles_and_marks(tmp_path: Path) -> None:
    from tailor.evaluation.report import _curve_figure
    from tailor.evaluation.samples import sample_lists

    train = pd.DataFrame(
        {
            "user_id": ["a"] * 6 + ["b"] * 2 + ["c"] * 25 + ["d"] * 120,
            "item_id": ["x"] * 6 + ["y"] * 2 + ["x"] * 25 + ["z"] * 120,
        }
    )
    users = list("abcde")
    recs = pd.DataFrame(
        {"user_id": np.repeat(users, 3), "item_id": list("zxy") * 5, "rank": [1, 2, 3] * 5}
    )
    truth = pd.DataFrame({"user_id": users, "item_id": ["y", "x", "n", "x", "z"]})
    items = pd.DataFrame(
        {"item_id": list("xyzn"), "title": ["Teapot <b>", "Mug", "Cake stand", "Bunting"]}
    )
    result = evaluate(recs, truth, (2, 5), train=train, items=items, curve_k=10)
    samples = sample_lists(recs, truth, result.per_user["user_id"], items=items, n_users=2)
    write_report(
        result,
        tmp_path,
        title="tailor evaluate: ease on split (temporal split) [regularization=300]",
        about={"model": "ease", "parameters": "regularization=300", "tailor": "0.1.0"},
        samples=samples,
    )
    page = (tmp_path / "report.html").read_text()
    assert "<title>tailor evaluate: ease on split (temporal split) [regularization=300]" in page
    assert "<th>parameters</th><td class='text'>regularization=300</td>" in page
    # user and item segments apart, each in natural order, with intervals
    users_at, items_at = page.index("<h2>User segments"), page.index("<h2>Item segments")
    order = [page.index(f"<td>{s}</td>", users_at) for s in (
        "user:warm", "user:cold", "activity:0", "activity:1-4", "activity:5-19",
        "activity:20-99", "activity:100+",
    )]  # fmt: skip
    assert order == sorted(order) and order[-1] < items_at
    order = [page.index(f"<td>{s}</td>", items_at) for s in (
        "item:warm", "item:cold", "popularity:head", "popularity:torso", "popularity:tail",
    )]  # fmt: skip
    assert order == sorted(order)
    assert "<span class='ci'>[" in page[users_at:items_at]
    # K = 5 is longer than the 3-item lists: marked in the table and warned about
    assert "recall@5 (K &gt; longest list)" in page and "recall@2 (K" not in page
    assert "Warning: K=5 is longer than the longest recommendation list (3 items)" in page
    # sample lists carry the catalogue's titles, escaped
    assert "<h2>Sample lists</h2>" in page and "Teapot &lt;b&gt;" in page and "Cake stand" in page
    # the metric@K curve ends at the longest list, not at curve_k
    assert list(_curve_figure(result.curves, 3).data[0].x) == [1, 2, 3]
    assert len(result.curves) == 10
