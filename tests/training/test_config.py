"""The training configs: the reference example and the bundled demo parse, and the example
mentions every option of every table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tailor.errors import ConfigError
from tailor.training.config import (
    CandidateSection,
    GateSection,
    MetricSection,
    OutputSection,
    PublishSection,
    SourceSection,
    SplitSection,
    TrackingSection,
    TuningSection,
    bundled_config,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "train" / "example.toml"


def test_the_example_and_the_bundled_demo_parse() -> None:
    example = load_config(EXAMPLE)
    assert [c.key for c in example.candidates] == ["popularity", "ease", "recency-ease", "als"]
    assert example.candidates[0].search_space().is_empty
    assert example.candidates[1].search_space().fixed == {"binary": True}
    demo = load_config(bundled_config("demo"))
    assert demo.source.name == "online-retail" and demo.metric.relevant == "novel"
    with pytest.raises(ConfigError, match="bundled: demo"):
        bundled_config("nope")


@pytest.mark.parametrize(
    ("table", "section"),
    [
        ("source", SourceSection),
        ("split", SplitSection),
        ("candidates", CandidateSection),
        ("tuning", TuningSection),
        ("metric", MetricSection),
        ("gate", GateSection),
        ("publish", PublishSection),
        ("tracking", TrackingSection),
        ("output", OutputSection),
    ],
)
def test_the_example_mentions_every_option(table: str, section: type) -> None:
    text = EXAMPLE.read_text()
    for option in section.model_fields:
        assert re.search(rf"^#? ?{option} = ", text, re.MULTILINE), f"[{table}] {option}"


def test_a_missing_or_broken_config_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[split\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    empty = tmp_path / "empty.toml"
    empty.write_text("name = 'x'\n")
    with pytest.raises(ConfigError, match="candidates"):
        load_config(empty)
