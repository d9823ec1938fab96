"""``tailor backtest``: a model fitted at several rolling cut dates, each scored on the period
after it, with the mean over periods and its confidence interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from tailor.cli.fit import parse_params
from tailor.cli.options import FORCE, parse_ks
from tailor.errors import ConfigError
from tailor.outputs import output_dir

_PATH = click.Path(path_type=Path)
RESULT_FILE = "backtest.json"
PERIODS_FILE = "periods.csv"


@click.command("backtest")
@click.argument("data", type=_PATH)
@click.option("--model", "name", required=True, metavar="NAME", help="The model to backtest.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hyperparameter (repeatable), as for `tailor fit`.",
)
@click.option(
    "--baseline",
    metavar="NAME",
    help="Also backtest this model on the same periods and compare (paired, per period).",
)
@click.option(
    "--baseline-param",
    "baseline_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hyperparameter of --baseline (repeatable).",
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="DATE",
    help="A cut date (repeatable), e.g. 2011-09-01; default: the last --periods complete periods.",
)
@click.option(
    "--periods",
    default=4,
    show_default=True,
    type=click.IntRange(1, 120),
    help="Number of periods when no --origin is given.",
)
@click.option(
    "--horizon",
    default="1m",
    show_default=True,
    help="Length of each test period: 1m (a calendar month), 30d, 2w...",
)
@click.option("--window", help="Train on the last WINDOW before each origin only (e.g. 365d).")
@click.option(
    "--k", "k_text", default="10,20", show_default=True, help="Comma-separated list lengths."
)
@click.option(
    "--metric", default="ndcg@10", show_default=True, help="The metric summarised over periods."
)
@click.option(
    "--novel-only/--all-items",
    default=True,
    show_default=True,
    help="Relevant = test items new to the user at the origin, or every test item.",
)
@click.option(
    "--relevant-events",
    help="Comma-separated event types that count as relevant (e.g. purchase); default all.",
)
@click.option(
    "--cold-users",
    type=click.Choice(["exclude", "fallback"]),
    default="exclude",
    show_default=True,
    help="Users without history at the origin: left out, or scored with the popular list.",
)
@click.option(
    "--ci",
    "ci_method",
    type=click.Choice(["t", "bootstrap"]),
    default="t",
    show_default=True,
    help="Interval of the mean over periods: t (over periods) or a bootstrap of the periods.",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Model seed.")
@click.option(
    "--items", type=_PATH, help="Catalog (item_id, category...); default DATA's items.parquet."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for backtest.json and periods.csv.",
)
@FORCE
def backtest(
    data: Path,
    name: str,
    params: tuple[str, ...],
    baseline: str | None,
    baseline_params: tuple[str, ...],
    origins: tuple[str, ...],
    periods: int,
    horizon: str,
    window: str | None,
    k_text: str,
    metric: str,
    novel_only: bool,
    relevant_events: str | None,
    cold_users: str,
    ci_method: str,
    seed: int,
    items: Path | None,
    out: Path,
    force: bool,
) -> None:
    """Backtest model NAME on DATA (a prepared folder or an interactions file): fit it at each
    origin on everything before, score it on the period after, and report each period and the
    mean over periods with a 95 % interval.

    With --baseline, the same is done for a second model and the difference is reported period
    by period (paired tests over each period's users)."""
    from tailor.data.io import read_interactions, read_items
    from tailor.models.registry import create_model
    from tailor.training.backtest import BacktestPlan, compare_backtests

    hyper = parse_params(params)
    base_hyper = parse_params(baseline_params)
    create_model(name, dict(hyper))  # an unknown model or parameter fails before reading data
    if baseline is not None:
        create_model(baseline, dict(base_hyper))
    elif baseline_params:
        raise ConfigError("--baseline-param needs --baseline")
    ks = parse_ks(k_text)
    events = (
        [e.strip() for e in relevant_events.split(",") if e.strip()] if relevant_events else None
    )
    interactions_file = data / "interactions.parquet" if data.is_dir() else data
    catalog_file = items if items is not None else _default_items(data)
    inputs = (interactions_file, catalog_file)
    frame = read_interactions(interactions_file)
    catalog = read_items(catalog_file) if catalog_file is not None else None
    console = Console(stderr=True)
    with console.status("cutting the periods"):
        plan = BacktestPlan.build(
            frame,
            list(origins) or None,
            n_periods=periods,
            horizon=horizon,
            window=window,
            k=ks,
            items=catalog,
            novel_only=novel_only,
            relevant_events=events,
            cold_users=cold_users,  # type: ignore[arg-type]
        )
    with console.status(f"backtesting {name} over {len(plan.periods)} periods"):
        result = plan.run(name, hyper, metric=metric, seed=seed, ci=ci_method)  # type: ignore[arg-type]
    record: dict[str, Any] = {
        "data": str(interactions_file),
        "horizon": horizon,
        "window": window,
        "novel_only": novel_only,
        "relevant_events": events,
        "cold_users": cold_users,
        "k": list(ks),
        "result": result.to_dict(),
    }
    comparison = None
    base_result = None
    if baseline is not None:
        with console.status(f"backtesting {baseline} over {len(plan.periods)} periods"):
            base_result = plan.run(
                baseline,
                base_hyper,
                metric=metric,
                seed=seed,
                ci=ci_method,  # type: ignore[arg-type]
                label=f"{baseline} (baseline)" if baseline == name else baseline,
            )
        comparison = compare_backtests(base_result, result, metric)
        record["baseline"] = base_result.to_dict()
        record["comparison"] = comparison.to_dict()
    with output_dir(out, command="backtest", inputs=inputs, force=force) as staging:
        (staging / RESULT_FILE).write_text(json.dumps(record, indent=2) + "\n")
        table = result.table()
        if base_result is not None:
            table[f"baseline_{metric}"] = base_result.values(metric)
        table.to_csv(staging / PERIODS_FILE, index=False)
    _print(result, base_result, comparison, out)


def _default_items(data: Path) -> Path | None:
    folder = data if data.is_dir() else data.parent
    candidate = folder / "items.parquet"
    return candidate if candidate.is_file() else None


def _print(result: Any, baseline: Any, comparison: Any, out: Path) -> None:
    metric = result.metric
    table = Table(title=f"tailor backtest: {result.model} ({metric})")
    for column in ("origin", "end", "train rows", "users", metric):
        table.add_column(column, justify="left" if column in ("origin", "end") else "right")
    if baseline is not None:
        table.add_column(baseline.model, justify="right")
        table.add_column("relative", justify="right")
    for i, period in enumerate(result.periods):
        cells = [
            f"{period.origin:%Y-%m-%d}",
            f"{period.end:%Y-%m-%d}",
            f"{period.train_rows:,}",
            f"{period.users:,}",
            f"{period.metrics.get(metric, float('nan')):.4f}",
        ]
        if baseline is not None:
            row = comparison.periods.iloc[i]
            cells += [f"{row['a']:.4f}", f"{row['relative']:+.1%}"]
        table.add_row(*cells)
    Console().print(table)
    click.echo(
        f"{result.model}: mean {metric} {result.mean:.4f} over {len(result.periods)} periods, "
        f"{result.level:.0%} interval [{result.ci_low:.4f}, {result.ci_high:.4f}] "
        f"({result.ci_method}), sd {result.std:.4f}"
    )
    if comparison is not None:
        click.echo(
            f"vs {comparison.a}: mean difference {comparison.mean_difference:+.4f} "
            f"[{comparison.ci_low:+.4f}, {comparison.ci_high:+.4f}], relative "
            f"{comparison.relative:+.1%} (from {comparison.relative_min:+.1%} to "
            f"{comparison.relative_max:+.1%}), higher in {comparison.b_wins} of "
            f"{len(comparison.periods)} periods"
        )
    click.echo(f"results: {out / RESULT_FILE}, {out / PERIODS_FILE}")
