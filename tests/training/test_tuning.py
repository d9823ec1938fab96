"""Tuning: every sampler finds a planted optimum, pruning stops planted bad trials (a synthetic
objective and a real ALS), failures are recorded, and ALS/BPR report validation NDCG per epoch."""

from __future__ import annotations

import math
from typing import Any

import pytest
from training_helpers import planted_shop

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models import create_model
from tailor.models.base import FitOptions
from tailor.training.spaces import DEFAULT_SPACES, SearchSpace
from tailor.training.tuning import (
    ModelObjective,
    Pruned,
    TuningError,
    TuningSettings,
    optimize,
    tune_model,
)

pytest.importorskip("optuna")

SPACE = SearchSpace.from_table(
    {
        "x": {"low": 0.0, "high": 10.0, "grid": [1.0, 3.0, 5.0]},
        "y": {"low": 0.1, "high": 1000.0, "log": True, "grid": [1.0, 10.0, 100.0]},
        "c": {"choices": ["a", "b", "c"]},
        "fixed": 7,
    }
)
"""The planted optimum: x = 3, y = 10, c = "b" (objective 3)."""
DEFAULT_SPACES_RE = DEFAULT_SPACES["recency-ease"]


def planted(params: dict[str, Any], trial: Any) -> float:
    assert params["fixed"] == 7  # fixed parameters reach every trial
    bonus = 3.0 if params["c"] == "b" else 0.0
    return -((params["x"] - 3.0) ** 2) - (math.log10(params["y"]) - 1.0) ** 2 + bonus


@pytest.mark.parametrize(
    ("sampler", "trials", "tolerance"),
    [("tpe", 60, 0.5), ("random", 150, 1.0), ("grid", 27, 0.0), ("hyperopt", 100, 1.0)],
)
def test_every_sampler_finds_the_planted_optimum(sampler: str, trials: int, tolerance: float):
    if sampler == "hyperopt":
        pytest.importorskip("hyperopt")
    result = optimize(SPACE, planted, TuningSettings(sampler=sampler, trials=trials, seed=3))
    best = result.best_params
    assert best["c"] == "b"
    assert abs(best["x"] - 3.0) <= tolerance
    assert abs(math.log10(best["y"]) - 1.0) <= tolerance
    assert result.best_value >= 3.0 - 2 * tolerance**2
    assert result.counts["complete"] == len(result.trials) <= trials
    if sampler == "grid":  # the whole grid, each point once
        assert result.best_value == 3.0 and len(result.trials) == SPACE.grid_size() == 27


def test_start_points_are_the_first_trials():
    start = {"x": 9.0, "y": 500.0, "c": "a"}
    result = optimize(SPACE, planted, TuningSettings(trials=5, seed=0), starts=[start])
    first = result.trials[0]
    assert (first.params["x"], first.params["y"], first.params["c"]) == (9.0, 500.0, "a")


def test_conditional_and_optional_dimensions_in_every_sampler():
    space = SearchSpace.from_table(
        {
            "kind": {"choices": ["plain", "tuned"]},
            "alpha": {"low": 0.0, "high": 1.0, "when": {"kind": "tuned"}},
            "half_life": {"low": 1.0, "high": 100.0, "log": True, "optional": True},
            "floor": {"low": 0.0, "high": 0.5, "when": {"use_half_life": True}},
        }
    )
    seen: list[dict[str, Any]] = []

    def objective(params: dict[str, Any], trial: Any) -> float:
        seen.append(params)
        return float(params.get("alpha", 0.0)) + (params["half_life"] or 0.0) / 100.0

    for sampler in ("tpe", "random", "grid", "hyperopt"):
        seen.clear()
        optimize(space, objective, TuningSettings(sampler=sampler, trials=12, seed=0))
        for params in seen:
            assert ("alpha" in params) == (params["kind"] == "tuned"), (sampler, params)
            assert ("floor" in params) == (params["half_life"] is not None), (sampler, params)


def test_pruning_stops_trials_whose_epochs_are_planted_bad():
    """Good trials climb to about 0.9 over 10 epochs; bad ones stay at 0.1: after three good
    trials, the median pruner stops every bad one at its first epoch."""
    space = SearchSpace.from_table(
        {"bad": {"choices": [False, True]}, "r": {"low": 0.0, "high": 1.0}}
    )
    epochs_run: dict[int, int] = {}

    def objective(params: dict[str, Any], trial: Any) -> float:
        value = 0.0
        for epoch in range(1, 11):
            value = 0.1 if params["bad"] else 0.5 + 0.04 * epoch + 0.01 * params["r"]
            epochs_run[trial.number] = epoch
            trial.report(epoch, value)
        return value

    starts = [{"bad": b, "r": r / 10} for b, r in [(False, 1), (False, 2), (False, 3)]]
    starts += [{"bad": True, "r": r / 10} for r in (4, 5, 6)]
    settings = TuningSettings(sampler="random", trials=12, seed=0, prune_startup_trials=3)
    result = optimize(space, objective, settings, starts=starts)
    for t in result.trials:
        if t.params["bad"] and t.number >= 3:
            assert t.state == "pruned" and epochs_run[t.number] == 1, t
        if not t.params["bad"]:
            assert t.state == "complete" and epochs_run[t.number] == 10, t
    assert result.counts["pruned"] >= 3
    assert result.best_params["bad"] is False


def frame_of(n_users: int, per_user: int, seed: int) -> Any:
    """The planted shop as an interaction frame (user_id, item_id, timestamp)."""
    import pandas as pd

    frame = planted_shop(n_users=n_users, per_user=per_user, seed=seed).rename(
        columns={"customer": "user_id", "sku": "item_id", "time": "timestamp"}
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def test_pruning_stops_a_planted_bad_als():
    """ALS with a huge regularisation (factors squashed to ~0) reports a poor validation NDCG
    per epoch and is pruned early; well-regularised ALS runs every epoch."""
    pytest.importorskip("implicit")
    frame = frame_of(200, 8, 2)
    train, validation = frame.iloc[:1400], frame.iloc[1400:]
    space = SearchSpace.from_table(
        {"regularization": {"low": 1e-3, "high": 1e7, "log": True}, "factors": 16, "iterations": 8}
    )
    good = [{"regularization": r} for r in (0.01, 0.02, 0.05)]
    bad = [{"regularization": r} for r in (1e6, 2e6, 5e6)]
    settings = TuningSettings(sampler="random", trials=6, seed=0, prune_startup_trials=3)
    result = tune_model("als", train, validation, space=space, settings=settings, starts=good + bad)
    states = [(t.params["regularization"], t.state, len(t.intermediate)) for t in result.trials]
    assert [s for r, s, _ in states if r < 1] == ["complete"] * 3, states
    assert [s for r, s, _ in states if r > 1] == ["pruned"] * 3, states
    assert all(n == 8 for r, _, n in states if r < 1) and all(n < 8 for r, _, n in states if r > 1)
    assert result.best_params["regularization"] < 1


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_als_and_bpr_report_validation_ndcg_every_epoch(name: str):
    pytest.importorskip("implicit")
    frame = frame_of(120, 8, 1)
    reports: list[tuple[int, dict[str, float]]] = []
    model = create_model(name, {"iterations": 5, "factors": 8, "seed": 0})
    options = FitOptions(
        validation=frame.iloc[800:], on_epoch=lambda e, m: reports.append((e, dict(m)))
    )
    model.fit(Dataset.from_frame(frame.iloc[:800]), options)
    assert [e for e, _ in reports] == [1, 2, 3, 4, 5]
    for _, metrics in reports:
        assert 0.0 <= metrics["validation_ndcg@10"] <= 1.0
    assert len({m["validation_ndcg@10"] for _, m in reports}) > 1  # it moves with the epochs


def test_failed_trials_are_recorded_and_the_rest_goes_on():
    space = SearchSpace.from_table({"x": {"low": 0, "high": 9}})

    def objective(params: dict[str, Any], trial: Any) -> float:
        if params["x"] % 2:
            raise ValueError(f"odd {params['x']}")
        return float(params["x"])

    for sampler in ("random", "hyperopt"):
        result = optimize(space, objective, TuningSettings(sampler=sampler, trials=15, seed=0))
        failed = [t for t in result.trials if t.state == "failed"]
        assert failed and all("ValueError: odd" in (t.error or "") for t in failed)
        assert result.best_params["x"] % 2 == 0


def test_no_completed_trial_is_an_error():
    def objective(params: dict[str, Any], trial: Any) -> float:
        raise RuntimeError("broken")

    with pytest.raises(TuningError, match=r"no trial completed.*broken"):
        optimize(SearchSpace.from_table({"x": {"low": 0, "high": 3}}), objective)


def test_pruned_is_an_exception_an_objective_can_raise():
    def objective(params: dict[str, Any], trial: Any) -> float:
        if params["x"] > 1:
            raise Pruned("too big")
        return 1.0

    result = optimize(
        SearchSpace.from_table({"x": {"low": 0, "high": 3, "grid": [0, 1, 2, 3]}}),
        objective,
        TuningSettings(sampler="grid", trials=4),
    )
    assert result.counts == {"complete": 2, "pruned": 2, "failed": 0}


def test_model_objective_pickles_without_its_cache():
    import pickle

    frame = frame_of(40, 5, 0)
    objective = ModelObjective("ease", frame.iloc[:150], frame.iloc[150:])
    objective.prepared()
    copy = pickle.loads(pickle.dumps(objective))
    assert copy._cache == {} and copy.model == "ease"


def test_without_optuna_a_plain_random_search_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core install (no train extra) still tunes: start points, then seeded random
    samples (what `tailor demo` from a bare wheel runs)."""
    import tailor.training.tuning as tuning

    monkeypatch.setattr(tuning, "_has", lambda module: False)
    space = DEFAULT_SPACES_RE
    seen: list[dict[str, Any]] = []

    def objective(params: dict[str, Any], trial: Any) -> float:
        seen.append(params)
        return -abs(params["regularization"] - 100.0)

    start = {"regularization": 430.0, "gram_half_life_days": 9.0}
    result = optimize(space, objective, TuningSettings(trials=30, seed=0), starts=[start])
    assert result.study is None and result.counts["complete"] == 30
    assert seen[0]["regularization"] == 430.0 and seen[0]["gram_half_life_days"] == 9.0
    for params in seen:
        assert ("profile_floor" in params) == (params["profile_half_life"] is not None)
    assert abs(result.best_params["regularization"] - 100.0) < 50.0
    with pytest.raises(ConfigError, match="needs Optuna"):
        optimize(space, objective, TuningSettings(workers=2))


def test_tailor_tune_command(tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from tailor.cli import cli

    frame = frame_of(120, 8, 3)
    frame.iloc[:700].to_parquet(tmp_path / "train.parquet", index=False)
    frame.iloc[700:].to_parquet(tmp_path / "validation.parquet", index=False)
    space = tmp_path / "space.toml"
    space.write_text("[space]\nregularization = { low = 1.0, high = 1000.0, log = true }\n")
    out = tmp_path / "tuned"
    args = ["tune", "--model", "ease", "--train", str(tmp_path / "train.parquet")]
    args += ["--validation", str(tmp_path / "validation.parquet"), "--space", str(space)]
    result = CliRunner().invoke(cli, [*args, "--trials", "4", "--param", "binary=true"])
    assert result.exit_code == 0, result.output
    assert "Fit it: tailor fit --train TRAIN --model ease" in result.output
    result = CliRunner().invoke(cli, [*args, "--trials", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    tuned = json.loads((out / "tuning.json").read_text())
    assert len(tuned["trials"]) == 4 and 1.0 <= tuned["best_params"]["regularization"] <= 1000
    assert "ease: optimisation history" in (out / "report.html").read_text()
    bad = CliRunner().invoke(cli, [*args, "--param", "regularisation=3"])
    assert isinstance(bad.exception, ConfigError)  # tailor's main prints it as one line, exit 2
    assert "unknown parameters ['regularisation']" in str(bad.exception)
