"""``tailor evaluate``: score any recommendation file against any truth file."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from tailor.cli.options import FORCE
from tailor.errors import ConfigError, DataError
from tailor.outputs import check_output, output_dir

MAX_K = 100_000
"""The largest --k and --curve-k: tailor.evaluation.runner.MAX_K (a test checks they agree),
written out so that the command's options load without the evaluation package."""


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ConfigError(f"--k must be positive integers, got {text!r}")
    if ks[-1] > MAX_K:
        raise ConfigError(f"--k: {ks[-1]} is more than {MAX_K}, the longest list evaluated")
    return ks


def _split_files(split: Path | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if split is None:
        return None, None
    from tailor.evaluation.io import read_frame

    train_file = split / "train.parquet"
    if not train_file.is_file():
        raise DataError("not a split directory (train.parquet is missing)", file=str(split))
    train = read_frame(train_file)
    items_file = split / "items.parquet"
    items = read_frame(items_file, required=("item_id",)) if items_file.is_file() else None
    return train, items


@click.command()
@click.option(
    "--recs",
    "recs_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Recommendations (CSV/Parquet): user_id, item_id and rank or score.",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Held-out truth (CSV/Parquet): user_id, item_id[, relevance].",
)
@click.option(
    "--k", "k_text", default="5,10,20", show_default=True, help="Comma-separated list lengths."
)
@click.option(
    "--split",
    "split_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Split directory: train.parquet (popularity, activity, warm/cold) and "
    "items.parquet (coverage, diversity).",
)
@click.option(
    "--relevance-column",
    default=None,
    help="Truth column with graded relevance (default: 'relevance' if present, else 1).",
)
@click.option(
    "--gain",
    type=click.Choice(["linear", "exponential"]),
    default="linear",
    show_default=True,
    help="NDCG gain: rel or 2^rel - 1.",
)
@click.option(
    "--curve-k",
    default=100,
    show_default=True,
    type=click.IntRange(0, MAX_K),
    help="Metric@K curves up to this K (0 = none).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Output directory for metrics.json and report.html (written whole or not at all).",
)
@FORCE
def evaluate(
    recs_path: Path,
    truth_path: Path,
    k_text: str,
    split_dir: Path | None,
    relevance_column: str | None,
    gain: str,
    curve_k: int,
    out_dir: Path,
    force: bool,
) -> None:
    """Evaluate a recommendation file against a truth file (full ranking, no sampling)."""
    from tailor.evaluation.io import read_recs, read_truth
    from tailor.evaluation.report import write_report
    from tailor.evaluation.runner import evaluate as run_evaluation

    ks = _parse_ks(k_text)
    inputs = (recs_path, truth_path, split_dir)
    check_output(out_dir, inputs, force=force)
    console = Console()
    with console.status("reading files"):
        recs = read_recs(recs_path)
        truth = read_truth(truth_path, relevance_column)
        train, items = _split_files(split_dir)
    with console.status("evaluating"):
        result = run_evaluation(
            recs,
            truth,
            ks,
            train=train,
            items=items,
            relevance=relevance_column or "relevance",
            gain=gain,  # type: ignore[arg-type]
            curve_k=curve_k,
        )
        with output_dir(out_dir, command="evaluate", inputs=inputs, force=force) as staging:
            write_report(result, staging, title=f"tailor evaluate: {recs_path.name}")
    console.print(_table(result.metrics, ks))
    console.print(
        f"{result.metrics['n_users']:,} users evaluated "
        f"({result.metrics['n_users_without_relevant']:,} without relevant items excluded)"
    )
    console.print(f"metrics: {out_dir / 'metrics.json'}\nreport:  {out_dir / 'report.html'}")


def _table(metrics: dict[str, object], ks: list[int]) -> Table:
    names = [
        "ndcg",
        "precision",
        "recall",
        "map",
        "mrr",
        "hit_rate",
        "coverage",
        "novelty",
        "diversity",
    ]
    table = Table(title="Evaluation (mean over users)")
    table.add_column("metric")
    for k in ks:
        table.add_column(f"@{k}", justify="right")
    for name in names:
        values = [metrics.get(f"{name}@{k}") for k in ks]
        if all(v is None for v in values):
            continue
        table.add_row(name, *("-" if v is None or v != v else f"{v:.4f}" for v in values))
    return table
