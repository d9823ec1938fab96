"""The declared experiments' results for the dashboard, from the A/B analysis
(:func:`tailor.experiments.analysis.analyse`: attributed KPIs per variant with confidence
intervals, the always-valid test against the control, the sample-ratio check). Loads pandas and
scipy: imported only when the route is called, never by the server's start-up."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from tailor.errors import DataError
from tailor.experiments.analysis import METRICS, analyse, normalise_events
from tailor.experiments.config import Experiment
from tailor.experiments.stats import Estimate


def _num(value: float) -> float | None:
    """A finite float rounded for JSON; None for NaN or infinity."""
    return round(float(value), 6) if math.isfinite(value) else None


def _estimate(e: Estimate) -> dict[str, float | None]:
    return {"value": _num(e.value), "low": _num(e.low), "high": _num(e.high)}


def experiment_results(
    events: pd.DataFrame, experiments: Sequence[Experiment], alpha: float = 0.05
) -> list[dict[str, Any]]:
    """One document per experiment: its variants' counts and KPIs (value, 95 % interval), each
    variant against the control (difference, fixed-horizon and always-valid p), the
    sample-ratio check, the verdict; ``error`` instead when the events hold no list of it."""
    events = normalise_events(events)
    out: list[dict[str, Any]] = []
    for experiment in experiments:
        doc: dict[str, Any] = {
            "experiment": experiment.name,
            "status": experiment.status,
            "primary_metric": experiment.primary_metric,
        }
        try:
            result = analyse(events, experiment, alpha=alpha)
        except DataError as exc:
            out.append({**doc, "error": str(exc)})
            continue
        control = result.control.variant.name
        doc["control"] = control
        doc["alpha"] = alpha
        doc["crossovers"] = result.crossovers
        doc["notes"] = result.notes
        doc["srm"] = {"p_value": _num(result.srm.p_value), "alarm": result.srm.alarm}
        doc["variants"] = [
            {
                "variant": v.variant.name,
                "share": _num(v.share),
                "visitors": v.visitors,
                "lists": v.lists,
                "clicks": v.clicks,
                "orders": v.orders,
                "revenue": _num(v.revenue),
                **{m: _estimate(v.metrics[m]) for m in METRICS},
                "verdict": None if v.variant.name == control else result.verdict(v.variant.name),
            }
            for v in result.variants
        ]
        doc["tests"] = [
            {
                "variant": variant,
                "metric": metric,
                "delta": _estimate(test.delta),
                "p_fixed": _num(test.p_fixed),
                "p_always_valid": _num(test.p_always_valid),
            }
            for (variant, metric), test in result.tests.items()
        ]
        out.append(doc)
    return out
