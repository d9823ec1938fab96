"""Search spaces: TOML round trip, the default spaces written out in configs/pipelines/*.toml,
the same samples as the benchmark's define-by-run spaces, validation against the model."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tailor.errors import ConfigError
from tailor.models.registry import MODELS
from tailor.training.spaces import (
    BENCH_STARTS,
    DEFAULT_SPACES,
    Dimension,
    SearchSpace,
    default_space,
    default_start,
    flatten_hyperopt,
)

PIPELINES = Path(__file__).resolve().parents[2] / "configs" / "pipelines"


@pytest.mark.parametrize("name", sorted(DEFAULT_SPACES))
def test_default_space_round_trips_and_names_real_parameters(name: str) -> None:
    space = DEFAULT_SPACES[name]
    assert SearchSpace.from_table(space.to_table()) == space
    space.check(name)  # every parameter is one of the model's
    assert set(BENCH_STARTS[name]) <= set(space.grid())


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.toml")), ids=lambda p: p.stem)
def test_pipeline_configs_write_out_the_default_space(path: Path) -> None:
    table = tomllib.loads(path.read_text())
    assert SearchSpace.from_table(table["space"]) == DEFAULT_SPACES[table["model"]]


def test_a_search_starts_from_the_model_defaults() -> None:
    from tailor.models import create_model

    for name, space in DEFAULT_SPACES.items():
        start = space.resolve(default_start(name, space))
        config = create_model(name, {**space.fixed, **start}).config
        default = create_model(name, dict(space.fixed)).config
        assert config == default, name


def test_every_model_has_a_default_space() -> None:
    assert set(DEFAULT_SPACES) == set(MODELS)
    assert default_space("ease") is DEFAULT_SPACES["ease"]
    with pytest.raises(ConfigError, match="unknown model"):
        default_space("nope")


def test_switches_and_conditions_resolve_to_model_parameters() -> None:
    space = DEFAULT_SPACES["recency-ease"]
    params = space.resolve(
        {
            "regularization": 300.0,
            "use_gram_half_life_days": False,
            "use_profile_half_life": True,
            "profile_half_life": 4.0,
            "profile_floor": 0.1,
            "use_popularity_weight": False,
        }
    )
    assert params == {
        "regularization": 300.0,
        "gram_half_life_days": None,
        "profile_half_life": 4.0,
        "popularity_weight": 0.0,  # the switch off gives `off`
        "profile_floor": 0.1,
    }
    # plain parameters (e.g. a start point from a config) get their switches
    raw = space.raw_of({"regularization": 430.0, "gram_half_life_days": 9.0})
    assert raw == {
        "regularization": 430.0,
        "use_gram_half_life_days": True,
        "gram_half_life_days": 9.0,
        "use_profile_half_life": False,
        "use_popularity_weight": False,
    }


def test_the_benchmark_samples_the_same_points() -> None:
    """bench/accuracy/spaces.py takes its tailor spaces from the library: the same TPE seed
    gives the same trials as the hand-written define-by-run space it replaced (ALS here)."""
    optuna = pytest.importorskip("optuna")

    def old_als(t: Any) -> dict[str, Any]:
        return {
            "factors": t.suggest_int("factors", 16, 256, log=True),
            "regularization": t.suggest_float("regularization", 1e-3, 10.0, log=True),
            "alpha": t.suggest_float("alpha", 0.5, 50.0, log=True),
            "iterations": t.suggest_int("iterations", 5, 30),
        }

    runs = []
    for space in (old_als, DEFAULT_SPACES["als"].suggest):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=42, n_startup_trials=5)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial(BENCH_STARTS["als"])
        seen: list[dict[str, Any]] = []

        def objective(trial: Any, space: Any = space, seen: list[Any] = seen) -> float:
            params = space(trial)
            seen.append(params)
            return params["factors"] / 256 - abs(params["regularization"] - 0.1)

        study.optimize(objective, n_trials=10)
        runs.append(seen)
    assert runs[0] == runs[1]


def test_grid_and_hyperopt_forms() -> None:
    space = DEFAULT_SPACES["itemknn"]
    grid = space.grid()
    assert grid["similarity"] == ["cosine", "asymmetric_cosine"]
    assert grid["k"] == [10, 71, 500]  # low, geometric middle, high
    hyperopt = pytest.importorskip("hyperopt")
    from hyperopt.pyll.stochastic import sample

    for seed in range(20):
        import numpy as np

        raw = flatten_hyperopt(sample(space.hyperopt(), rng=np.random.default_rng(seed)))
        params = space.resolve(raw)
        assert 10 <= params["k"] <= 500 and isinstance(params["k"], int)
        assert ("alpha" in params) == (params["similarity"] == "asymmetric_cosine")
    assert hyperopt is not None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"x": {"low": 1.0}}, "needs numeric low and high"),
        ({"x": {"low": 2.0, "high": 1.0}}, "above high"),
        ({"x": {"low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0"),
        ({"x": {"choices": []}}, "choices must not be empty"),
        ({"x": {"low": 0, "high": 1, "bogus": 1}}, "unknown keys"),
        ({"x": {"low": 0, "high": 1, "when": {"y": 1}}}, "not earlier dimensions"),
    ],
)
def test_bad_spaces_are_refused_with_the_reason(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_table(table)


def test_a_space_naming_unknown_parameters_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameters \['regularisation'\]"):
        SearchSpace.from_table({"regularisation": {"low": 1.0, "high": 2.0}}).check("ease")


def test_fixed_parameters_leave_the_search() -> None:
    space = DEFAULT_SPACES["als"].with_fixed({"factors": 32})
    assert "factors" not in space.names and space.fixed["factors"] == 32
    assert Dimension("k", "int", low=1, high=3).grid_values() == [1, 2, 3]
