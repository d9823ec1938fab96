"""`tailor train` end to end on a planted shop: a better model is accepted and published, a worse
one refused (the served version stays; --force publishes it, logged), unchanged stages are
skipped, and scheduled retraining runs cycles whose second is refused on degraded data."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from training_helpers import planted_shop, train_toml, write_source

from tailor.cli import cli
from tailor.models.artifacts import read_manifest
from tailor.serving.registry import ModelRegistry
from tailor.training.config import TrainConfig, parse_config
from tailor.training.pipeline import STAGES, parse_every, train, train_every

SHUFFLED_BEFORE = pd.Timestamp("2024-01-01") + pd.Timedelta(days=47)
"""Degraded data: item ids shuffled in every row before this (the training side of a 12-day
test period at the end of 60 days); the test period stays genuine."""


def config_for(source: Path, root: Path, **kwargs: Any) -> TrainConfig:
    return parse_config(tomllib.loads(train_toml(source, **kwargs)), root)


def statuses(summary: Any) -> dict[str, str]:
    return {s.name: s.status for s in summary.stages}


def test_a_better_model_is_published_and_unchanged_stages_are_skipped(
    shop: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    config = config_for(shop, tmp_path, registry=store)
    run = tmp_path / "run"
    first = train(config, run)
    assert set(statuses(first).values()) == {"ran"}
    assert first.chosen == "ease" and first.gate is not None and first.gate.passed
    registry = ModelRegistry(store)
    assert first.published is not None and registry.active() == first.published == first.active
    gate = json.loads((run / "gate.json").read_text())
    assert gate["verdict"] == "accepted" and {c["name"] for c in gate["checks"]} == {
        "beats popularity",
        "beats the active model",
        "coverage not collapsed",
        "no NaN scores",
        "latency",
    }
    published = read_manifest(registry.path(first.published))
    assert published["gate"]["verdict"] == "accepted"
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert published["metrics"]["ndcg@10"] == metrics["ndcg@10"]
    tested = (run / "evaluation" / "report.html").read_text()
    assert "Explanations: global importances (items)" in tested  # EASE's item attributions
    assert first.test["ease"]["ndcg@10"] > 3 * first.test["popularity"]["ndcg@10"]
    page = (run / "report.html").read_text()
    for title in ("optimisation history", "parameter importances", "parallel coordinates"):
        assert f"ease: {title}" in page
    assert page.count("plotly.js v") == 1 and '<script src="http' not in page  # inlined once

    again = train(config, run)  # nothing changed: every stage but the report is skipped
    assert statuses(again) == dict.fromkeys(STAGES, "skipped") | {"report": "ran"}
    assert registry.active() == first.published and again.published is None

    stricter = config.model_copy(
        update={"gate": config.gate.model_copy(update={"latency_budget_ms": 150.0})}
    )
    third = train(stricter, run)  # only the gate's section changed: the gate and after rerun
    assert statuses(third) == {
        "prepare": "skipped",
        "split": "skipped",
        "tune": "skipped",
        "refit": "skipped",
        "evaluate": "skipped",
        "gate": "ran",
        "publish": "ran",
        "report": "ran",
    }
    frame = pd.read_csv(shop.parent / "events.csv")
    frame.iloc[:-1].to_csv(shop.parent / "events.csv", index=False)  # one row less
    fourth = train(stricter, run)
    assert statuses(fourth)["prepare"] == "ran" and statuses(fourth)["split"] == "ran"
    history = (run / "history.jsonl").read_text().splitlines()
    assert len(history) == 4 and json.loads(history[0])["verdict"] == "accepted"


def test_a_worse_model_is_refused_and_the_served_version_stays(tmp_path: Path) -> None:
    good = write_source(tmp_path / "good", planted_shop())
    bad = write_source(tmp_path / "bad", planted_shop(shuffled_before=SHUFFLED_BEFORE))
    store = tmp_path / "store"
    served = train(config_for(good, tmp_path, registry=store), tmp_path / "run-good")
    assert served.gate is not None and served.gate.passed
    registry = ModelRegistry(store)

    worse = train(config_for(bad, tmp_path, registry=store), tmp_path / "run-bad")
    assert worse.gate is not None and worse.gate.verdict == "refused"
    reasons = " ".join(worse.gate.reasons)
    assert "beats the active model" in reasons
    assert worse.published is None and registry.active() == served.published
    assert registry.versions() == [served.published]
    gate = json.loads((tmp_path / "run-bad" / "gate.json").read_text())
    active_check = next(c for c in gate["checks"] if c["name"] == "beats the active model")
    assert active_check["numbers"]["candidate"] < active_check["numbers"]["other"]
    assert worse.test["active"]["ndcg@10"] > worse.test["ease"]["ndcg@10"]

    forced = train(config_for(bad, tmp_path, registry=store), tmp_path / "run-bad", force_gate=True)
    assert forced.gate is not None and forced.gate.forced and forced.published is not None
    assert registry.active() == forced.published != served.published
    assert json.loads((tmp_path / "run-bad" / "gate.json").read_text())["verdict"] == "forced"
    assert read_manifest(registry.path(forced.published))["gate"]["forced"] is True


def test_a_better_model_than_the_served_one_is_accepted(tmp_path: Path) -> None:
    good = write_source(tmp_path / "good", planted_shop())
    bad = write_source(tmp_path / "bad", planted_shop(shuffled_before=SHUFFLED_BEFORE))
    store = tmp_path / "store"
    weak = train(config_for(bad, tmp_path, registry=store), tmp_path / "weak", force_gate=True)
    better = train(config_for(good, tmp_path, registry=store), tmp_path / "better")
    assert better.gate is not None and better.gate.passed
    check = next(c for c in better.gate.checks if c.name == "beats the active model")
    assert check.numbers["other"] == pytest.approx(better.test["active"]["ndcg@10"])
    assert check.numbers["significant"] is True
    assert ModelRegistry(store).active() == better.published != weak.published


def test_scheduled_retraining_refuses_a_degraded_second_cycle(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    source = write_source(folder, planted_shop())
    store = tmp_path / "store"
    config = config_for(source, tmp_path, registry=store)

    def fresh_data(cycle: int) -> None:
        if cycle == 1:  # the second cycle's export arrives degraded
            planted_shop(shuffled_before=SHUFFLED_BEFORE).to_csv(folder / "events.csv", index=False)

    sleeps: list[float] = []
    cycles = train_every(
        config, tmp_path / "run", 3600.0, cycles=2, before_cycle=fresh_data, sleep=sleeps.append
    )
    assert len(cycles) == 2 and len(sleeps) == 1 and 3500 < sleeps[0] <= 3600
    first, second = cycles
    assert first.gate is not None and first.gate.passed and first.published is not None
    assert second.gate is not None and second.gate.verdict == "refused"
    assert statuses(second)["prepare"] == "ran"  # fresh data: the stages ran again
    assert second.published is None
    assert ModelRegistry(store).active() == first.published == second.active
    history = [
        json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().split("\n") if x
    ]
    assert [h["verdict"] for h in history] == ["accepted", "refused"]


def test_tailor_train_command_every_and_cycles(shop: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.toml"
    config.write_text(train_toml(shop, registry=tmp_path / "store"))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["train", "--config", str(config), "--out", str(out), "--every", "0.1s", "--cycles", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "Cycle 1 of 2" in result.output and "Cycle 2 of 2" in result.output
    assert "unchanged inputs, skipped" in result.output  # the second cycle: same data
    assert "Gate: accepted" in result.output
    single = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(out)])
    assert single.exit_code == 0, single.output
    for word in ("Stages", "Test period", "Active (served)", "report.html"):
        assert word in single.output


def test_tailor_train_exits_3_when_the_gate_refuses(tmp_path: Path) -> None:
    bad = write_source(tmp_path / "bad", planted_shop(shuffled_before=SHUFFLED_BEFORE))
    config = tmp_path / "train.toml"
    config.write_text(train_toml(bad, gate="popularity_margin = 5.0"))
    out = str(tmp_path / "r")
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", out])
    assert result.exit_code == 3, result.output
    assert "Gate: refused" in result.output and "beats popularity" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("2.5", 2.5)]
)
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


BAD_SPACE = '[[candidates]]\nmodel = "ease"\nspace = { regularisation = { low = 1.0, high = 2.0 } }'


def test_bad_configs_are_one_clear_error(tmp_path: Path, shop: Path) -> None:
    from tailor.errors import ConfigError
    from tailor.training.config import load_config

    path = tmp_path / "bad.toml"
    path.write_text(train_toml(shop, candidates=BAD_SPACE))
    unknown = r"candidate 'ease'.*unknown parameters \['regularisation'\]"
    with pytest.raises(ConfigError, match=unknown):
        load_config(path)
    path.write_text(train_toml(shop, sampler="bayes"))
    with pytest.raises(ConfigError, match="sampler must be one of"):
        load_config(path)


def test_a_run_is_logged_to_mlflow_when_tracking_is_enabled(shop: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from tailor.training.tracking import client

    extra = '[tracking]\nenabled = true\nexperiment = "planted"\n'
    config = config_for(shop, tmp_path, extra=extra)
    summary = train(config, tmp_path / "run")  # no uri: a SQLite store in RUN/mlruns
    run_id = summary.tracking["run_id"]
    run = client(store=tmp_path / "run" / "mlruns").get_run(run_id)
    assert run.data.tags["tailor.gate"] == summary.gate.verdict if summary.gate else False
    assert run.data.metrics["test_ndcg_at_10"] == pytest.approx(summary.test["ease"]["ndcg@10"])
    assert run.data.tags["tailor.objective"] == "validation"  # tuned on one validation split
    assert not any(k.startswith("backtest_") for k in run.data.metrics)
    again = train(config, tmp_path / "run")  # nothing ran: nothing new is logged
    assert again.tracking == {}
