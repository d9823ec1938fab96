"""The run's ``report.html``: stages, candidates on validation, the studies' plots (optimisation
history, parameter importances, parallel coordinates: ``optuna.visualization``), the test
comparisons and the gate. Self-contained: plotly.js is inlined once, the page opens offline.

Stability: experimental.
"""

from __future__ import annotations

import html
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tailor.outputs import output_file
from tailor.training.config import TrainConfig
from tailor.training.stages import RunRecord

REPORT_FILE = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
thead { background: #f2f2f2; }
.note { color: #555; font-size: 0.9rem; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #b42318; font-weight: bold; }
"""


def study_figures(study: Any, title: str) -> list[Any]:
    """Optuna's optimisation history, parameter importances (PED-ANOVA: no scikit-learn) and
    parallel coordinates of ``study``; a plot that cannot be drawn (too few trials, a single
    parameter) is left out."""
    import optuna.visualization as vis
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    figures = []
    makers = [
        ("optimisation history", lambda: vis.plot_optimization_history(study)),
        (
            "parameter importances",
            lambda: vis.plot_param_importances(study, evaluator=PedAnovaImportanceEvaluator()),
        ),
        ("parallel coordinates", lambda: vis.plot_parallel_coordinate(study)),
    ]
    if len(study.get_trials(deepcopy=False)) < 2:
        return []  # one trial (no search): nothing to plot
    for name, make in makers:
        if name != "optimisation history" and (
            len(complete) < 2 or not any(t.params for t in complete)
        ):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # few trials per regime: the plot says enough
                fig = make()
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        fig.update_layout(title=f"{title}: {name}", height=380)
        figures.append(fig)
    return figures


def rebuild_study(config: TrainConfig, key: str, tuning: Mapping[str, Any]) -> Any:
    """An in-memory study from a candidate's stored trials (``selection.json``), for the plots of
    a run whose tuning stage was skipped."""
    from tailor.training.tuning import (
        COMPLETE,
        TrialRecord,
        TuningSettings,
        _recorded_study,
    )

    candidate = next(c for c in config.candidates if c.key == key)
    records = [
        TrialRecord(
            number=int(t["number"]),
            params=dict(t.get("params") or {}),
            raw=dict(t.get("raw") or {}),
            value=t.get("value"),
            state=str(t["state"]),
            seconds=float(t.get("seconds") or 0.0),
            intermediate={int(k): float(v) for k, v in (t.get("intermediate") or {}).items()},
        )
        for t in tuning.get("trials", [])
    ]
    records = [r for r in records if r.state == COMPLETE or r.intermediate]
    return _recorded_study(candidate.search_space(), records, TuningSettings(study=key))


def write_run_report(
    run: Path, config: TrainConfig, record: RunRecord, selection: Any = None
) -> Path:
    """Write ``RUN/report.html``; returns its path. ``selection`` is the in-memory
    :class:`~tailor.training.selection.Selection` when tuning ran in this process (its
    studies); otherwise they are rebuilt from ``tuning/selection.json``."""
    stored = _read(run / "tuning" / "selection.json")
    systems = _read(run / "evaluation" / "systems.json")
    comparisons = _read(run / "evaluation" / "comparisons.json", [])
    gate = _read(run / "gate.json")
    parts = [
        _stages_table(record),
        _gate_html(gate),
        _candidates_table(stored, config.metric.name),
        _systems_table(systems, config.metric.k),
        _comparisons_table(comparisons),
    ]
    figures = []
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        parts.append(
            "<p class='note'>Study plots need Optuna: pip install 'tailor-recsys[train]'.</p>"
        )
        stored = {}
    for key, cand in (stored.get("candidates") or {}).items():
        study = None
        if selection is not None and key in selection.results:
            study = selection.results[key].tuning.study
        if study is None:
            try:
                study = rebuild_study(config, key, cand.get("tuning", {}))
            except (StopIteration, ValueError, KeyError):
                continue
        figures.extend(study_figures(study, key))
    page = _page(f"tailor train: {config.name}", parts, figures)
    target = run / REPORT_FILE
    with output_file(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _page(title: str, parts: Sequence[str], figures: Sequence[Any]) -> str:
    plots = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)
    ]
    body = "".join([f"<h1>{html.escape(title)}</h1>", *parts, "<h2>Tuning</h2>", *plots])
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _stages_table(record: RunRecord) -> str:
    rows = [
        [
            html.escape(name),
            html.escape(str(entry.get("status", ""))),
            f"{float(entry.get('seconds') or 0.0):.1f}",
            f"<span class='text'>{html.escape(str(entry.get('summary', '')))}</span>",
            f"<code>{html.escape(str(entry.get('fingerprint', ''))[:12])}</code>",
        ]
        for name, entry in record.stages.items()
    ]
    note = (
        "<p class='note'>A stage is skipped when its fingerprint (its config section, its input "
        "files' contents and the stages it reads from) is unchanged since the last run.</p>"
    )
    return (
        "<h2>Stages</h2>" + note + _table(["stage", "status", "s", "summary", "fingerprint"], rows)
    )


def _gate_html(gate: Mapping[str, Any]) -> str:
    if not gate:
        return ""
    verdict = str(gate.get("verdict", ""))
    cls = "pass" if verdict in ("accepted", "forced") else "fail"
    rows = [
        [
            html.escape(str(c.get("name"))),
            f"<span class='{'pass' if c.get('passed') else 'fail'}'>"
            f"{'pass' if c.get('passed') else 'fail'}</span>",
            f"<span class='text'>{html.escape(str(c.get('detail')))}</span>",
        ]
        for c in gate.get("checks", [])
    ]
    cand = gate.get("candidate", {})
    return (
        f"<h2>Gate: <span class='{cls}'>{html.escape(verdict)}</span></h2>"
        f"<p>{html.escape(str(cand.get('name')))} ({html.escape(str(cand.get('version')))})</p>"
        + _table(["check", "result", "numbers"], rows)
    )


def _candidates_table(stored: Mapping[str, Any], metric: str) -> str:
    rows = []
    best = stored.get("best")
    for key, cand in (stored.get("candidates") or {}).items():
        tuning = cand.get("tuning", {})
        counts = tuning.get("counts", {})
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in (cand.get("params") or {}).items())
        name = f"<b>{html.escape(key)}</b>" if key == best else html.escape(key)
        rows.append(
            [
                name,
                f"{float(cand.get('validation', float('nan'))):.4f}",
                str(sum(counts.values())),
                str(counts.get("pruned", 0)),
                str(counts.get("failed", 0)),
                f"{float(tuning.get('seconds') or 0.0):.1f}",
                f"<span class='text'>{html.escape(params)}</span>",
            ]
        )
    how = stored.get("objective") or {}
    scored = (
        f"mean {metric} over {how.get('periods')} backtest periods of {how.get('horizon')}"
        if how.get("name") == "backtest"
        else f"validation {metric}"
    )
    periods = stored.get("periods") or {}
    shown = (
        "<p>the chosen setting per period: "
        + html.escape(", ".join(f"{o} {_fmt(v)}" for o, v in periods.items()))
        + "</p>"
        if periods
        else ""
    )
    return (
        f"<h2>Candidates ({html.escape(scored)})</h2>"
        + _table(["candidate", metric, "trials", "pruned", "failed", "s", "best parameters"], rows)
        + shown
    )


def _systems_table(systems: Mapping[str, Any], ks: Sequence[int]) -> str:
    if not systems:
        return ""
    keys = [f"{m}@{k}" for k in ks for m in ("ndcg", "recall", "precision", "coverage")]
    rows = []
    for name, info in systems.items():
        metrics = info.get("metrics", {})
        rows.append(
            [html.escape(name), html.escape(str(info.get("version", "")))]
            + [_fmt(metrics.get(k)) for k in keys]
        )
    return "<h2>Test period</h2>" + _table(["system", "version", *keys], rows)


def _comparisons_table(comparisons: Sequence[Mapping[str, Any]]) -> str:
    if not comparisons:
        return ""
    rows = [
        [
            html.escape(f"{c['metric']} vs {c['other']}"),
            f"{int(c['users']):,}",
            _fmt(c["mean_b"]),
            _fmt(c["mean_a"]),
            f"{float(c['difference']):+.4f}",
            f"{float(c['t_pvalue']):.3g}",
            f"{float(c['wilcoxon_pvalue']):.3g}",
            "yes" if c.get("significant") else "no",
        ]
        for c in comparisons
    ]
    return "<h2>Paired tests on test</h2>" + _table(
        ["comparison", "users", "candidate", "other", "difference", "t p", "Wilcoxon p", "sig."],
        rows,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value)) if value is not None else "-"


def _read(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {} if default is None else default
