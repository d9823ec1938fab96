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
from tailor.evaluation.importance import GlobalImportance
from tailor.evaluation.metrics import METRIC_NAMES
from tailor.evaluation.runner import EvaluationResult
from tailor.evaluation.samples import SampleList
from tailor.evaluation.segments import USER_FAMILIES, segment_sort_key
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
.warning { color: #8a4b00; background: #fff4e0; padding: 0.4rem 0.6rem; }
.ci { color: #666; font-size: 0.8rem; }
td.text, th.text { text-align: left; }
table.about th { text-align: left; background: #f2f2f2; }
.pair { display: flex; gap: 1.5rem; align-items: flex-start; flex-wrap: wrap; }
tr.hit { background: #e6f4ea; }
"""


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    *,
    title: str = "tailor evaluation",
    about: Mapping[str, str] | None = None,
    comparisons: Sequence[Comparison] = (),
    comparison_names: tuple[str, str] | Sequence[tuple[str, str]] = ("A", "B"),
    systems: Mapping[str, EvaluationResult] | None = None,
    samples: Sequence[SampleList] = (),
    learning: tuple[pd.DataFrame, Verdict] | None = None,
    residuals: Mapping[str, pd.DataFrame] | None = None,
    importance: GlobalImportance | None = None,
) -> Path:
    """Write ``metrics.json`` and ``report.html`` into ``out_dir``; returns the report's path.

    Args:
        result: from :func:`~tailor.evaluation.runner.evaluate`.
        out_dir: created if needed.
        title: page title.
        about: what was evaluated, shown as a table under the title (model, parameters, data,
            split, date, tailor version...).
        comparisons: paired significance results to tabulate.
        comparison_names: what systems A and B of ``comparisons`` are, for the table: one pair
            for all, or one pair per comparison.
        systems: every system evaluated (name -> result), tabulated side by side with CIs.
        samples: a few users' lists next to their truth (:func:`~tailor.evaluation.samples.
            sample_lists`).
        learning: per-epoch history (``epoch, train, validation``) and its verdict.
        residuals: tables from :func:`~tailor.evaluation.diagnostics.residuals`.
        importance: what drives the model's lists, from its explanations
            (:func:`~tailor.evaluation.importance.global_importance`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.to_json(out / METRICS_FILE)
    metrics = result.metrics
    settings = metrics.get("settings", {})
    ks = settings.get("k", [])
    figures: list[go.Figure] = []
    if not result.curves.empty:
        figures.append(_curve_figure(result.curves, settings.get("longest_list")))
    segments = metrics.get("segments") or {}
    user_segments, item_segments = _split_segments(segments)
    if user_segments:
        figures.append(_segment_figure(user_segments, ks, "Per user segment"))
    if item_segments:
        figures.append(_segment_figure(item_segments, ks, "Per item segment"))
    if learning is not None:
        figures.append(_learning_figure(*learning))
    for name, table in (residuals or {}).items():
        figures.append(_residual_figure(name, table))
    if importance is not None:
        figures.append(_importance_figure(importance))
    parts = [_about_table(about or {}), _overview(metrics), _summary_table(metrics)]
    if systems and len(systems) > 1:
        parts.append(_systems_table(systems, ks))
    if comparisons:
        parts.append(_comparison_table(comparisons, _pairs(comparison_names, len(comparisons))))
    if user_segments:
        parts.append(_segment_table("User segments", USER_NOTE, user_segments, ks))
    if item_segments:
        parts.append(_segment_table("Item segments", ITEM_NOTE, item_segments, ks))
    if samples:
        parts.append(_samples_html(samples))
    if learning is not None:
        parts.append(_verdict_html(learning[1]))
    if importance is not None:
        parts.append(_importance_html(importance))
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


IMPORTANCE_NOTES = {
    "shap": "Mean |SHAP value| of each feature over the recommended items of {users} users "
    "({pairs} items): how far a feature moves the ranker's scores, either way. Top share: how "
    "often it is an item's largest contribution.",
    "items": "Mean |contribution| of each history item j to the recommended items' scores "
    "(x_uj B_ji for EASE, the similarity for ItemKNN, the folded-in share for ALS/BPR) over "
    "{users} users ({pairs} items): the items that most often explain lists ('because you "
    "bought X'). Top share: how often it is an item's largest contribution.",
}


def _importance_html(importance: GlobalImportance) -> str:
    note = IMPORTANCE_NOTES.get(importance.kind, "Mean |contribution| over {pairs} items.")
    rows = "".join(
        f"<tr><td class='text'>{html.escape(str(r.name))}</td><td>{r.mean_abs:.4g}</td>"
        f"<td>{r.top_share:.1%}</td></tr>"
        for r in importance.table.itertuples()
    )
    return (
        f"<h2>Explanations: global importances ({html.escape(importance.kind)})</h2>"
        f"<p class='note'>"
        f"{html.escape(note.format(users=importance.n_users, pairs=importance.n_pairs))}</p>"
        "<table class='importance'><thead><tr><th>input</th><th>mean |contribution|</th>"
        f"<th>top share</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _importance_figure(importance: GlobalImportance) -> go.Figure:
    table = importance.table.iloc[::-1]  # largest at the top of a horizontal bar chart
    fig = go.Figure(go.Bar(x=table["mean_abs"], y=table["name"].astype(str), orientation="h"))
    fig.update_layout(
        title=f"Global importances ({importance.kind}): mean |contribution|",
        height=max(300, 22 * len(table) + 120),
    )
    return fig


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


def _about_table(about: Mapping[str, str]) -> str:
    if not about:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td class='text'>{html.escape(str(v))}</td></tr>"
        for k, v in about.items()
    )
    return f"<table class='about'>{rows}</table>"


def _overview(metrics: Mapping[str, Any]) -> str:
    note = html.escape(str(metrics.get("settings", {}).get("note", "")))
    warnings = "".join(
        f"<p class='warning'>Warning: {html.escape(str(w))}</p>"
        for w in metrics.get("warnings", [])
    )
    return (
        f"<p>{metrics.get('n_users', 0):,} users evaluated; "
        f"{metrics.get('n_users_without_relevant', 0):,} truth users without any relevant item "
        f"were excluded.</p>{warnings}<p class='note'>{note}</p>"
    )


def _beyond(metrics: Mapping[str, Any]) -> set[int]:
    return set(metrics.get("settings", {}).get("k_beyond_lists", []))


def _label(key: str, beyond: set[int]) -> str:
    """The metric's name, marked when its K is longer than every list."""
    k = key.rpartition("@")[2]
    mark = " (K > longest list)" if k.isdigit() and int(k) in beyond else ""
    return html.escape(key + mark)


def _summary_table(metrics: Mapping[str, Any]) -> str:
    keys = [k for k, v in metrics.items() if "@" in k and isinstance(v, int | float)]
    ci = metrics.get("ci", {})
    beyond = _beyond(metrics)
    rows = "".join(
        f"<tr><td>{_label(k, beyond)}</td><td>{_fmt(metrics[k])}</td>"
        f"<td>{_fmt(ci.get(k, [None])[0])}</td><td>{_fmt(ci.get(k, [None, None])[1])}</td></tr>"
        for k in keys
    )
    return (
        "<h2>Metrics (mean over evaluated users)</h2><table><thead><tr><th>metric</th>"
        "<th>mean</th><th>95% CI low</th><th>95% CI high</th></tr></thead>"
        f"{rows}</table>"
    )


def _with_ci(values: Mapping[str, Any], key: str) -> str:
    """``mean [low, high]`` (the interval when the values carry a ``ci``)."""
    mean = _fmt(values.get(key))
    bounds = (values.get("ci") or {}).get(key)
    if not mean or not bounds or bounds[0] is None or bounds[0] != bounds[0]:
        return mean
    return f"{mean} <span class='ci'>[{_fmt(bounds[0])}, {_fmt(bounds[1])}]</span>"


def _systems_table(systems: Mapping[str, EvaluationResult], ks: Sequence[int]) -> str:
    keys = [f"{m}@{k}" for k in ks for m in ("ndcg", "recall", "precision", "hit_rate")]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("system", "users", *keys))
    rows = ""
    for name, res in systems.items():
        values = {**res.metrics, "ci": res.metrics.get("ci", {})}
        cells = "".join(f"<td>{_with_ci(values, k)}</td>" for k in keys)
        rows += f"<tr><td>{html.escape(name)}</td><td>{res.metrics['n_users']:,}</td>{cells}</tr>"
    return f"<h2>Systems (mean [95% CI])</h2><table><thead><tr>{head}</tr></thead>{rows}</table>"


USER_NOTE = (
    "User segments select users: each value is the mean over the segment's users. Cold = no "
    "interaction in the reference data (train, plus validation when the split has one); "
    "activity = the user's reference interactions."
)
ITEM_NOTE = (
    "Item segments select truth rows: each user's relevant items are cut to the segment's items "
    "(lists unchanged) and users with none drop out, so recall is the share of the segment's "
    "held-out items that reached the list. Cold = never seen in the reference data; popularity "
    "head/torso/tail by reference interactions (never-seen items are tail)."
)


def _split_segments(
    segments: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """User-segment and item-segment entries, each in natural order."""
    ordered = sorted(segments, key=segment_sort_key)
    users = {s: segments[s] for s in ordered if s.partition(":")[0] in USER_FAMILIES}
    items = {s: segments[s] for s in ordered if s.partition(":")[0] not in USER_FAMILIES}
    return users, items


def _segment_table(
    heading: str, note: str, segments: Mapping[str, Mapping[str, Any]], ks: Sequence[int]
) -> str:
    keys = [f"{m}@{k}" for k in ks for m in ("ndcg", "recall", "hit_rate")]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("segment", "users", *keys))
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{int(values.get('users', 0)):,}</td>"
        + "".join(f"<td>{_with_ci(values, k)}</td>" for k in keys)
        + "</tr>"
        for name, values in segments.items()
    )
    return (
        f"<h2>{html.escape(heading)} (mean [95% CI])</h2><p class='note'>{html.escape(note)}</p>"
        f"<table><thead><tr>{head}</tr></thead>{rows}</table>"
    )


def _samples_html(samples: Sequence[SampleList]) -> str:
    blocks = []
    for sample in samples:
        recs = "".join(
            f"<tr class='{'hit' if row.relevant else ''}'><td>{int(row.rank)}</td>"
            f"<td class='text'>{html.escape(str(row.item_id))}</td>"
            f"<td class='text'>{html.escape(str(row.title))}</td>"
            f"<td>{'yes' if row.relevant else ''}</td></tr>"
            for row in sample.recs.itertuples(index=False)
        )
        truth = "".join(
            f"<tr><td class='text'>{html.escape(str(row.item_id))}</td>"
            f"<td class='text'>{html.escape(str(row.title))}</td>"
            f"<td>{'' if row.rank != row.rank else int(row.rank)}</td></tr>"
            for row in sample.truth.itertuples(index=False)
        )
        blocks.append(
            f"<div class='sample'><h3>User {html.escape(sample.user_id)}</h3>"
            f"<p class='note'>list of {sample.n_recs:,} items (first {len(sample.recs)} shown); "
            f"{sample.n_truth:,} relevant held-out items (up to {len(sample.truth)} shown)</p>"
            "<div class='pair'><table><thead><tr><th>rank</th><th>item</th><th>title</th>"
            f"<th>relevant</th></tr></thead>{recs}</table>"
            "<table><thead><tr><th>truth item</th><th>title</th><th>listed at</th></tr></thead>"
            f"{truth}</table></div></div>"
        )
    return (
        "<h2>Sample lists</h2><p class='note'>A few evaluated users drawn at random (seeded): "
        "their recommendations next to their held-out items.</p>" + "".join(blocks)
    )


def _fmt(value: Any) -> str:
    return "" if value is None or value != value else f"{value:.4f}"


def _curve_figure(curves: pd.DataFrame, longest: int | None = None) -> go.Figure:
    """Metric@K for K = 1..the longest list (past it nothing but precision changes)."""
    shown = curves if not longest else curves.loc[curves["k"] <= longest]
    fig = go.Figure()
    for name in METRIC_NAMES:
        fig.add_trace(go.Scatter(x=shown["k"], y=shown[name], mode="lines", name=name))
    fig.update_layout(title="Metric@K", xaxis_title="K", yaxis_title="value", height=420)
    return fig


def _segment_figure(
    segments: Mapping[str, Mapping[str, Any]], ks: Sequence[int], title: str = "Per segment"
) -> go.Figure:
    k = ks[0] if ks else 10
    names = list(segments)
    fig = go.Figure()
    for metric in ("ndcg", "recall", "precision", "hit_rate"):
        key = f"{metric}@{k}"
        low, high = [], []
        for s in names:
            mean = segments[s].get(key)
            bounds = (segments[s].get("ci") or {}).get(key) or [None, None]
            ok = mean is not None and bounds[0] is not None and bounds[0] == bounds[0]
            low.append(mean - bounds[0] if ok else 0.0)
            high.append(bounds[1] - mean if ok else 0.0)
        error = {"type": "data", "array": high, "arrayminus": low, "visible": any(high)}
        fig.add_trace(
            go.Bar(x=names, y=[segments[s].get(key) for s in names], name=key, error_y=error)
        )
    users = [f"{s}<br>{segments[s].get('users', 0):,} users" for s in names]
    fig.update_xaxes(ticktext=users, tickvals=names, categoryorder="array", categoryarray=names)
    fig.update_layout(title=f"{title} @{k} (95% CI)", barmode="group", height=460)
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


def _pairs(names: tuple[str, str] | Sequence[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    if len(names) == 2 and all(isinstance(x, str) for x in names):
        return [(str(names[0]), str(names[1]))] * n
    pairs = [(str(a), str(b)) for a, b in names]  # type: ignore[str-unpack]
    if len(pairs) != n:
        raise ValueError(f"{len(pairs)} name pairs for {n} comparisons")
    return pairs


def _comparison_table(comparisons: Sequence[Comparison], names: Sequence[tuple[str, str]]) -> str:
    """One row per comparison; the systems name the columns when every row compares the same
    two (``mean popularity``, ``ease - popularity``), else each row names them (A, B)."""
    same = len(set(names)) == 1
    a0, b0 = (html.escape(n) for n in names[0])
    labels = (
        ("metric", "users", a0, b0, f"{b0} - {a0}", "95% CI")
        if same
        else ("metric", "A", "B", "users", "mean A", "mean B", "B - A", "95% CI of B - A")
    )
    head = "".join(f"<th>{h}</th>" for h in (*labels, "t-test p", "Wilcoxon p", "significant"))
    rows = ""
    for c, (a, b) in zip(comparisons, names, strict=True):
        systems = (
            ""
            if same
            else f"<td class='text'>{html.escape(a)}</td><td class='text'>{html.escape(b)}</td>"
        )
        rows += (
            f"<tr><td>{html.escape(c.metric)}</td>{systems}<td>{c.users:,}</td>"
            f"<td>{c.mean_a:.4f}</td><td>{c.mean_b:.4f}</td><td>{c.difference:+.4f}</td>"
            f"<td>[{c.ci_low:+.4f}, {c.ci_high:+.4f}]</td><td>{c.t_pvalue:.3g}</td>"
            f"<td>{c.wilcoxon_pvalue:.3g}</td><td>{'yes' if c.significant else 'no'}</td></tr>"
        )
    return (
        "<h2>Paired comparison</h2><p class='note'>Over the users both systems were evaluated "
        "on: paired t-test, Wilcoxon signed-rank, and a bootstrap 95% interval of the mean "
        "difference; significant when both p-values are below 0.05.</p>"
        f"<table><thead><tr>{head}</tr></thead>{rows}</table>"
    )
