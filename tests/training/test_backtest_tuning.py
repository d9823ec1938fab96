"""Tuning over backtest periods (``objective = "backtest"``): each trial's value is the mean of
the metric over rolling periods, each period's value is kept with the trial, and on a planted
shop whose last month misleads, tuning on one validation split and tuning over periods choose
different settings: the backtest picks the one that holds across time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from training_helpers import SOURCE_TOML

from tailor.errors import ConfigError, DataError
from tailor.testing.cli import run_cli
from tailor.training.backtest import BacktestPlan
from tailor.training.config import parse_config
from tailor.training.pipeline import backtest_metrics, train
from tailor.training.spaces import SearchSpace
from tailor.training.tuning import PERIODS_ATTR, TuningSettings, tune_model

START = pd.Timestamp("2024-01-01")
WEEK5 = START + pd.Timedelta(days=35)
RECENT, ALL_TIME = 1.0, 1000.0
SPACE = SearchSpace.from_table({"half_life_days": {"choices": [RECENT, ALL_TIME]}})
GRID = TuningSettings(sampler="grid", trials=2, seed=0)


def drifting_shop() -> pd.DataFrame:
    """Classics c1..c5 (all-time best-sellers, c1 first) bought in week 0; 20 customers with
    one earlier purchase each; before each week w = 1..5 a one-day fad (fad<w>, 30 sales on the
    last day of week w - 1, fewer than any classic's all-time sales). In weeks 1-4 the customers
    buy the classic c<w>, in week 5 the fad: the most recent popularity (half-life 1 day) ranks
    the fad first and wins week 5 only; all-time popularity wins weeks 1-4."""
    rows: list[tuple[str, str, pd.Timestamp]] = []

    def buy(user: str, item: str, day: int, hour: int = 12) -> None:
        rows.append((user, item, START + pd.Timedelta(days=day, hours=hour)))

    b = 0
    for item, n in {"c1": 60, "c2": 55, "c3": 50, "c4": 45, "c5": 40}.items():
        for _ in range(n):
            buy(f"b{b % 70}", item, b % 7, hour=b % 24)
            b += 1
    for u in range(20):
        buy(f"u{u}", "h", 0)
    for w in range(1, 6):
        for j in range(30):
            buy(f"f{w}b{j}", f"fad{w}", 7 * w - 1, hour=j % 24)
        for u in range(20):
            buy(f"u{u}", f"c{w}" if w < 5 else f"fad{w}", 7 * w + 1 + u % 5)
    buy("b0", "c1", 41, hour=1)  # the data end on day 41: weekly periods from day 42 back
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"], frame["value"] = "purchase", 1.0
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def test_the_backtest_objective_picks_the_setting_that_holds_across_periods() -> None:
    frame = drifting_shop()
    train_part = frame.loc[frame["timestamp"] < WEEK5]
    validation = frame.loc[frame["timestamp"] >= WEEK5]

    one_split = tune_model(
        "popularity", train_part, validation, space=SPACE, settings=GRID, starts=[]
    )
    over_periods = tune_model(
        "popularity", train_part, validation, space=SPACE, settings=GRID, starts=[],
        objective="backtest", periods=4, horizon="7d",
    )  # fmt: skip

    # validation (week 5 only): the recent fad list wins; over four weekly periods: all-time
    assert one_split.best_params == {"half_life_days": RECENT}
    assert over_periods.best_params == {"half_life_days": ALL_TIME}
    # each trial's periods, by origin, equal a backtest of the same setting on the same data
    plan = BacktestPlan.build(frame, n_periods=4, horizon="7d", k=(10,), novel_only=False)
    origins = ["2024-01-15", "2024-01-22", "2024-01-29", "2024-02-05"]
    assert [f"{o:%Y-%m-%d}" for o in plan.origins] == origins
    for trial in over_periods.trials:
        expected = plan.run("popularity", trial.params, seed=0)
        periods = trial.attrs[PERIODS_ATTR]
        assert list(periods) == origins
        assert list(periods.values()) == expected.values().tolist()
        assert trial.value == pytest.approx(float(np.mean(list(periods.values()))), abs=1e-15)
    by_setting = {t.params["half_life_days"]: t.attrs[PERIODS_ATTR] for t in over_periods.trials}
    # all-time: the week's classic is the first unseen item of the list in weeks 1-4
    assert list(by_setting[ALL_TIME].values())[:3] == [1.0, 1.0, 1.0]
    # week 5 of the backtest is the validation split: the same score either way
    assert by_setting[RECENT]["2024-02-05"] == pytest.approx(one_split.best_value, abs=1e-12)
    assert by_setting[RECENT]["2024-02-05"] > by_setting[ALL_TIME]["2024-02-05"]
    assert over_periods.best_value == pytest.approx(np.mean(list(by_setting[ALL_TIME].values())))
    assert over_periods.best_attrs == {PERIODS_ATTR: by_setting[ALL_TIME]}
    frame_out = over_periods.trials_frame()
    assert [c for c in frame_out.columns if c.startswith("period:")] == [
        f"period:{o}" for o in origins
    ]
    assert (
        over_periods.to_dict()["trials"][0]["attrs"][PERIODS_ATTR]
        == (over_periods.trials[0].attrs[PERIODS_ATTR])
    )


def test_backtest_objective_options_are_checked_before_any_trial() -> None:
    frame = drifting_shop()
    with pytest.raises(DataError, match="too short for 9 periods"):
        tune_model("popularity", frame, None, space=SPACE, settings=GRID,
                   objective="backtest", periods=9, horizon="7d")  # fmt: skip
    with pytest.raises(ConfigError, match="horizon"):
        tune_model("popularity", frame, None, space=SPACE, settings=GRID,
                   objective="backtest", horizon="fortnight")  # fmt: skip
    with pytest.raises(ConfigError, match="needs validation data"):
        tune_model("popularity", frame, None, space=SPACE, settings=GRID)
    with pytest.raises(ConfigError, match="unknown objective 'test'"):
        tune_model("popularity", frame, frame, space=SPACE, settings=GRID, objective="test")  # type: ignore[arg-type]


def _source(folder: Path) -> Path:
    shop = drifting_shop().rename(columns={"user_id": "customer", "item_id": "sku"})
    shop["time"] = shop.pop("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S")
    folder.mkdir(parents=True, exist_ok=True)
    shop[["customer", "sku", "time"]].to_csv(folder / "events.csv", index=False)
    (folder / "shop.toml").write_text(SOURCE_TOML)
    return folder / "shop.toml"


def _config(source: Path, tuning: str) -> str:
    return f"""
name = "drift"
[source]
name = "generic"
config = "{source}"
[split]
strategy = "temporal"
cut = "2024-02-05"
[[candidates]]
model = "popularity"
space = {{ half_life_days = {{ choices = [{RECENT}, {ALL_TIME}] }} }}
starts = []
[tuning]
sampler = "grid"
trials = 2
seed = 0
{tuning}
"""


def test_tailor_train_tunes_over_periods_from_its_config(tmp_path: Path) -> None:
    import tomllib

    source = _source(tmp_path / "shop")
    table = tomllib.loads(_config(source, 'objective = "backtest"\nperiods = 3\nhorizon = "7d"'))
    config = parse_config(table, tmp_path)
    assert (config.tuning.objective, config.tuning.periods, config.tuning.horizon) == (
        "backtest", 3, "7d",
    )  # fmt: skip
    summary = train(config, tmp_path / "run")
    selection = json.loads((tmp_path / "run" / "tuning" / "selection.json").read_text())
    assert selection["objective"] == {"name": "backtest", "periods": 3, "horizon": "7d"}
    assert selection["params"] == {"half_life_days": ALL_TIME}
    # the periods are those of train + validation (data before the test cut), never the test
    from tailor.data.split import Split

    split = Split.load(tmp_path / "run" / "split")
    plan = BacktestPlan.build(split.fit_frame(), n_periods=3, horizon="7d", k=(10,),
                              novel_only=False)  # fmt: skip
    expected = plan.run("popularity", {"half_life_days": ALL_TIME}, seed=0)
    assert selection["periods"] == dict(
        zip([f"{o:%Y-%m-%d}" for o in plan.origins], expected.values().tolist(), strict=True)
    )
    assert list(selection["periods"]) == ["2024-01-15", "2024-01-22", "2024-01-29"]
    assert selection["validation"]["popularity"] == pytest.approx(expected.mean, abs=1e-15)
    assert "over 3 backtest periods" in summary.stage("tune").summary  # type: ignore[union-attr]
    trials = pd.read_csv(tmp_path / "run" / "tuning" / "popularity-trials.csv")
    assert [c for c in trials.columns if c.startswith("period:")] == [
        "period:2024-01-15", "period:2024-01-22", "period:2024-01-29",
    ]  # fmt: skip
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Candidates (mean ndcg@10 over 3 backtest periods of 7d)" in report
    # MLflow gets the chosen setting's periods and their mean like the other metrics (log_run's
    # extra_metrics: tests/training/test_tracking.py)
    assert backtest_metrics(selection) == {
        **{f"backtest_ndcg@10_{o}": v for o, v in selection["periods"].items()},
        "backtest_mean_ndcg@10": selection["validation"]["popularity"],
    }
    assert backtest_metrics({"periods": {}, "validation": {"x": 0.5}, "best": "x"}) == {}


@pytest.mark.parametrize(
    ("tuning", "message"),
    [
        ('objective = "test"', "objective must be one of validation, backtest"),
        ('objective = "backtest"\nperiods = 0', "periods"),
        ('objective = "backtest"\nhorizon = "soon"', "horizon 'soon'"),
    ],
)
def test_bad_backtest_options_in_a_config(tmp_path: Path, tuning: str, message: str) -> None:
    import tomllib

    table = tomllib.loads(_config(tmp_path / "shop.toml", tuning))
    with pytest.raises(ConfigError, match=message):
        parse_config(table, tmp_path)


def test_tailor_tune_objective_backtest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = drifting_shop()
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    space = tmp_path / "space.toml"
    space.write_text(f"[space]\nhalf_life_days = {{ choices = [{RECENT}, {ALL_TIME}] }}\n")
    out = tmp_path / "tuned"
    args = ["tune", "--model", "popularity", "--train", tmp_path / "train.parquet"]
    args += ["--space", space, "--sampler", "grid", "--trials", "2", "--seed", "0"]
    status = run_cli(*args, "--objective", "backtest", "--periods", "4", "--horizon", "7d",
                     "--out", out)  # fmt: skip
    output = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert status == 0, output
    assert "each scored by mean ndcg@10 over 4 backtest periods of 7d" in output
    tuned = json.loads((out / "tuning.json").read_text())
    assert tuned["best_params"] == {"half_life_days": ALL_TIME}
    best = next(t for t in tuned["trials"] if t["params"] == tuned["best_params"])
    assert list(best["attrs"][PERIODS_ATTR]) == [
        "2024-01-15", "2024-01-22", "2024-01-29", "2024-02-05",
    ]  # fmt: skip
    assert "per period: 2024-01-15 1.0000, 2024-01-22 1.0000, 2024-01-29 1.0000" in output
    # the validation objective still needs validation data
    assert run_cli(*args) == 2
    assert "--validation" in capsys.readouterr().err


def test_tailor_train_objective_and_periods_override_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _source(tmp_path / "shop")
    config = tmp_path / "train.toml"
    config.write_text(_config(source, 'horizon = "7d"'))  # objective: validation (default)
    out = tmp_path / "run"
    status = run_cli("train", "--config", config, "--out", out, "--objective", "backtest",
                     "--periods", "2")  # fmt: skip
    output = " ".join(capsys.readouterr().out.split())
    assert status == 3, output  # the chosen model is popularity: the gate refuses it
    assert "Tuning each candidate over backtest periods (train + validation)" in output
    selection = json.loads((out / "tuning" / "selection.json").read_text())
    assert selection["objective"] == {"name": "backtest", "periods": 2, "horizon": "7d"}
    assert list(selection["periods"]) == ["2024-01-22", "2024-01-29"]
