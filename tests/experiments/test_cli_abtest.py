"""``tailor abtest report`` and ``tailor abtest power``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tailor.experiments.planted import planted_events
from tailor.testing.cli import run_cli

CONFIG = """
[serve]
default_n = 5

[[experiments]]
name = "exp"
attribution_window_s = 3600
  [[experiments.variants]]
  name = "control"
  [[experiments.variants]]
  name = "treat"
  strategy = "popular"
"""


def write_events(path: Path, visitors: int = 2000) -> None:
    """Control converts at 10 %, the treatment at 30 % (planted_events' defaults)."""
    planted_events(visitors=visitors).to_parquet(path)


def test_power_prints_the_sample_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("abtest", "power", "--baseline", "0.05", "--lift", "0.1") == 0
    assert capsys.readouterr().out == (
        "0.05 -> 0.055 (alpha 0.05, power 0.8): 31,234 visitors per variant, 62,468 in all\n"
    )
    assert run_cli("abtest", "power", "--baseline", "0.05", "--lift", "0") == 2
    assert "error: the lift must not be 0" in capsys.readouterr().err


def test_report_prints_the_verdict_and_writes_offline_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, config, out = tmp_path / "events.parquet", tmp_path / "serve.toml", tmp_path / "r.html"
    write_events(events)
    config.write_text(CONFIG)
    code = run_cli("abtest", "report", "exp", "--events", events, "--config", config, "--out", out)
    assert code == 0
    printed = capsys.readouterr().out
    assert "verdict: treat is better than control on conversion rate" in printed
    assert "sample ratio: chi2 0, p 1 (ok)" in printed
    page = out.read_text()
    assert "<h1>Experiment exp</h1>" in page and "treat is better than control" in page
    # plotly.js is inlined: no script is loaded from anywhere
    assert re.findall(r"<script[^>]*>", page) == ["<script>"] * 3
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # the library itself, ~4.8 MB


def test_report_without_config_takes_the_variants_from_the_exposures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAILOR_SETTINGS_FILE", raising=False)
    events = tmp_path / "events.parquet"
    write_events(events, visitors=200)
    assert run_cli("abtest", "report", "exp", "--events", events) == 0
    captured = capsys.readouterr()
    assert "variants from the exposures, control 'control', equal weights" in captured.err
    assert "verdict:" in captured.out
    assert run_cli("abtest", "report", "nope", "--events", events) == 2
    assert "no exposure of experiment 'nope'" in capsys.readouterr().err


def test_the_docs_worked_example_numbers() -> None:
    """docs/experiments.md's worked example: these are the numbers it prints."""
    from tailor.experiments.analysis import analyse, normalise_events
    from tailor.experiments.config import Experiment

    events = planted_events("ranker", {"control": 0.10, "popular": 0.13}, visitors=6000, days=6)
    experiment = Experiment.model_validate(
        {
            "name": "ranker",
            "attribution_window_s": 3600,
            "variants": [{"name": "control"}, {"name": "popular", "strategy": "popular"}],
        }
    )
    result = analyse(normalise_events(events), experiment)
    control, popular = result.variants
    assert (control.visitors, control.clicks, control.orders) == (3000, 1196, 306)
    assert (popular.visitors, popular.clicks, popular.orders) == (3000, 1207, 374)
    test = result.tests[("popular", "conversion")]
    assert round(test.p_fixed, 5) == 0.00559
    assert round(test.p_always_valid, 3) == 0.155
    path = result.timeline.loc[result.timeline["variant"] == "popular", "p_conversion"]
    assert [round(p, 2) for p in path] == [1.0, 1.0, 0.78, 0.51, 0.35, 0.35, 0.15]
