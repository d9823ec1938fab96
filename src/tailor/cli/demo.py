"""``tailor demo``: the whole pipeline on the bundled Online Retail data, explained as it runs.

profile -> prepare -> temporal split (last 30 days as test, validation carved from train) -> fit
candidate models on train -> pick the best on validation -> refit on train + validation -> evaluate
on test (novel purchases; cold-start users and items as their own segments) against Popularity ->
report.html -> how to serve it.
"""

from __future__ import annotations

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

from tailor.cli.data import _print_profile, _print_report
from tailor.cli.options import FORCE
from tailor.data.columns import Columns
from tailor.data.prepare import prepare
from tailor.data.prepared import REPORT_FILE
from tailor.data.profile import profile
from tailor.data.sources import get_source
from tailor.data.split import Split, temporal_split, with_validation
from tailor.evaluation import EvaluationResult, compare, evaluate_model, write_report
from tailor.evaluation.report import REPORT_FILE as EVAL_REPORT_FILE
from tailor.evaluation.truth import unseen_only
from tailor.models.artifacts import record_metrics
from tailor.models.model_dir import ModelDir, fit_model_dir
from tailor.outputs import output_dir

SOURCE = "online-retail"
TEST_FROM = "2011-11-09"
CANDIDATES: dict[str, dict[str, Any]] = {
    "popularity": {},
    "itemknn": {},
    "ease": {},
    "recency-ease": {},
}
"""Models the demo tries, with their parameters (defaults unless stated)."""
K = (10, 20)


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
    """Run the whole pipeline on the bundled Online Retail data and explain the result.

    OUT is built aside and replaces an earlier demo's folder whole at the end."""
    names = _candidates(models)
    console = Console()
    with output_dir(out, command="demo", force=force) as staging:
        with _step(console, "Profiling the raw data"):
            raw = get_source(SOURCE).read(None, None)
            _print_profile(console, profile(raw))
        with _step(console, "Cleaning"):
            prepared, report = prepare(SOURCE)
            prepared.save(staging / "prepared")
            report.save(staging / "prepared" / REPORT_FILE)
            _print_report(console, report, out / "prepared")
        with _step(console, f"Splitting: test = purchases from {TEST_FROM} on"):
            split = with_validation(temporal_split(prepared.interactions, cut=TEST_FROM))
            split.save(staging / "split")
            _print_split(console, split)
        with _step(console, "Choosing a model on the validation period"):
            best = _choose(console, split, prepared.items, names, staging / "candidates")
        with _step(
            console, f"Refitting on train + validation, evaluating {best} on the test period"
        ):
            results = _final(split, prepared.items, best, staging)
        _report(console, results, best, split, staging / "evaluation")
        _print_top_products(console, staging / "model", prepared.items)
    _print_next_steps(console, out, out / "evaluation" / EVAL_REPORT_FILE)


@contextmanager
def _step(console: Console, title: str) -> Iterator[None]:
    console.rule(f"[bold]{title}")
    start = time.perf_counter()
    with console.status(title + "..."):
        yield
    console.print(f"[dim]{title}: {time.perf_counter() - start:.1f} s[/dim]")


def _print_split(console: Console, split: Split) -> None:
    table = Table(title="Temporal split")
    for col in ("part", "rows", "users", "items", "cold users", "cold items"):
        table.add_column(col, justify="left" if col == "part" else "right")
    for name, frame in (
        ("train", split.train),
        ("validation", split.validation),
        ("test", split.test),
    ):
        if frame is None:
            continue
        cold_u = cold_i = "-"
        if Columns.USER_SEGMENT in frame:
            cold_u = (
                f"{frame.loc[frame[Columns.USER_SEGMENT] == 'cold', Columns.USER_ID].nunique():,}"
            )
            cold_i = (
                f"{frame.loc[frame[Columns.ITEM_SEGMENT] == 'cold', Columns.ITEM_ID].nunique():,}"
            )
        table.add_row(
            name,
            f"{len(frame):,}",
            f"{frame[Columns.USER_ID].nunique():,}",
            f"{frame[Columns.ITEM_ID].nunique():,}",
            cold_u,
            cold_i,
        )
    console.print(table)


def _cold(frame: pd.DataFrame, segment: str, key: str) -> str:
    if segment not in frame:
        return "-"
    return f"{frame.loc[frame[segment] == 'cold', key].nunique():,}"


def _validation_split(split: Split) -> Split:
    """Train vs validation, shaped as a split so the same evaluation code scores it."""
    assert split.validation is not None
    return Split(train=split.train, validation=None, test=split.validation, info=split.info)


def _candidates(models: str) -> list[str]:
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown or not names:
        raise click.BadParameter(
            f"choose from {', '.join(CANDIDATES)} (got {models!r})", param_hint="--models"
        )
    return list(dict.fromkeys(["popularity", *names]))


def _choose(
    console: Console, split: Split, items: pd.DataFrame, names: list[str], root: Path
) -> str:
    val = _validation_split(split)
    truth = lambda test: unseen_only(test, val.train)  # noqa: E731
    table = Table(title="Validation NDCG@10 (novel purchases)")
    table.add_column("model")
    table.add_column("ndcg@10", justify="right")
    table.add_column("fit (s)", justify="right")
    scores: dict[str, float] = {}
    for name in names:
        summary = fit_model_dir(split.train, name, CANDIDATES[name], root / name, items=items)
        folder = ModelDir.load(root / name)
        result = evaluate_model(
            folder.model, val, K, fallback=folder.popularity, truth_filter=truth, ci=False
        )
        scores[name] = float(result.metrics["ndcg@10"])
        table.add_row(name, f"{scores[name]:.4f}", f"{summary.fit_seconds:.1f}")
    console.print(table)
    best = max(scores, key=scores.__getitem__)
    console.print(f"Best on validation: [bold]{best}[/bold]")
    return best


def _final(split: Split, items: pd.DataFrame, best: str, out: Path) -> dict[str, EvaluationResult]:
    fit_frame = split.fit_frame()
    truth = lambda test: unseen_only(test, fit_frame)  # noqa: E731
    results: dict[str, EvaluationResult] = {}
    for name in dict.fromkeys(("popularity", best)):
        target = out / "model" if name == best else out / "baseline"
        fit_model_dir(fit_frame, name, CANDIDATES[name], target, items=items)
        folder = ModelDir.load(target)
        results[name] = evaluate_model(
            folder.model, split, K, fallback=folder.popularity, truth_filter=truth, items=items
        )
        record_metrics(target, _headline(results[name].metrics))
    return results


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    """The top-level metric@k means: what the model directory's manifest keeps."""
    return {k: float(v) for k, v in metrics.items() if "@" in k and isinstance(v, int | float)}


def _report(
    console: Console,
    results: dict[str, EvaluationResult],
    best: str,
    split: Split,
    out: Path,
) -> Path:
    comparisons = []
    if best != "popularity":
        base, mine = results["popularity"].per_user, results[best].per_user
        comparisons = [compare(base, mine, metric) for metric in ("ndcg@10", "recall@20")]
    path = write_report(
        results[best],
        out,
        title=f"tailor demo: {best} on Online Retail (test from {TEST_FROM})",
        comparisons=comparisons,
        comparison_names=("popularity", best),
    )
    table = Table(title="Test period (novel purchases), per segment")
    table.add_column("model")
    table.add_column("segment")
    for col in ("users", "NDCG@10", "Rec@20", "P@10", "Cov@10"):
        table.add_column(col, justify="right")
    for name, result in results.items():
        rows = {"all": result.metrics, **result.metrics.get("segments", {})}
        for seg, values in rows.items():
            if seg != "all" and not seg.startswith(("user:", "item:")):
                continue
            table.add_row(name, seg, *_cells(values))
    console.print(table)
    for c in comparisons:
        verdict = "significant" if c.significant else "not significant"
        console.print(
            f"{best} vs popularity on {c.metric}: {c.mean_b:.4f} vs {c.mean_a:.4f} "
            f"(t-test p={c.t_pvalue:.2g}, Wilcoxon p={c.wilcoxon_pvalue:.2g}: {verdict})"
        )
    return path


def _cells(values: dict[str, Any]) -> list[str]:
    users = values.get("users", values.get("n_users", 0))
    out = [f"{int(users):,}"]
    for key in ("ndcg@10", "recall@20", "precision@10", "coverage@10"):
        v = values.get(key)
        out.append("-" if v is None else f"{float(v):.4f}")
    return out


def _print_top_products(console: Console, model_dir: Path, items: pd.DataFrame) -> None:
    popularity = ModelDir.load_popularity(model_dir)
    if popularity is None:
        return
    top = popularity.top_items(10)
    titles = items.set_index(Columns.ITEM_ID).get(Columns.TITLE)
    table = Table(title="Top products (the fallback for new customers)")
    for col in ("rank", "item_id", "title", "customers"):
        table.add_column(col, justify="right" if col in ("rank", "customers") else "left")
    for rank, (item, score) in enumerate(
        zip(top[Columns.ITEM_ID], top[Columns.SCORE], strict=True)
    ):
        title = str(titles.get(item, "")) if titles is not None else ""
        table.add_row(str(rank + 1), item, title, f"{score:,.0f}")
    console.print(table)


def _print_next_steps(console: Console, out: Path, report: Path) -> None:
    console.rule("[bold]Done")
    console.print(f"Report:      {report.resolve()}")
    console.print(f"Metrics:     {(report.parent / 'metrics.json').resolve()}")
    console.print(f"Model:       {(out / 'model').resolve()}")
    console.print(f"Serve it:    {_program()} serve --model-dir {out / 'model'}")
    console.print("Ask it:      curl 'http://127.0.0.1:8000/v1/recommendations/17850?n=5'")


def _program() -> str:
    """How this ``tailor`` was called (``.venv/bin/tailor`` from make, ``tailor`` when on PATH)."""
    called = Path(sys.argv[0])
    if called.name != "tailor" or shutil.which("tailor") == str(called.resolve()):
        return "tailor"
    try:
        return str(called.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(called)
