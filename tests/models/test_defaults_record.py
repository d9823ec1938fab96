"""The defaults in the code are the ones the benchmark chose and measured
(``bench/accuracy/defaults.py`` -> ``bench/results/defaults.json`` -> docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tailor.models import create_model
from tailor.models.registry import MODELS

RECORD = Path(__file__).resolve().parents[2] / "bench" / "results" / "defaults.json"


def _record() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(RECORD.read_text())
    return found


def _defaults(name: str) -> dict[str, Any]:
    return json.loads(json.dumps(create_model(name).config.model_dump(exclude={"seed"})))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_measured_defaults_are_the_codes(name: str) -> None:
    # a changed default needs `bench/accuracy/defaults.py` re-run, so its numbers stay true
    assert _record()["defaults"][name]["params"] == _defaults(name)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_defaults_are_the_choice_on_validation_unless_kept(name: str) -> None:
    record = _record()
    chosen = record["choice"][name]["chosen"]
    if name in record.get("kept", {}):
        assert chosen["config"] != _defaults(name)  # documented in docs/benchmarks.md
    else:
        assert chosen["config"] == _defaults(name)
    best = max(c["mean_relative"] for c in record["choice"][name]["candidates"])
    assert chosen["mean_relative"] == best


def test_defaults_meet_the_ml100k_target() -> None:
    target = _record()["target"]
    assert target["met"] and target["relative_gain"] >= 0.05
    assert target["tailor_ndcg@10"] >= 1.05 * 0.2004  # the best tuned peer named in issue 10
