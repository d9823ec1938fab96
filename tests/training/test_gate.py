"""The gate's checks on planted numbers: margins and paired significance, coverage, NaN scores,
latency, forcing, and the decision's record (gate.json, the manifest)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailor.data.vocab import Vocabulary
from tailor.training.gate import (
    GateDecision,
    beats,
    coverage_check,
    decide,
    finite_check,
    latency_check,
    record_in_manifest,
)


def comparison(a: float, b: float, p: float) -> dict[str, Any]:
    return {
        "metric": "ndcg@10",
        "mean_a": a,
        "mean_b": b,
        "t_pvalue": p,
        "wilcoxon_pvalue": p,
        "users": 500,
    }


@pytest.mark.parametrize(
    ("a", "b", "p", "margin", "significant", "passed"),
    [
        (0.10, 0.20, 1e-9, 0.05, True, True),  # far better, significant
        (0.10, 0.104, 1e-9, 0.05, True, False),  # significant, but below the margin
        (0.10, 0.20, 0.30, 0.05, True, False),  # above the margin, not significant
        (0.10, 0.20, 0.30, 0.05, False, True),  # ... which may be allowed
        (0.10, 0.09, 1e-9, -0.2, False, True),  # "not much worse" with a negative margin
        (0.20, 0.10, 1e-9, 0.0, True, False),  # significantly worse
    ],
)
def test_beats_needs_the_margin_and_a_significant_paired_difference(
    a: float, b: float, p: float, margin: float, significant: bool, passed: bool
) -> None:
    check = beats(
        comparison(a, b, p), "popularity", margin=margin, significant=significant, alpha=0.05
    )
    assert check.passed is passed, check.detail
    assert check.numbers["needed"] == pytest.approx((1 + margin) * a)


def test_nothing_to_beat_passes_and_says_so() -> None:
    check = beats(None, "the active model", margin=0.0, significant=True, alpha=0.05)
    assert check.passed and "nothing to compare with" in check.detail


def test_coverage_must_not_collapse() -> None:
    ok = coverage_check({"coverage@10": 0.30}, {"coverage@10": 0.40}, 10, minimum=0.0, ratio=0.5)
    collapsed = coverage_check(
        {"coverage@10": 0.05}, {"coverage@10": 0.40}, 10, minimum=0.0, ratio=0.5
    )
    floor = coverage_check({"coverage@10": 0.05}, None, 10, minimum=0.1, ratio=0.5)
    assert ok.passed and not collapsed.passed and not floor.passed
    assert collapsed.numbers["needed"] == pytest.approx(0.2)


class _Model:
    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.users = Vocabulary([f"u{i}" for i in range(len(rows))])

    def score_rows(self, nums: np.ndarray) -> np.ndarray:
        return self.rows[nums]


def test_nan_scores_and_nan_metrics_are_refused() -> None:
    good = _Model(np.ones((4, 5), np.float32))
    bad_rows = np.ones((4, 5), np.float32)
    bad_rows[2, 3] = np.nan
    users = ["u0", "u1", "u2", "u3", "unknown"]
    assert finite_check(good, users, 0).passed
    assert not finite_check(_Model(bad_rows), users, 0).passed
    assert not finite_check(good, users, 3).passed


class _Pipeline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def recommend_user(self, user: str, query: Any) -> None:
        time.sleep(self.seconds)


def test_latency_p99_against_the_budget() -> None:
    users = [f"u{i}" for i in range(20)]
    fast = latency_check(_Pipeline(0.0), users, budget_ms=50.0)
    slow = latency_check(_Pipeline(0.02), users, budget_ms=5.0)
    assert fast.passed and fast.numbers["users"] == 20
    assert not slow.passed and slow.numbers["p99_ms"] >= 15.0


def test_decision_force_and_records(tmp_path: Path) -> None:
    from tailor.models import Popularity
    from tailor.models.artifacts import read_manifest, save_model
    from tailor.testing.data import planted_frame

    checks = [
        beats(comparison(0.1, 0.3, 1e-6), "popularity", margin=0.05, significant=True, alpha=0.05),
        coverage_check({"coverage@10": 0.0}, None, 10, minimum=0.1, ratio=0.5),
    ]
    refused = decide(checks, force=False, candidate={"version": "v1"})
    assert not refused.passed and not refused.publish and refused.verdict == "refused"
    assert refused.reasons == [f"coverage not collapsed: {checks[1].detail}"]
    forced = decide(checks, force=True, candidate={"version": "v1"})
    assert forced.publish and forced.forced and forced.verdict == "forced"
    path = forced.write(tmp_path)
    again = GateDecision.read(path)
    assert again.to_dict() == forced.to_dict()
    assert json.loads(path.read_text())["reasons"] == refused.reasons
    model_dir = tmp_path / "model"
    from tailor.data.dataset import Dataset

    save_model(Popularity().fit(Dataset.from_frame(planted_frame())), model_dir)
    record_in_manifest(model_dir, forced)
    assert read_manifest(model_dir)["gate"]["verdict"] == "forced"
