from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tailor.models import create_model

PIPELINES = Path(__file__).resolve().parents[2] / "configs" / "pipelines"


@pytest.mark.parametrize("name", ["itemknn", "ease", "recency-ease", "als", "bpr"])
def test_pipeline_config_states_the_defaults(name: str) -> None:
    config = tomllib.loads((PIPELINES / f"{name}.toml").read_text())
    model = create_model(config["model"], config["config"])
    assert config["name"] == name
    assert model.config == type(model.config)()  # the file documents the defaults
