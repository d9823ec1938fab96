"""``tailor data``: profile and prepare interaction data (``split`` comes from cli/data_split)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailor.cli.options import out_folder, stderr_progress
from tailor.data.cleaning import CleaningReport, StepCallback
from tailor.data.prepare import prepare
from tailor.data.prepared import PROPERTIES_FILE, REPORT_FILE
from tailor.data.profile import profile
from tailor.data.sources import SOURCES, read_source
from tailor.outputs import check_output, output_dir, output_file

_SOURCE = click.argument("source", type=click.Choice(list(SOURCES)), metavar="SOURCE")
_INPUT = click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    help="Input file or folder (online-retail: the CSV/Parquet, default the bundled copy; "
    "movielens-100k: the ml-100k folder; generic: overrides [interactions] path).",
)
_CONFIG = click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Source config TOML: column mapping and [cleaning] options (required for generic).",
)


@click.group("data")
def data() -> None:
    """Profile, prepare (clean) and split interaction data."""


@data.command("profile")
@_SOURCE
@_INPUT
@_CONFIG
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write as JSON.")
def profile_command(
    source: str, input_path: Path | None, config: Path | None, json_path: Path | None
) -> None:
    """Show what SOURCE holds, as read: rows, users, items, density, activity, event mix,
    time span, missing values and duplicate rows."""
    err = Console(stderr=True)
    with err.status(f"reading {source}"):
        raw = read_source(source, input_path, config)
        stats = profile(raw)
    _print_profile(Console(), stats)
    if json_path is not None:
        with output_file(json_path, inputs=(input_path, config)) as tmp:
            tmp.write_text(json.dumps(stats, indent=2, default=str) + "\n")
        click.echo(f"profile written to {json_path}")


@data.command("prepare")
@_SOURCE
@_INPUT
@_CONFIG
@out_folder("Folder for interactions/items/users.parquet and report.json.")
def prepare_command(
    source: str, input_path: Path | None, config: Path | None, out: Path, force: bool
) -> None:
    """Clean SOURCE into tailor's contract and write it to --out, with a report of every rule.

    The folder appears whole or not at all, and never over the files it reads."""
    check_output(out, (input_path, config), force=force)
    with _progress() as on_step:
        prepared, report = prepare(source, input_path, config, on_step=on_step)
        on_step("writing Parquet")
        inputs = (input_path, config, *report.provenance.get("files", ()))
        with output_dir(out, command="data prepare", inputs=inputs, force=force) as staging:
            prepared.save(staging)
            report.save(staging / REPORT_FILE)
    _print_report(Console(), report, out)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


@contextmanager
def _progress() -> Iterator[StepCallback]:
    """A transient progress display on stderr with one line per stage (terminals only, so
    logs and error output stay clean)."""
    with stderr_progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
    ) as progress:
        current: list[Any] = []

        def on_step(name: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(name, total=None))

        yield on_step


def _print_profile(console: Console, stats: dict[str, Any]) -> None:
    overview = Table(title=f"Profile of {stats['source']} (as read, before cleaning)")
    overview.add_column("measure")
    overview.add_column("value", justify="right")
    span = stats["time_span"]
    for name, value in (
        ("rows", f"{stats['rows']:,}"),
        ("exact duplicate rows", f"{stats['duplicates']:,}"),
        ("users", f"{stats['users']:,}"),
        ("items", f"{stats['items']:,}"),
        ("distinct (user, item) pairs", f"{stats['pairs']:,}"),
        ("density", f"{stats['density']:.4%}"),
        ("first event", str(span["start"])),
        ("last event", str(span["end"])),
        ("span (days)", f"{span['days']:.1f}"),
        *_busiest(stats.get("events_per_user_day", {})),
    ):
        overview.add_row(name, value)
    console.print(overview)
    activity = Table(title="Interactions per user and per item")
    activity.add_column("")
    keys = list(stats["interactions_per_user"])
    for key in keys:
        activity.add_column(key, justify="right")
    for label, dist in (
        ("per user", "interactions_per_user"),
        ("per item", "interactions_per_item"),
    ):
        activity.add_row(label, *(f"{stats[dist].get(k, 0):,.1f}" for k in keys))
    console.print(activity)
    mix = Table(title="Event types")
    mix.add_column("event type")
    mix.add_column("rows", justify="right")
    for name, n in stats["event_types"].items():
        mix.add_row(name, f"{n:,}")
    console.print(mix)
    missing = Table(title="Missing values")
    for col in ("table", "column", "missing"):
        missing.add_column(col, justify="right" if col == "missing" else "left")
    for table, cols in stats["missing"].items():
        for col, n in cols.items():
            if n:
                missing.add_row(table, col, f"{n:,}")
    console.print(missing if missing.row_count else "Missing values: none")


def _busiest(per_day: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows of the overview for the busiest (user, day): a bot shows here."""
    if "busiest" not in per_day:
        return []
    top = per_day["busiest"]
    return [
        ("events per user-day (p99)", f"{per_day['p99']:,.0f}"),
        ("busiest user-day", f"{top['events']:,} (user {top['user_id']}, {top['day']})"),
    ]


def _print_report(console: Console, report: CleaningReport, out: Path) -> None:
    table = Table(title=f"Cleaning {report.source}")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_row("rows in", f"{report.rows_in:,}")
    for rule, n in report.dropped.items():
        table.add_row(f"  dropped: {rule.replace('_', ' ')}", f"-{n:,}" if n else "0")
    table.add_row("rows out", f"{report.rows_out:,}", style="bold")
    console.print(table)
    if report.changed:
        changed = Table(title="Changed without dropping rows")
        changed.add_column("what")
        changed.add_column("count", justify="right")
        for what, n in report.changed.items():
            changed.add_row(what, f"{n:,}")
        console.print(changed)
    files = "interactions.parquet, items.parquet, users.parquet"
    if (out / PROPERTIES_FILE).is_file():
        files = (
            "interactions.parquet, items.parquet (each property's latest value), users.parquet, "
            f"{PROPERTIES_FILE} (the property log)"
        )
    console.print(
        f"{report.items:,} items, {report.users:,} users. Wrote {files} and {REPORT_FILE} to {out}"
    )


try:
    from tailor.cli.data_split import split

    data.add_command(split)
except ModuleNotFoundError as exc:  # the split command is built separately
    if exc.name != "tailor.cli.data_split":
        raise
