"""``tailor demo``: the training pipeline on the bundled Online Retail data, explained as it runs.

profile the raw data, then ``tailor train`` with the bundled config
(``tailor/training/configs/demo.toml``): prepare -> temporal split (test = purchases from
2011-11-09 on, validation carved from train) -> tune each candidate on validation -> choose ->
refit on train + validation -> evaluate on test (novel purchases; cold-start users and items as
their own segments) against popularity -> gate -> report.html -> how to serve it.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from tailor.cli.data import _print_profile
from tailor.cli.options import FORCE
from tailor.cli.train import ConsoleProgress, print_summary
from tailor.data.columns import Columns
from tailor.data.profile import profile
from tailor.data.sources import get_source
from tailor.evaluation.report import REPORT_FILE as EVAL_REPORT_FILE
from tailor.models.model_dir import ModelDir
from tailor.training.config import TrainConfig, bundled_config, load_config
from tailor.training.pipeline import RunSummary, train

SOURCE = "online-retail"
CONFIG = "demo"
"""The bundled training config the demo runs (tailor/training/configs/demo.toml)."""
BASELINE = "popularity"


def _config() -> TrainConfig:
    return load_config(bundled_config(CONFIG))


CANDIDATES: tuple[str, ...] = tuple(c.key for c in _config().candidates)
"""Models the demo tries (the bundled config's candidates; popularity is always the baseline)."""


@click.command("demo")
@click.option("--out", default="demo-output", show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--models",
    default=",".join(CANDIDATES),
    show_default=True,
    help="Comma-separated candidate models (popularity is always the baseline).",
)
@FORCE
def demo(out: Path, models: str, force: bool) -> None:
    """Run the training pipeline on the bundled Online Retail data and explain the result.

    OUT is a run folder: a second demo into it skips every stage whose inputs did not change."""
    config = _config()
    config = config.with_candidates(_candidates(models))
    console = Console()
    with _step(console, "Profiling the raw data"):
        raw = get_source(SOURCE).read(None, None)
        _print_profile(console, profile(raw))
    console.rule("[bold]Training pipeline (tailor train, bundled config demo.toml)")
    summary = train(config, out, force=force, progress=ConsoleProgress(console, trials=True))
    _print_cleaning(console, out)
    _print_validation(console, summary, config.metric.name)
    _print_segments(console, out)
    print_summary(console, summary)
    if summary.gate is not None and not summary.gate.passed:
        console.print(
            "[yellow]In production the gate's refusal keeps the served model; the demo keeps "
            "the chosen model in the run folder so you can look at it.[/yellow]"
        )
    _print_top_products(console, out / "model", out / "prepared" / "items.parquet")
    _print_next_steps(console, out, out / "evaluation" / EVAL_REPORT_FILE)


@contextmanager
def _step(console: Console, title: str) -> Iterator[None]:
    console.rule(f"[bold]{title}")
    start = time.perf_counter()
    with console.status(title + "..."):
        yield
    console.print(f"[dim]{title}: {time.perf_counter() - start:.1f} s[/dim]")


def _candidates(models: str) -> list[str]:
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown or not names:
        raise click.BadParameter(
            f"choose from {', '.join(CANDIDATES)} (got {models!r})", param_hint="--models"
        )
    return list(dict.fromkeys([BASELINE, *names]))


def _print_cleaning(console: Console, out: Path) -> None:
    report = _read(out / "prepared" / "report.json")
    if not report:
        return
    table = Table(title="Cleaning (every dropped row counted)")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_row("rows in", f"{report['rows_in']:,}")
    for rule, n in report.get("dropped", {}).items():
        table.add_row(f"  dropped: {rule.replace('_', ' ')}", f"-{n:,}" if n else "0")
    table.add_row("rows out", f"{report['rows_out']:,}")
    console.print(table)


def _print_validation(console: Console, summary: RunSummary, metric: str) -> None:
    candidates = summary.selection.get("candidates", {})
    if not candidates:
        return
    table = Table(title=f"Validation {metric} (novel purchases): the choice")
    for col in ("model", metric, "trials", "best parameters"):
        table.add_column(col, justify="right" if col in (metric, "trials") else "left")
    for name, cand in candidates.items():
        params = ", ".join(f"{k}={_short(v)}" for k, v in cand.get("params", {}).items())
        trials = len(cand.get("tuning", {}).get("trials", []))
        style = "bold" if name == summary.chosen else None
        table.add_row(name, f"{cand['validation']:.4f}", str(trials), params, style=style)
    console.print(table)
    console.print(f"Best on validation: [bold]{summary.chosen}[/bold]")


def _print_segments(console: Console, out: Path) -> None:
    metrics = _read(out / "evaluation" / "metrics.json")
    if not metrics:
        return
    table = Table(title="Test period (novel purchases), the chosen model per segment")
    table.add_column("segment")
    for col in ("users", "NDCG@10", "Rec@20", "P@10", "Cov@10"):
        table.add_column(col, justify="right")
    rows = {"all": metrics, **metrics.get("segments", {})}
    for seg, values in rows.items():
        if seg != "all" and not seg.startswith(("user:", "item:")):
            continue
        table.add_row(seg, *_cells(values))
    console.print(table)


def _cells(values: dict[str, Any]) -> list[str]:
    users = values.get("users", values.get("n_users", 0))
    out = [f"{int(users):,}"]
    for key in ("ndcg@10", "recall@20", "precision@10", "coverage@10"):
        v = values.get(key)
        out.append("-" if v is None else f"{float(v):.4f}")
    return out


def _print_top_products(console: Console, model_dir: Path, items_file: Path) -> None:
    popularity = ModelDir.load_popularity(model_dir)
    if popularity is None:
        return
    top = popularity.top_items(10)
    items = pd.read_parquet(items_file) if items_file.is_file() else None
    titles = None
    if items is not None and Columns.TITLE in items:
        titles = items.set_index(Columns.ITEM_ID)[Columns.TITLE]
    table = Table(title="Top products (the fallback for new customers)")
    for col in ("rank", "item_id", "title", "score"):
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for rank, (item, score) in enumerate(
        zip(top[Columns.ITEM_ID], top[Columns.SCORE], strict=True)
    ):
        title = str(titles.get(item, "")) if titles is not None else ""
        table.add_row(str(rank + 1), item, title, f"{score:,.1f}")
    console.print(table)


def _print_next_steps(console: Console, out: Path, report: Path) -> None:
    console.rule("[bold]Done")
    console.print(f"Run report:  {(out / 'report.html').resolve()}")
    console.print(f"Test report: {report.resolve()}")
    console.print(f"Metrics:     {(report.parent / 'metrics.json').resolve()}")
    console.print(f"Model:       {(out / 'model').resolve()}")
    console.print(f"Serve it:    {_program()} serve --model-dir {out / 'model'}")
    console.print("Ask it:      curl 'http://127.0.0.1:8000/v1/recommendations/17850?n=5'")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _program() -> str:
    """How this ``tailor`` was called (``.venv/bin/tailor`` from make, ``tailor`` when on PATH)."""
    called = Path(sys.argv[0])
    if called.name != "tailor" or shutil.which("tailor") == str(called.resolve()):
        return "tailor"
    try:
        return str(called.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(called)
