"""The defaults in the code are the ones a benchmark chose and measured.

Most models: ``bench/accuracy/defaults.py`` -> ``bench/results/defaults.json`` -> the docs.
Models measured by their own benchmark (:data:`ELSEWHERE`) are checked against that benchmark's
record of the configuration it ran: a changed default needs that bench re-run, so its numbers
stay true.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tailor.models import create_model
from tailor.models.registry import MODELS

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
RECORD = RESULTS / "defaults.json"


@dataclass(frozen=True)
class Record:
    """Where a benchmark records the full configuration it measured a model with.

    Attributes:
        file: the results file under ``bench/results``.
        keys: the key path to the configuration (``config.model_dump(mode="json")``).
        bench: the command that writes it.
        set_by_bench: parameters the bench sets on purpose (a seed, an epoch count it tunes,
            tuned sub-models); left out of the comparison.
    """

    file: str
    keys: tuple[str, ...]
    bench: str
    set_by_bench: frozenset[str] = frozenset({"seed"})


ELSEWHERE: dict[str, Record] = {
    "content": Record(
        "cold_start.json",
        ("retail_items", "content_config"),
        ".venv/bin/python bench/accuracy/cold_start.py",
    ),
    "ranker": Record(
        "ranker_retail.json",
        ("ranker_config",),
        ".venv/bin/python bench/accuracy/ranker.py --part retail",
        frozenset({"seed", "submodels", "target"}),  # tuned sub-models; the novel-item target
    ),
    "wide-deep": Record(
        "deep_accuracy.json",
        ("retail", "wide_deep", "config"),
        ".venv/bin/python bench/deep/accuracy.py --only retail",
        frozenset({"seed", "epochs", "early_stopping_patience"}),  # refit at the best epoch
    ),
}
"""Model -> its own benchmark's record (the models ``defaults.py`` does not measure)."""

IN_DEFAULTS = sorted(set(MODELS) - set(ELSEWHERE))


def _record() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(RECORD.read_text())
    return found


def _defaults(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        json.dumps(create_model(name).config.model_dump(mode="json", exclude={"seed"}))
    )
    return found


def _recorded(name: str) -> dict[str, Any]:
    """The configuration ``ELSEWHERE[name]`` records; fails naming the bench to re-run."""
    where = ELSEWHERE[name]
    file = RESULTS / where.file
    path = "".join(f"[{k!r}]" for k in where.keys)
    rerun = (
        f"{name}: {file.name}{path} should hold the full configuration the bench measured "
        f"(config.model_dump(mode='json')); re-run `{where.bench}`"
    )
    if not file.is_file():
        pytest.fail(f"{rerun} (no {file.name} yet)")
    node: Any = json.loads(file.read_text())
    for key in where.keys:
        if not isinstance(node, dict) or key not in node:
            pytest.fail(f"{rerun} (no key {key!r})")
        node = node[key]
    if not isinstance(node, dict):
        pytest.fail(f"{rerun} (found {type(node).__name__}, not an object)")
    return node


def test_every_model_has_a_record_of_its_defaults() -> None:
    measured = set(_record()["defaults"]) | set(ELSEWHERE)
    assert set(MODELS) <= measured, f"no benchmark records {sorted(set(MODELS) - measured)}"
    assert not set(ELSEWHERE) & set(_record()["defaults"]), "one record per model"


@pytest.mark.parametrize("name", IN_DEFAULTS)
def test_measured_defaults_are_the_codes(name: str) -> None:
    # a changed default needs `bench/accuracy/defaults.py` re-run, so its numbers stay true
    assert _record()["defaults"][name]["params"] == _defaults(name)


@pytest.mark.parametrize("name", sorted(ELSEWHERE))
def test_defaults_measured_by_their_own_bench_are_the_codes(name: str) -> None:
    skip = ELSEWHERE[name].set_by_bench
    recorded = {k: v for k, v in _recorded(name).items() if k not in skip}
    code = {k: v for k, v in _defaults(name).items() if k not in skip}
    assert recorded == code, f"re-run `{ELSEWHERE[name].bench}` after changing the defaults"


@pytest.mark.parametrize("name", IN_DEFAULTS)
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
