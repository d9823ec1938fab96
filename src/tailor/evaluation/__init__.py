"""Evaluation: full-ranking metrics, segments, significance, diagnostics and reports.

The names below load on first use: importing one submodule (say ``diagnostics``) does not pull in
scipy.stats, plotly and the numba kernels of the others, so commands start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailor.evaluation.diagnostics import Verdict, learning_curve_verdict, residuals
    from tailor.evaluation.fitted import evaluate_model, recommend_for
    from tailor.evaluation.io import read_recs, read_truth
    from tailor.evaluation.metrics import mae, rmse
    from tailor.evaluation.report import write_report
    from tailor.evaluation.runner import EvaluationResult, evaluate
    from tailor.evaluation.samples import SampleList, sample_lists
    from tailor.evaluation.significance import Comparison, compare, confidence_interval

_WHERE = {
    "Verdict": "diagnostics",
    "learning_curve_verdict": "diagnostics",
    "residuals": "diagnostics",
    "evaluate_model": "fitted",
    "recommend_for": "fitted",
    "read_recs": "io",
    "read_truth": "io",
    "mae": "metrics",
    "rmse": "metrics",
    "write_report": "report",
    "EvaluationResult": "runner",
    "evaluate": "runner",
    "SampleList": "samples",
    "sample_lists": "samples",
    "Comparison": "significance",
    "compare": "significance",
    "confidence_interval": "significance",
}

__all__ = [
    "Comparison",
    "EvaluationResult",
    "SampleList",
    "Verdict",
    "compare",
    "confidence_interval",
    "evaluate",
    "evaluate_model",
    "learning_curve_verdict",
    "mae",
    "read_recs",
    "read_truth",
    "recommend_for",
    "residuals",
    "rmse",
    "sample_lists",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tailor.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tailor.evaluation.{module}"), name)
