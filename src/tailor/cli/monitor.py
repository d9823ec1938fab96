"""``tailor monitor``: drift and data-quality checks on a schedule (docs/monitoring.md).

tailor monitor --config tailor.toml --once            # one run, a table, then exit
tailor monitor --config tailor.toml --every 15m --metrics-port 9108

Reads ``[monitoring]`` (and ``[serve]``'s event log and model store) of the shared settings
file; alerts go to the log, the webhook and the Prometheus gauges.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

SETTINGS_FILE_ENV = "TAILOR_SETTINGS_FILE"
STYLE = {"ok": "green", "alert": "bold red", "skipped": "dim"}


@click.command()
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Settings file: [monitoring], [serve] tables.  [env TAILOR_SETTINGS_FILE]",
)
@click.option("--once", is_flag=True, help="One run, then exit.")
@click.option("--every", help="Time between runs, e.g. 15m (default: the settings', 15m).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The monitor's state file (default: the settings').",
)
@click.option("--metrics-port", type=int, help="Serve the Prometheus gauges on this port.")
@click.option(
    "--now",
    help="Judge the windows ending at this ISO time instead of the clock (replays, tests).",
)
@click.option("--quiet", is_flag=True, help="No table, only the alerts' log lines.")
def monitor(
    config: Path | None,
    once: bool,
    every: str | None,
    state_file: Path | None,
    metrics_port: int | None,
    now: str | None,
    quiet: bool,
) -> None:
    """Check event volume, mix, validity, unknown ids, feature, score and KPI drift."""
    import pandas as pd

    from tailor.errors import ConfigError
    from tailor.monitoring.config import load_monitor_settings
    from tailor.monitoring.runner import Monitor, require_log

    file = config or (
        Path(os.environ[SETTINGS_FILE_ENV]) if SETTINGS_FILE_ENV in os.environ else None
    )
    settings = load_monitor_settings(
        file, every=every, state_file=state_file, metrics_port=metrics_port
    )
    require_log(settings)
    try:
        at = None if now is None else pd.Timestamp(now)
    except ValueError:
        raise ConfigError(f"--now {now!r} is not an ISO time") from None
    console = Console(quiet=quiet)
    runner = Monitor(settings)
    if settings.metrics_port:
        runner.metrics.serve(settings.metrics_port)
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        while True:
            report = runner.run_once(at)
            console.print(render(report))
            if once or stop.wait(settings.every):
                break
    finally:
        runner.close()


def render(report: Any) -> Table:
    """The run's results as a table: check, status, value, threshold, message."""
    table = Table(
        title=(
            f"tailor monitor: {report.window.label()}, {report.new_events:,} new events, "
            f"model {report.version or '-'}, {len(report.alerts)} alerts"
        ),
        title_justify="left",
    )
    for column in ("check", "status", "value", "threshold", "message"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        table.add_row(
            r.key,
            f"[{STYLE[r.status]}]{r.status}[/]",
            f"{r.value:.4g}",
            f"{r.threshold:.4g}",
            r.message.split(": ", 1)[-1].removesuffix(f" in {report.window.label()}"),
        )
    return table
