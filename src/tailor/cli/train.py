"""``tailor train``: the training pipeline of one TOML file, once or on a schedule.

prepare -> split -> tune each candidate on validation -> choose -> refit on train + validation ->
evaluate on test against popularity and the active model (paired tests) -> gate -> publish to
the model store (the server picks it up) or refuse, saying why. Stages whose inputs are
unchanged since the last run in the same folder are skipped. See docs/training.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tailor.training.stages import StageResult
from tailor.training.tuning import TrialRecord

STAGE_TITLES = {
    "prepare": "Reading and cleaning the source",
    "split": "Splitting into train, validation and test",
    "tune": "Tuning each candidate on validation",
    "refit": "Refitting the best on train + validation",
    "evaluate": "Evaluating on the test period against the baselines",
    "gate": "Gate: may it replace the served model?",
    "publish": "Publishing to the model store",
    "report": "Writing the run's report",
}


class ConsoleProgress:
    """Stage starts and ends, one line per tuning trial, on a rich console."""

    def __init__(
        self, console: Console, *, trials: bool = True, objective: str = "validation"
    ) -> None:
        self.console = console
        self.trials = trials
        self.started: dict[str, float] = {}
        self.objective = objective

    def stage(self, name: str, event: str, result: StageResult | None = None) -> None:
        title = STAGE_TITLES.get(name, name)
        if name == "tune" and self.objective == "backtest":
            title = "Tuning each candidate over backtest periods (train + validation)"
        if event == "start":
            self.started[name] = time.perf_counter()
            self.console.print(f"[bold]{title}[/bold] ...")
        elif event == "skip":
            summary = result.summary if result is not None else ""
            self.console.print(f"[dim]{title}: unchanged inputs, skipped ({escape(summary)})[/dim]")
        elif event == "done" and result is not None:
            seconds = time.perf_counter() - self.started.get(name, time.perf_counter())
            self.console.print(f"  {escape(result.summary)} [dim]({seconds:.1f} s)[/dim]")

    def trial(self, candidate: str, record: TrialRecord) -> None:
        if not self.trials:
            return
        value = "-" if record.value is None else f"{record.value:.4f}"
        extra = ""
        if record.state == "pruned":
            extra = f" at epoch {max(record.intermediate, default=0)}"
        elif record.state == "failed" and record.error:
            extra = f": {escape(record.error)}"
        self.console.print(
            f"  [dim]{candidate} trial {record.number}: {record.state} {value}{extra} "
            f"({record.seconds:.1f} s)[/dim]"
        )

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/yellow]")


@click.command("train")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The pipeline's TOML file (source, split, candidates, tuning, metric, gate, publish).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Run folder [default: the config's [output] dir]; unchanged stages there are skipped.",
)
@click.option("--models", help="Only these candidates (comma-separated names).")
@click.option("--trials", type=click.IntRange(min=1), help="Override [tuning] trials.")
@click.option(
    "--storage", help="Override [tuning] storage: an Optuna RDB URL, e.g. postgresql://u@h/db."
)
@click.option("--workers", type=click.IntRange(min=1), help="Override [tuning] workers.")
@click.option(
    "--objective",
    type=click.Choice(["validation", "backtest"]),
    help="Override [tuning] objective: backtest scores each trial by its mean over rolling "
    "periods of train + validation.",
)
@click.option(
    "--periods", type=click.IntRange(min=1), help="Override [tuning] periods (backtest objective)."
)
@click.option(
    "--rerun",
    multiple=True,
    metavar="STAGE",
    help="Run this stage even when unchanged (repeatable; 'all' for every stage).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish even when the gate refuses (logged in gate.json and the manifest).",
)
@click.option(
    "--every",
    help="Retrain on a schedule: 30s, 15m, 6h, 1d (a loop; cron and CronJob: docs/training.md).",
)
@click.option(
    "--cycles", type=click.IntRange(min=1), help="With --every: stop after this many runs."
)
def train(
    config_path: Path,
    out: Path | None,
    models: str | None,
    trials: int | None,
    storage: str | None,
    workers: int | None,
    objective: str | None,
    periods: int | None,
    rerun: tuple[str, ...],
    force: bool,
    every: str | None,
    cycles: int | None,
) -> None:
    """Run the training pipeline of CONFIG: tune, choose, refit, evaluate, gate, publish.

    Writes the run folder (prepared/, split/, tuning/, model/, baseline/, evaluation/,
    gate.json, report.html, stages.json, history.jsonl) and prints a summary. Exit status 0
    when the model was accepted or nothing changed, 3 when the gate refused it (the served
    model stays)."""
    from tailor.training.config import load_config
    from tailor.training.pipeline import parse_every, train_every
    from tailor.training.pipeline import train as run_pipeline

    config = load_config(config_path)
    config = _override(
        config,
        models=models,
        trials=trials,
        storage=storage,
        workers=workers,
        objective=objective,
        periods=periods,
    )
    console = Console(highlight=False)
    progress = ConsoleProgress(console, objective=config.tuning.objective)
    if cycles is not None and every is None:
        raise click.UsageError("--cycles needs --every")
    if every is None:
        summary = run_pipeline(config, out, force_gate=force, rerun=rerun, progress=progress)
        print_summary(console, summary)
        if summary.gate is not None and not summary.gate.publish:
            raise SystemExit(3)
        return
    interval = parse_every(every)
    console.print(f"Retraining every {every} ({interval:,.0f} s); Ctrl-C stops.")

    def cycle(n: int) -> None:
        console.rule(f"[bold]Cycle {n + 1}" + (f" of {cycles}" if cycles else ""))

    results = train_every(
        config,
        out,
        interval,
        cycles=cycles,
        before_cycle=cycle,
        force_gate=force,
        rerun=rerun,
        progress=progress,
    )
    for summary in results:
        print_summary(console, summary, brief=True)


def _override(config: Any, **given: Any) -> Any:
    """The config with the command line's overrides."""
    if given["models"]:
        names = [m.strip() for m in given["models"].split(",") if m.strip()]
        try:
            config = config.with_candidates(names)
        except Exception as exc:
            raise click.BadParameter(str(exc), param_hint="--models") from None
    tuning = {
        k: v
        for k, v in given.items()
        if k in ("trials", "storage", "workers", "objective", "periods") and v is not None
    }
    if tuning:
        config = config.model_copy(update={"tuning": config.tuning.model_copy(update=tuning)})
    return config


def print_summary(console: Console, summary: Any, *, brief: bool = False) -> None:
    """The stages table, the test numbers and the gate's verdict."""
    if not brief:
        table = Table(title="Stages")
        for col in ("stage", "status", "s", "summary"):
            table.add_column(col, justify="right" if col == "s" else "left", overflow="fold")
        for stage in summary.stages:
            style = "dim" if stage.status == "skipped" else None
            table.add_row(
                stage.name, stage.status, f"{stage.seconds:.1f}", escape(stage.summary), style=style
            )
        console.print(table)
        if summary.test:
            tests = Table(title="Test period")
            keys = sorted({k for m in summary.test.values() for k in m if k.startswith("ndcg@")})
            keys += sorted(
                {k for m in summary.test.values() for k in m if k.startswith(("recall@", "cov"))}
            )
            tests.add_column("system")
            for key in keys:
                tests.add_column(key, justify="right")
            for name, metrics in summary.test.items():
                tests.add_row(name, *[f"{metrics.get(k, float('nan')):.4f}" for k in keys])
            console.print(tests)
    gate = summary.gate
    if gate is not None:
        colour = "green" if gate.passed else "yellow" if gate.forced else "red"
        console.print(f"Gate: [bold {colour}]{gate.verdict}[/bold {colour}]")
        for reason in gate.reasons:
            console.print(f"  - {escape(reason)}")
    if summary.published:
        console.print(f"Published: {summary.published}")
    if summary.active:
        console.print(f"Active (served): {summary.active}")
    console.print(f"Run folder: {summary.run_dir} ({summary.seconds:.1f} s)")
    console.print(f"Report:     {(summary.run_dir / 'report.html').resolve()}")
