"""``tailor abtest``: an experiment's report from the event log, and the power calculator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from tailor.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from tailor.experiments.analysis import ExperimentResult
    from tailor.experiments.config import Experiment


@click.group()
def abtest() -> None:
    """A/B tests: reports and sample sizes (docs/experiments.md)."""


@abtest.command()
@click.argument("experiment")
@click.option(
    "--events",
    "source",
    required=True,
    help="The embedded event log (sqlite:////abs/events.db) or a file (.parquet, .csv, "
    ".jsonl) with exposures, clicks, add-to-carts and purchases.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TAILOR_SETTINGS_FILE",
    help="TOML file with the [[experiments]] (the serve settings file or its own); default "
    "$TAILOR_SETTINGS_FILE. Without one the variants are taken from the exposures (equal "
    "weights assumed by the sample-ratio check).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report here (self-contained, opens offline).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
)
@click.option(
    "--window-s",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Attribution window in seconds (default: the experiment's, else 1 day).",
)
def report(
    experiment: str,
    source: str,
    config: Path | None,
    out: Path | None,
    alpha: float,
    window_s: float | None,
) -> None:
    """Per-variant KPIs with confidence intervals (CTR: clicks per list, CR: conversion rate,
    AOV: average order value, RPV: revenue per visitor), the sequential test's verdict and the
    sample-ratio check of EXPERIMENT."""
    from tailor.experiments.analysis import analyse, read_events

    events = read_events(source)
    declared = _experiment(experiment, config, events)
    result = analyse(events, declared, alpha=alpha, window_s=window_s)
    _print(result)
    if out is not None:
        from tailor.experiments.report import write_report
        from tailor.outputs import output_file

        with output_file(out, suffix=".html") as tmp:
            write_report(result, tmp)
        click.echo(f"report: {out}")


def _experiment(name: str, config: Path | None, events: pd.DataFrame) -> Experiment:
    from tailor.experiments.analysis import exposures_of
    from tailor.experiments.config import Experiment, find_experiment, read_experiments

    if config is not None:
        return find_experiment(read_experiments(config), name)
    lists = exposures_of(events, name)
    names = sorted(set(lists["variant"]))
    if not names:
        raise ConfigError(f"no exposure of experiment {name!r} in the events, and no --config")
    if "control" in names:
        names.remove("control")
        names.insert(0, "control")
    click.echo(
        f"no --config: variants from the exposures, control {names[0]!r}, equal weights",
        err=True,
    )
    return Experiment.model_validate({"name": name, "variants": [{"name": n} for n in names]})


def _print(result: ExperimentResult) -> None:
    from tailor.experiments.report import comparison_rows, variant_rows

    console = Console(width=None if Console().is_terminal else 160)
    for title, (headers, rows) in (
        (f"experiment {result.experiment.name}", variant_rows(result, short=True)),
        ("against the control", comparison_rows(result)),
    ):
        table = Table(title=title)
        for header in headers:
            table.add_column(header, justify="left" if header in ("variant", "metric") else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    srm = result.srm
    state = "ALARM" if srm.alarm else "ok"
    console.print(f"sample ratio: chi2 {srm.chi2:.3g}, p {srm.p_value:.3g} ({state})")
    for note in result.notes:
        console.print(f"note: {note}")
    for v in result.variants[1:]:
        console.print(f"verdict: {result.verdict(v.variant.name)}")


@abtest.command()
@click.option("--baseline", type=float, required=True, help="The control's rate, e.g. 0.05.")
@click.option(
    "--lift",
    type=float,
    required=True,
    help="The change to detect: relative (0.1 = +10 %), or absolute with --absolute.",
)
@click.option("--absolute", is_flag=True, help="--lift is an absolute change of the rate.")
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Two-sided significance level.",
)
@click.option(
    "--power",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
)
@click.option(
    "--variants",
    type=click.IntRange(2),
    default=2,
    show_default=True,
    help="Variants sharing the traffic (the total is per-variant n times this).",
)
def power(
    baseline: float, lift: float, absolute: bool, alpha: float, power: float, variants: int
) -> None:
    """Visitors per variant to detect a change of a conversion rate (two-proportion z-test,
    one look; the sequential test needs more, see docs/experiments.md)."""
    from tailor.experiments.stats import sample_size_two_proportions

    try:
        n = sample_size_two_proportions(
            baseline, lift, alpha=alpha, power=power, relative=not absolute
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    target = baseline + lift if absolute else baseline * (1 + lift)
    click.echo(
        f"{baseline:g} -> {target:g} (alpha {alpha:g}, power {power:g}): "
        f"{n:,} visitors per variant, {n * variants:,} in all"
    )
