"""Backtests (tailor.training.backtest, ``tailor backtest``): periods cut honestly, each period's
score equal to fitting and evaluating by hand at that origin, the mean and interval over periods,
the tuning objective, period-by-period comparisons, and the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tailor.data.dataset import Dataset
from tailor.data.split import temporal_split
from tailor.errors import ConfigError, DataError
from tailor.evaluation import evaluate_model
from tailor.evaluation.truth import unseen_only
from tailor.models.popular import Popularity
from tailor.models.registry import create_model
from tailor.testing.cli import run_cli
from tailor.training.backtest import (
    BacktestPlan,
    backtest,
    backtest_objective,
    compare_backtests,
    default_origins,
    interval_over_periods,
    parse_horizon,
)


def shop_log(seed: int = 0, n_users: int = 120, n_items: int = 40) -> pd.DataFrame:
    """Six months of purchases: each user buys mostly from one of four item groups."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n_users)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for user in range(n_users):
        for _ in range(int(rng.integers(6, 20))):
            own = rng.random() < 0.8
            lo = group[user] * 10 if own else 0
            item = int(rng.integers(lo, lo + 10)) if own else int(rng.integers(0, n_items))
            day = float(rng.uniform(0, 182))
            rows.append((f"u{user}", f"i{item}", start + pd.Timedelta(days=day)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["event_type"] = "purchase"
    frame["value"] = 1.0
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return shop_log()


def test_horizons_and_default_origins() -> None:
    assert parse_horizon("1m") == pd.DateOffset(months=1)
    assert parse_horizon("30d") == pd.DateOffset(days=30)
    assert parse_horizon("2w") == pd.DateOffset(days=14)
    with pytest.raises(ConfigError, match="horizon"):
        parse_horizon("soon")
    # Online Retail ends on 2011-12-09: the last four complete calendar months
    times = pd.Series(pd.to_datetime(["2010-12-01 08:26", "2011-12-09 12:50"]))
    assert default_origins(times, 4) == [pd.Timestamp(f"2011-{m:02d}-01") for m in (8, 9, 10, 11)]
    # days: counted back from the day after the last timestamp
    assert default_origins(times, 2, "30d") == [
        pd.Timestamp("2011-10-11"),
        pd.Timestamp("2011-11-10"),
    ]
    with pytest.raises(DataError, match="too short"):
        default_origins(times, 20)


def test_periods_cut_honestly(log: pd.DataFrame) -> None:
    plan = BacktestPlan.build(log, n_periods=3)
    assert plan.origins == [pd.Timestamp(f"2024-{m:02d}-01") for m in (4, 5, 6)]
    for period in plan.periods:
        assert period.end == period.origin + pd.DateOffset(months=1)
        assert period.train["timestamp"].max() < period.origin  # nothing from the future
        assert period.split.test["timestamp"].min() >= period.origin
        assert period.split.test["timestamp"].max() < period.end
        # the truth: novel pairs of users known at the origin, once each
        seen = set(zip(period.train["user_id"], period.train["item_id"], strict=True))
        pairs = list(zip(period.truth["user_id"], period.truth["item_id"], strict=True))
        assert pairs and not set(pairs) & seen and len(pairs) == len(set(pairs))
        assert set(period.truth["user_id"]) <= set(period.train["user_id"])
    # a window trains on the last stretch only
    windowed = BacktestPlan.build(log, ["2024-05-01"], window="30d")
    train = windowed.periods[0].train
    assert train["timestamp"].min() >= pd.Timestamp("2024-04-01")


def test_each_period_equals_fitting_and_evaluating_by_hand(log: pd.DataFrame) -> None:
    """The guarantee: a period's score is what fit + evaluate_model at that cut gives."""
    origins = ["2024-04-01", "2024-05-15"]
    result = backtest(log, "ease", {"regularization": 50.0}, origins, horizon="30d", k=(5, 10))
    assert [p.origin for p in result.periods] == [pd.Timestamp(o) for o in origins]
    for period in result.periods:
        window = log.loc[log["timestamp"] < period.origin + pd.Timedelta(days=30)]
        split = temporal_split(window, cut=period.origin)
        truth = unseen_only(split.test, split.train)
        truth = truth.loc[truth["user_id"].isin(set(split.train["user_id"]))]
        data = Dataset.from_frame(split.train)
        model = create_model("ease", {"regularization": 50.0, "seed": 0}).fit(data)
        expected = evaluate_model(
            model,
            split,
            (5, 10),
            n=10,
            truth_filter=lambda _t, truth=truth: truth,
            fallback=Popularity().fit(data),
            train=split.train,
        )
        for key in ("ndcg@10", "recall@10", "precision@5", "hit_rate@10"):
            assert period.metrics[key] == pytest.approx(expected.metrics[key], abs=1e-12)
        assert period.users == expected.metrics["n_users"]
        assert period.train_rows == len(split.train)


def test_mean_and_interval_over_periods(log: pd.DataFrame) -> None:
    result = backtest(log, "itemknn", {"k": 20}, n_periods=3)
    values = result.values()
    assert len(values) == 3 and np.isfinite(values).all()
    assert result.mean == pytest.approx(values.mean())
    assert result.std == pytest.approx(values.std(ddof=1))
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (values.mean() - half, values.mean() + half)
    )
    table = result.table()
    assert table["ndcg@10"].tolist() == pytest.approx(values.tolist())
    assert list(table["origin"]) == [p.origin for p in result.periods]
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["mean"] == pytest.approx(result.mean) and len(as_json["periods"]) == 3
    # the bootstrap over periods stays inside the range of the values
    low, high = interval_over_periods(values, method="bootstrap")
    assert values.min() <= low <= high <= values.max()
    assert math.isnan(interval_over_periods([0.3])[0])


def test_objective_is_the_mean_over_periods(log: pd.DataFrame) -> None:
    plan = BacktestPlan.build(log, n_periods=2)
    score = backtest_objective(plan, "ease")
    a, b = score({"regularization": 5.0}), score({"regularization": 5000.0})
    assert a == pytest.approx(plan.run("ease", {"regularization": 5.0}).mean)
    assert a != b
    worst = plan.objective("ease", aggregate="min")({"regularization": 5.0})
    assert worst == pytest.approx(plan.run("ease", {"regularization": 5.0}).values().min())
    # cut from a frame too, with the plan's options
    assert backtest_objective(log, "ease", n_periods=2)({"regularization": 5.0}) == pytest.approx(a)
    with pytest.raises(ConfigError):
        score({"no_such_parameter": 1})


def test_compare_backtests_period_by_period(log: pd.DataFrame) -> None:
    plan = BacktestPlan.build(log, n_periods=3)
    pop = plan.run("popularity")
    ease = plan.run("ease", {"regularization": 20.0})
    cmp = compare_backtests(pop, ease)
    assert cmp.periods["difference"].tolist() == pytest.approx(
        (ease.values() - pop.values()).tolist()
    )
    assert cmp.mean_difference == pytest.approx((ease.values() - pop.values()).mean())
    assert cmp.b_wins == int((ease.values() > pop.values()).sum())
    assert {"t_pvalue", "wilcoxon_pvalue", "ci_low"} <= set(cmp.periods.columns)
    assert cmp.relative_min <= cmp.relative <= cmp.relative_max
    json.dumps(cmp.to_dict())
    other = BacktestPlan.build(log, n_periods=2).run("popularity")
    with pytest.raises(ConfigError, match="different origins"):
        compare_backtests(pop, other)


def test_lists_from_outside_tailor_use_the_same_truth(log: pd.DataFrame) -> None:
    plan = BacktestPlan.build(log, n_periods=2)
    inside = plan.run("popularity")

    def popular(period, users, n):  # a "peer": the same popularity, built by hand
        model = Popularity().fit(Dataset.from_frame(period.train))
        return model.recommend(users, n=n)

    outside = plan.run_lists("hand-made popularity", popular)
    assert outside.values() == pytest.approx(inside.values())


def test_bad_options(log: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="cold_users"):
        BacktestPlan.build(log, cold_users="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a date"):
        BacktestPlan.build(log, ["someday"])
    with pytest.raises(DataError, match="2023-01-01"):
        BacktestPlan.build(log, ["2023-01-01"])  # nothing to train on
    with pytest.raises(ConfigError, match="unknown metric"):
        backtest(log, "popularity", n_periods=1, metric="ndcg@7")


def test_backtest_command(
    tmp_path: Path,
    log: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    log.to_parquet(prepared / "interactions.parquet", index=False)
    out = tmp_path / "bt"
    args = ["backtest", prepared, "--model", "ease", "--param", "regularization=20"]
    args += ["--periods", "3", "--baseline", "popularity", "--out", out]
    assert run_cli(*args) == 0
    printed = capsys.readouterr().out
    assert "mean ndcg@10" in printed and "vs popularity" in printed
    record = json.loads((out / "backtest.json").read_text())
    expected = backtest(log, "ease", {"regularization": 20}, n_periods=3)
    assert record["result"]["mean"] == pytest.approx(expected.mean)
    assert [p["origin"][:10] for p in record["result"]["periods"]] == [
        "2024-04-01",
        "2024-05-01",
        "2024-06-01",
    ]
    assert record["comparison"]["a"] == "popularity"
    periods = pd.read_csv(out / "periods.csv")
    assert len(periods) == 3 and "baseline_ndcg@10" in periods.columns
    # bad input: one line, exit status 2
    assert run_cli("backtest", prepared, "--model", "nope", "--out", tmp_path / "x") == 2
    assert "nope" in capsys.readouterr().err
    assert run_cli("backtest", prepared, "--model", "ease", "--origin", "2023-01-01",
               "--out", tmp_path / "y") == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2023-01-01" in err[0]
