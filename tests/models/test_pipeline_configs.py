"""configs/pipelines/*.toml: one file per model, each writing out every option with its default."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tailor.models import create_model

PIPELINES = Path(__file__).resolve().parents[2] / "configs" / "pipelines"

# The options each file sets: every option whose default is not None (those with a None default
# are documented as comments, since TOML has no null).
EXPECTED_KEYS = {
    "itemknn": {
        "k",
        "similarity",
        "alpha",
        "shrink",
        "weighting",
        "bm25_k1",
        "bm25_b",
        "binary",
    },
    "ease": {"regularization", "binary"},
    "recency-ease": {
        "regularization",
        "profile_half_life",
        "profile_floor",
        "popularity_weight",
        "popularity_half_life_days",
    },
    "als": {"factors", "regularization", "iterations", "alpha", "binary"},
    "bpr": {"factors", "learning_rate", "regularization", "iterations"},
    "mf-sgd": {
        "loss",
        "embedding_size",
        "epochs",
        "learning_rate",
        "lr_decay",
        "regularization",
        "bias_regularization",
        "init_std",
        "negatives",
        "fold_in_epochs",
    },
}


def test_every_model_has_a_pipeline_config() -> None:
    assert sorted(p.stem for p in PIPELINES.glob("*.toml")) == sorted(EXPECTED_KEYS)


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_pipeline_config_states_the_defaults(name: str) -> None:
    config = tomllib.loads((PIPELINES / f"{name}.toml").read_text())
    assert config["name"] == config["model"] == name
    options = config["config"]
    assert set(options) == EXPECTED_KEYS[name]  # exact: none missing, none unknown, not empty
    default = create_model(name).config
    assert {k: getattr(default, k) for k in options} == options  # each value is the default
    unset = set(type(default).model_fields) - set(options)
    assert {k: getattr(default, k) for k in unset} == dict.fromkeys(unset)  # only None-defaults
    assert create_model(config["model"], options).config == default
