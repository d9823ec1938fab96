"""``report.html`` of an experiment: one self-contained page (plotly.js inlined, no CDN) with
the variants' KPIs and confidence intervals, the verdict, the sample-ratio check, and each
KPI per variant over time with the primary metric's always-valid p-value."""

from __future__ import annotations

import html
import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tailor.experiments.analysis import METRIC_LABELS, METRICS, ExperimentResult
from tailor.experiments.stats import Estimate


def fmt(value: float, digits: int = 4) -> str:
    """A number for tables: ``-`` for NaN."""
    return "-" if not math.isfinite(value) else f"{value:.{digits}g}"


def fmt_ci(est: Estimate) -> str:
    """``value [low, high]``."""
    if not math.isfinite(est.value):
        return "-"
    return f"{fmt(est.value)} [{fmt(est.low)}, {fmt(est.high)}]"


def figure(result: ExperimentResult) -> go.Figure:
    """Each KPI per variant over the looks, then the always-valid p-values of the primary
    metric against alpha."""
    primary = result.experiment.primary_metric
    titles = [*(METRIC_LABELS[m] for m in METRICS), f"always-valid p ({METRIC_LABELS[primary]})"]
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, subplot_titles=titles)
    timeline = result.timeline
    control = result.control.variant.name
    for index, variant in enumerate(v.variant.name for v in result.variants):
        rows = timeline[timeline["variant"] == variant]
        colour = f"hsl({(index * 137) % 360}, 60%, 45%)"
        for row, metric in enumerate(METRICS, start=1):
            fig.add_trace(
                go.Scatter(
                    x=rows["time"],
                    y=rows[metric],
                    name=variant,
                    legendgroup=variant,
                    showlegend=row == 1,
                    line={"color": colour},
                ),
                row=row,
                col=1,
            )
        if variant != control:
            fig.add_trace(
                go.Scatter(
                    x=rows["time"],
                    y=rows[f"p_{primary}"],
                    name=f"{variant} p",
                    legendgroup=variant,
                    showlegend=False,
                    line={"color": colour, "dash": "dot"},
                ),
                row=len(titles),
                col=1,
            )
    fig.add_hline(y=result.alpha, line_dash="dash", row=len(titles), col=1)
    fig.update_yaxes(type="log", row=len(titles), col=1)
    fig.update_layout(height=260 * len(titles), title=f"experiment {result.experiment.name}")
    return fig


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


SHORT_LABELS = {"ctr": "CTR", "conversion": "CR", "aov": "AOV", "rpv": "RPV"}


def variant_rows(
    result: ExperimentResult, short: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The per-variant table (the CLI prints the same one, with ``short`` headers)."""
    headers = ["variant", "share", "visitors", "lists", "clicks", "orders", "revenue"]
    labels = SHORT_LABELS if short else METRIC_LABELS
    headers += [labels[m] + " [95 % CI]" for m in METRICS]
    rows = []
    for v in result.variants:
        what = [v.variant.name, f"{v.share:.0%}", str(v.visitors), str(v.lists), str(v.clicks)]
        what += [str(v.orders), f"{v.revenue:.2f}"]
        rows.append(what + [fmt_ci(v.metrics[m]) for m in METRICS])
    return headers, rows


def comparison_rows(result: ExperimentResult) -> tuple[list[str], list[list[str]]]:
    """Each variant against the control, per metric."""
    headers = ["variant", "metric", "difference [95 % CI]", "relative", "z-test p (one look)"]
    headers.append("always-valid p")
    rows = []
    for (variant, metric), test in result.tests.items():
        rows.append(
            [
                variant,
                METRIC_LABELS[metric],
                fmt_ci(test.delta),
                "-" if not math.isfinite(test.relative) else f"{test.relative:+.1%}",
                fmt(test.p_fixed, 3),
                fmt(test.p_always_valid, 3),
            ]
        )
    return headers, rows


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.alarm { color: #b00; font-weight: bold; }
"""


def write_report(result: ExperimentResult, path: Path) -> None:
    """Write the self-contained HTML page to ``path``."""
    exp = result.experiment
    srm = result.srm
    srm_text = (
        f"chi-square {srm.chi2:.3g}, p = {srm.p_value:.3g}: "
        + ("ALARM (p < 0.001)" if srm.alarm else "no mismatch")
        + f"; observed {list(srm.observed)}, expected {[round(e, 1) for e in srm.expected]}"
    )
    verdicts = "".join(
        f"<li>{html.escape(result.verdict(v.variant.name))}</li>" for v in result.variants[1:]
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    parts = [
        f"<h1>Experiment {html.escape(exp.name)}</h1>",
        f"<p>Primary metric: {html.escape(METRIC_LABELS[exp.primary_metric])}; alpha "
        f"{result.alpha:g}; attribution window {exp.attribution_window_s:g} s; control: "
        f"{html.escape(result.control.variant.name)}. Confidence intervals: normal, delta "
        "method for ratios; sequential test: mSPRT (always-valid p-values).</p>",
        f"<h2>Verdict</h2><ul>{verdicts}</ul>",
        f"<p class='{'alarm' if srm.alarm else ''}'>Sample ratio: {html.escape(srm_text)}</p>",
        f"<ul>{notes}</ul>" if notes else "",
        "<h2>Variants</h2>",
        _table(*variant_rows(result)),
        "<h2>Against the control</h2>",
        _table(*comparison_rows(result)),
        "<h2>Over time</h2>",
        figure(result).to_html(full_html=False, include_plotlyjs=True),
    ]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>experiment {html.escape(exp.name)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
