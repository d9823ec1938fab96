"""metrics.json and a self-contained report.html (plotly, its JavaScript inlined: opens offline).

Stability: stable.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tailor.evaluation.diagnostics import Verdict
from tailor.evaluation.metrics import METRIC_NAMES
from tailor.evaluation.runner import EvaluationResult
from tailor.evaluation.significance import Comparison

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #f2f2f2; }
.note { color: #555; font-size: 0.9rem; }
"""


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    *,
    title: str = "tailor evaluation",
    comparisons: Sequence[Comparison] = (),
    comparison_names: tuple[str, str] = ("A", "B"),
    learning: tuple[pd.DataFrame, Verdict] | None = None,
    residuals: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write ``metrics.json`` and ``report.html`` into ``out_dir``; returns the report's path.

    Args:
        result: from :func:`~tailor.evaluation.runner.evaluate`.
        out_dir: created if needed.
        title: page title.
        comparisons: paired significance results to tabulate.
        comparison_names: what systems A and B of ``comparisons`` are, for the table's header.
        learning: per-epoch history (``epoch, train, validation``) and its verdict.
        residuals: tables from :func:`~tailor.evaluation.diagnostics.residuals`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.to_json(out / METRICS_FILE)
    figures: list[go.Figure] = []
    if not result.curves.empty:
        figures.append(_curve_figure(result.curves))
    segments = result.metrics.get("segments") or {}
    if segments:
        figures.append(_segment_figure(segments, result.metrics.get("settings", {}).get("k", [])))
    if learning is not None:
        figures.append(_learning_figure(*learning))
    for name, table in (residuals or {}).items():
        figures.append(_residual_figure(name, table))
    parts = [_overview(result.metrics), _summary_table(result.metrics)]
    if comparisons:
        parts.append(_comparison_table(comparisons, comparison_names))
    if learning is not None:
        parts.append(_verdict_html(learning[1]))
    path = out / REPORT_FILE
    path.write_text(_page(title, parts, figures), encoding="utf-8")
    return path


def write_learning_curve(
    history: pd.DataFrame, verdict: Verdict, path: str | Path, *, title: str = "Learning curve"
) -> Path:
    """Write a self-contained HTML page with a learning curve and its plain-words verdict."""
    target = Path(path)
    page = _page(title, [_verdict_html(verdict)], [_learning_figure(history, verdict)])
    target.write_text(page, encoding="utf-8")
    return target


def _verdict_html(verdict: Verdict) -> str:
    return (
        f"<h2>Learning curve: {html.escape(verdict.kind)}</h2><p>"
        f"{html.escape(verdict.message)} <b>Next:</b> {html.escape(verdict.advice)}</p>"
    )


def _page(title: str, parts: Sequence[str], figures: Sequence[go.Figure]) -> str:
    """One HTML page: heading, the given HTML parts, then the figures (plotly.js inlined once)."""
    plots = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)
    ]
    body = "".join([f"<h1>{html.escape(title)}</h1>", *parts, *plots])
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _overview(metrics: Mapping[str, Any]) -> str:
    note = html.escape(str(metrics.get("settings", {}).get("note", "")))
    return (
        f"<p>{metrics.get('n_users', 0):,} users evaluated; "
        f"{metrics.get('n_users_without_relevant', 0):,} truth users without any relevant item "
        f"were excluded.</p><p class='note'>{note}</p>"
    )


def _summary_table(metrics: Mapping[str, Any]) -> str:
    keys = [k for k, v in metrics.items() if "@" in k and isinstance(v, int | float)]
    ci = metrics.get("ci", {})
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(metrics[k])}</td>"
        f"<td>{_fmt(ci.get(k, [None])[0])}</td><td>{_fmt(ci.get(k, [None, None])[1])}</td></tr>"
        for k in keys
    )
    return (
        "<h2>Metrics (mean over evaluated users)</h2><table><thead><tr><th>metric</th>"
        "<th>mean</th><th>95% CI low</th><th>95% CI high</th></tr></thead>"
        f"{rows}</table>"
    )


def _fmt(value: Any) -> str:
    return "" if value is None or value != value else f"{value:.4f}"


def _curve_figure(curves: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for name in METRIC_NAMES:
        fig.add_trace(go.Scatter(x=curves["k"], y=curves[name], mode="lines", name=name))
    fig.update_layout(title="Metric@K", xaxis_title="K", yaxis_title="value", height=420)
    return fig


def _segment_figure(segments: Mapping[str, Mapping[str, Any]], ks: Sequence[int]) -> go.Figure:
    k = ks[0] if ks else 10
    names = list(segments)
    fig = go.Figure()
    for metric in ("ndcg", "recall", "precision", "hit_rate"):
        key = f"{metric}@{k}"
        fig.add_trace(go.Bar(x=names, y=[segments[s].get(key) for s in names], name=key))
    users = [f"{s}<br>{segments[s].get('users', 0):,} users" for s in names]
    fig.update_xaxes(ticktext=users, tickvals=names)
    fig.update_layout(title=f"Per segment @{k}", barmode="group", height=460)
    return fig


def _learning_figure(history: pd.DataFrame, verdict: Verdict) -> go.Figure:
    fig = go.Figure()
    for col in ("train", "validation"):
        fig.add_trace(
            go.Scatter(x=history["epoch"], y=history[col], mode="lines+markers", name=col)
        )
    fig.add_vline(x=verdict.best_epoch, line_dash="dot")
    fig.update_layout(
        title=f"Learning curve ({verdict.kind}; best epoch {verdict.best_epoch})",
        xaxis_title="epoch",
        height=420,
    )
    return fig


def _residual_figure(name: str, table: pd.DataFrame) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    groups = table["group"].astype(str)
    fig.add_trace(go.Bar(x=groups, y=table["rmse"], name="RMSE"), secondary_y=False)
    fig.add_trace(go.Bar(x=groups, y=table["mae"], name="MAE"), secondary_y=False)
    fig.add_trace(
        go.Scatter(x=groups, y=table["bias"], name="bias", mode="markers"), secondary_y=True
    )
    fig.update_layout(title=f"Rating error by {name.replace('_', ' ')}", height=400)
    return fig


def _comparison_table(comparisons: Sequence[Comparison], names: tuple[str, str]) -> str:
    a, b = (html.escape(n) for n in names)
    head = "".join(
        f"<th>{h}</th>"
        for h in ("metric", "users", a, b, f"{b} - {a}", "95% CI", "t-test p", "Wilcoxon p")
    )
    rows = "".join(
        f"<tr><td>{html.escape(c.metric)}</td><td>{c.users:,}</td><td>{c.mean_a:.4f}</td>"
        f"<td>{c.mean_b:.4f}</td><td>{c.difference:+.4f}</td>"
        f"<td>[{c.ci_low:+.4f}, {c.ci_high:+.4f}]</td><td>{c.t_pvalue:.3g}</td>"
        f"<td>{c.wilcoxon_pvalue:.3g}</td></tr>"
        for c in comparisons
    )
    return f"<h2>Paired comparison</h2><table><thead><tr>{head}</tr></thead>{rows}</table>"
