"""Evaluation: full-ranking metrics, segments, significance, diagnostics and reports."""

from tailor.evaluation.diagnostics import Verdict, learning_curve_verdict, residuals
from tailor.evaluation.fitted import evaluate_model, recommend_for
from tailor.evaluation.io import read_recs, read_truth
from tailor.evaluation.metrics import mae, rmse
from tailor.evaluation.report import write_report
from tailor.evaluation.runner import EvaluationResult, evaluate
from tailor.evaluation.samples import SampleList, sample_lists
from tailor.evaluation.significance import Comparison, compare, confidence_interval

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
