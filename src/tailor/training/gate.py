"""The promotion gate: may a new model replace the one being served?

A candidate passes when, on the test period,

* it beats **popularity** and the **active model** (when one is served) on the gate's metric by
  the configured margins (``mean_candidate >= (1 + margin) * mean_other``) with a significant
  paired difference (``tailor.evaluation.compare``: paired t-test and Wilcoxon, both p < alpha,
  over the users both were evaluated on), and
* it passes the sanity checks: coverage@K not collapsed (at least ``min_coverage`` and
  ``coverage_ratio`` x the active model's), no NaN or infinite scores and no NaN per-user
  metric, and live scoring within the latency budget (p99 of ``Pipeline.recommend_user`` for a
  sample of test users, as the server's hot path runs it).

The decision, every check with its numbers, and whether it was forced, go to ``gate.json`` in
the run folder and to the model's manifest (``gate``).

Stability: experimental.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tailor.outputs import output_file

GATE_FILE = "gate.json"
MANIFEST_KEY = "gate"


@dataclass(frozen=True)
class Check:
    """One condition of the gate.

    Attributes:
        name: e.g. ``beats popularity``, ``latency``.
        passed: whether it holds.
        detail: the numbers in words.
        numbers: the numbers as data.
    """

    name: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict.

    Attributes:
        passed: every check holds.
        forced: published although it did not pass (``--force``).
        checks: every check, in order.
        candidate: the candidate's model name and version.
        at: when it was decided (UTC, ISO 8601).
    """

    passed: bool
    checks: list[Check]
    forced: bool = False
    candidate: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def publish(self) -> bool:
        """Whether the candidate may be published."""
        return self.passed or self.forced

    @property
    def reasons(self) -> list[str]:
        """The failed checks, in words."""
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    @property
    def verdict(self) -> str:
        """``accepted``, ``forced`` or ``refused``."""
        return "accepted" if self.passed else "forced" if self.forced else "refused"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``gate.json``)."""
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "forced": self.forced,
            "reasons": self.reasons,
            "candidate": self.candidate,
            "at": self.at,
            "checks": [asdict(c) for c in self.checks],
        }

    def write(self, run_dir: Path) -> Path:
        """Write ``gate.json`` into ``run_dir`` (atomically)."""
        target = Path(run_dir) / GATE_FILE
        with output_file(target) as tmp:
            tmp.write_text(json.dumps(_clean(self.to_dict()), indent=2) + "\n")
        return target

    @classmethod
    def read(cls, path: Path) -> GateDecision:
        """Read a ``gate.json``."""
        data = json.loads(Path(path).read_text())
        checks = [Check(**c) for c in data["checks"]]
        return cls(data["passed"], checks, data["forced"], data.get("candidate", {}), data["at"])


def beats(
    comparison: Mapping[str, Any] | None,
    other: str,
    *,
    margin: float,
    significant: bool,
    alpha: float,
) -> Check:
    """Whether the candidate (system B of a ``Comparison.to_dict()``) beats ``other`` (A).

    ``comparison`` None: the other system was not evaluated (e.g. nothing is served yet):
    passes, saying so.
    """
    name = f"beats {other}"
    if comparison is None:
        why = "nothing is served yet" if "active" in other else f"{other} was not evaluated"
        return Check(name, True, f"nothing to compare with: {why}")
    a, b = float(comparison["mean_a"]), float(comparison["mean_b"])
    metric = comparison["metric"]
    need = (1.0 + margin) * a
    t_p, w_p = float(comparison["t_pvalue"]), float(comparison["wilcoxon_pvalue"])
    is_significant = t_p < alpha and w_p < alpha and b > a
    ok = b >= need and (is_significant or not significant)
    gain = (b / a - 1.0) if a > 0 else math.inf if b > 0 else 0.0
    words = (
        f"{metric} {b:.4f} vs {a:.4f} ({gain:+.1%}; needs >= {need:.4f}, margin {margin:+.0%}), "
        f"paired t p={t_p:.2g}, Wilcoxon p={w_p:.2g}"
        + (f" (significance required at {alpha})" if significant else "")
    )
    numbers = {
        "metric": metric,
        "candidate": b,
        "other": a,
        "needed": need,
        "margin": margin,
        "t_pvalue": t_p,
        "wilcoxon_pvalue": w_p,
        "significant": is_significant,
        "users": comparison.get("users"),
    }
    return Check(name, ok, words, numbers)


def coverage_check(
    metrics: Mapping[str, Any],
    active: Mapping[str, Any] | None,
    k: int,
    *,
    minimum: float,
    ratio: float,
) -> Check:
    """coverage@k of the candidate vs an absolute floor and a share of the active model's."""
    key = f"coverage@{k}"
    mine = float(metrics.get(key, float("nan")))
    theirs = float(active[key]) if active is not None and key in active else None
    need = max(minimum, ratio * theirs if theirs is not None else 0.0)
    ok = math.isfinite(mine) and mine >= need
    against = f", active {theirs:.4f} x {ratio}" if theirs is not None else ""
    return Check(
        "coverage not collapsed",
        ok,
        f"{key} {mine:.4f} (needs >= {need:.4f}: floor {minimum}{against})",
        {"coverage": mine, "needed": need, "active": theirs},
    )


def finite_check(model: Any, users: Sequence[str], per_user_nan: int) -> Check:
    """No NaN/inf in the model's score rows for ``users`` (known to it), no NaN per-user metric."""
    nums = [n for n in (model.users.number(u) for u in users) if n is not None]
    bad = 0
    total = 0
    for start in range(0, len(nums), 256):
        rows = model.score_rows(np.asarray(nums[start : start + 256], dtype=np.int64))
        bad += int(np.size(rows) - np.isfinite(rows).sum())
        total += int(np.size(rows))
    ok = bad == 0 and per_user_nan == 0 and total > 0
    return Check(
        "no NaN scores",
        ok,
        f"{bad:,} non-finite of {total:,} scores for {len(nums):,} users; "
        f"{per_user_nan:,} NaN per-user metric values",
        {"non_finite_scores": bad, "scores": total, "nan_metrics": per_user_nan},
    )


def latency_check(pipeline: Any, users: Sequence[str], budget_ms: float, n: int = 10) -> Check:
    """p99 of one-user live scoring (``Pipeline.recommend_user``) vs ``budget_ms``.

    A few warm-up calls are not timed (first-call costs: numba, caches).
    """
    from tailor.pipeline import Query

    query = Query(n=n)
    sample = list(users)
    for user in sample[: min(5, len(sample))]:
        pipeline.recommend_user(user, query)
    times = []
    for user in sample:
        start = time.perf_counter()
        pipeline.recommend_user(user, query)
        times.append((time.perf_counter() - start) * 1000.0)
    arr = np.asarray(times) if times else np.zeros(1)
    p50, p99 = float(np.percentile(arr, 50)), float(np.percentile(arr, 99))
    return Check(
        "latency",
        p99 <= budget_ms,
        f"live scoring p99 {p99:.2f} ms (p50 {p50:.2f} ms, {len(times)} users; "
        f"budget {budget_ms:g} ms)",
        {"p50_ms": p50, "p99_ms": p99, "max_ms": float(arr.max()), "users": len(times)},
    )


def decide(checks: Sequence[Check], *, force: bool, candidate: Mapping[str, Any]) -> GateDecision:
    """The decision over ``checks`` (``force`` publishes a refused candidate, logged)."""
    passed = all(c.passed for c in checks)
    return GateDecision(
        passed, list(checks), forced=force and not passed, candidate=dict(candidate)
    )


def record_in_manifest(model_dir: Path, decision: GateDecision) -> None:
    """Add the decision to the model folder's ``manifest.json`` (key ``gate``), atomically."""
    from tailor.models.artifacts import MANIFEST, read_manifest

    manifest = read_manifest(model_dir)
    manifest[MANIFEST_KEY] = _clean(decision.to_dict())
    with output_file(Path(model_dir) / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))


def _clean(value: Any) -> Any:
    """NaN and infinities as None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value
