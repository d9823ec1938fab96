"""``tailor evaluate``: score any recommendation file against any truth file."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailor.cli.options import FORCE, parse_ks, stderr_progress
from tailor.data.columns import Columns
from tailor.errors import ConfigError, DataError
from tailor.outputs import check_output, output_dir

if TYPE_CHECKING:
    from tailor.evaluation.importance import GlobalImportance
    from tailor.evaluation.runner import EvaluationResult
    from tailor.evaluation.significance import Comparison

MAX_K = 100_000
"""The largest --k and --curve-k: tailor.evaluation.runner.MAX_K (a test checks they agree),
written out so that the command's options load without the evaluation package."""
COMPARED = ("ndcg", "recall")
"""Metrics of the paired comparisons, at every --k."""
_PATH = click.Path(path_type=Path)


def _parse_events(text: str | None) -> list[str]:
    if text is None:
        return []
    events = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not events:
        raise ConfigError(f"--relevant-events must name event types, got {text!r}")
    return events


@dataclasses.dataclass
class SplitFiles:
    """What ``--split DIR`` gives: the reference interactions (train + validation), the
    catalogue and the split's description."""

    reference: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    parts: tuple[str, ...] = ()


def read_split_files(split: Path | None) -> SplitFiles:
    """``train.parquet`` (required) plus ``validation.parquet`` (when present) as the reference,
    ``items.parquet`` and ``split.json`` (when present).

    The reference is train + validation: what ``tailor fit --refit`` fits the model on, what
    the split's test tags refer to, and the history ``--novel-only`` measures newness against.
    """
    if split is None:
        return SplitFiles()
    from tailor.evaluation.io import read_frame

    train_file = split / "train.parquet"
    if not train_file.is_file():
        raise DataError("not a split directory (train.parquet is missing)", file=str(split))
    frames = [read_frame(train_file)]
    parts: tuple[str, ...] = ("train",)
    val_file = split / "validation.parquet"
    if val_file.is_file():
        val = read_frame(val_file)
        frames.append(val[[c for c in val.columns if c in frames[0].columns]])
        parts = ("train", "validation")
    reference = frames[0] if len(frames) == 1 else _concat_ids(frames)
    items_file = split / "items.parquet"
    items = read_frame(items_file, required=("item_id",)) if items_file.is_file() else None
    info_file = split / "split.json"
    info: dict[str, Any] = {}
    if info_file.is_file():
        try:
            info = json.loads(info_file.read_text())
        except (OSError, ValueError):
            info = {}
    return SplitFiles(reference, items, info if isinstance(info, dict) else {}, parts)


def _concat_ids(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames whose id columns may be categoricals with different categories."""
    fixed = [
        f.assign(**{c: f[c].astype(str) for c in (Columns.USER_ID, Columns.ITEM_ID)})
        for f in frames
    ]
    return pd.concat(fixed, ignore_index=True)


def filter_truth(
    truth: pd.DataFrame,
    *,
    reference: pd.DataFrame | None,
    novel_only: bool,
    events: Sequence[str],
    truth_file: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply ``--relevant-events`` then ``--novel-only``; returns the truth and what was done
    (``settings.truth`` of metrics.json).

    Raises:
        DataError: no ``event_type`` column for ``--relevant-events``, or no row left.
        ConfigError: ``--novel-only`` without a split to measure newness against.
    """
    from tailor.evaluation.truth import unseen_only

    info: dict[str, Any] = {"file": truth_file, "rows": len(truth)}
    if events:
        if Columns.EVENT_TYPE not in truth.columns:
            raise DataError(
                "--relevant-events needs an event_type column in the truth",
                file=truth_file,
                column=Columns.EVENT_TYPE,
            )
        truth = truth.loc[truth[Columns.EVENT_TYPE].astype(str).isin(events)]
        info["relevant_events"] = list(events)
        info["rows_after_relevant_events"] = len(truth)
    if novel_only:
        if reference is None:
            raise ConfigError(
                "--novel-only needs --split: the train (+ validation) interactions the items "
                "must be new to"
            )
        truth = unseen_only(truth, reference)
        info["novel_only"] = True
        info["rows_after_novel_only"] = len(truth)
    if len(truth) == 0:
        raise DataError(
            "no truth row is left after --relevant-events/--novel-only", file=truth_file
        )
    info["rows_kept"] = len(truth)
    return truth, info


def _truth_words(info: dict[str, Any]) -> str:
    words = [f"{info['file']}: {info['rows_kept']:,} of {info['rows']:,} rows"]
    if info.get("relevant_events"):
        words.append("events " + ", ".join(info["relevant_events"]))
    if info.get("novel_only"):
        words.append("novel only (items new to the user in the split's train + validation)")
    return "; ".join(words)


def _system_names(paths: Sequence[Path]) -> list[str]:
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else str(p) for p in paths]


def about_run(
    recs: Sequence[Path],
    truth_info: dict[str, Any],
    split_dir: Path | None,
    split: SplitFiles,
    model_dir: Path | None,
) -> tuple[str, dict[str, str]]:
    """The report's title and its table of what was evaluated: model, parameters, data,
    split, truth, date and tailor version (what is known)."""
    import tailor

    about: dict[str, str] = {"recommendations": ", ".join(str(p) for p in recs)}
    model_label = recs[0].name
    if model_dir is not None:
        from tailor.models.artifacts import read_manifest

        manifest = read_manifest(model_dir)
        config = manifest.get("config") or {}
        params = ", ".join(f"{k}={v}" for k, v in config.items() if v is not None)
        model_label = str(manifest.get("model", model_label))
        about["model"] = f"{model_label} ({model_dir})"
        about["parameters"] = params or "(defaults)"
        about["model version"] = str(manifest.get("version", ""))
        about["fitted on"] = (
            f"{manifest.get('n_users', 0):,} users x {manifest.get('n_items', 0):,} items"
        )
        record = _fit_record(model_dir)
        if record.get("refit"):
            rows = record.get("rows") or {}
            about["fitted on"] += (
                f", refitted on train + validation ({rows.get('refit', 0):,} rows) after a fit "
                "on train"
            )
    data_label = "the truth file"
    if split_dir is not None:
        data_label = str(split_dir)
        rows = (split.info.get("parts") or {}) if split.info else {}
        counts = ", ".join(
            f"{part} {rows[part]['rows']:,} rows"
            for part in ("train", "validation", "test")
            if isinstance(rows.get(part), dict) and "rows" in rows[part]
        )
        about["data"] = f"{split_dir}" + (f" ({counts})" if counts else "")
        if split.info:
            split_params = split.info.get("parameters") or {}
            shown = ", ".join(f"{k}={v}" for k, v in split_params.items() if v is not None)
            strategy = split.info.get("strategy", "")
            about["split"] = f"{strategy} ({shown})" if shown else str(strategy)
            data_label += f" ({strategy} split)"
        about["reference"] = " + ".join(split.parts) + " (popularity, activity, warm/cold)"
    about["truth"] = _truth_words(truth_info)
    about["evaluated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    about["tailor"] = tailor.__version__
    title = f"tailor evaluate: {model_label} on {data_label}"
    if "parameters" in about:
        title += f" [{about['parameters']}]"
    title += f", evaluated {about['evaluated']} with tailor {about['tailor']}"
    return title, about


@click.command()
@click.option(
    "--recs",
    "recs_paths",
    type=_PATH,
    required=True,
    multiple=True,
    help="Recommendations (CSV/Parquet): user_id, item_id and rank or score. Repeat to "
    "evaluate several systems: the first is the report's, later ones are compared with it "
    "(paired tests) unless --baseline is given.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=_PATH,
    default=None,
    help="Recommendations of a baseline: every --recs is compared with it (paired t-test, "
    "Wilcoxon, bootstrap CI of the difference).",
)
@click.option(
    "--truth",
    "truth_path",
    type=_PATH,
    required=True,
    help="Held-out truth (CSV/Parquet): user_id, item_id[, relevance].",
)
@click.option(
    "--k", "k_text", default="5,10,20", show_default=True, help="Comma-separated list lengths."
)
@click.option(
    "--split",
    "split_dir",
    type=_PATH,
    default=None,
    help="Split directory: train.parquet + validation.parquet (popularity, activity, "
    "warm/cold, --novel-only) and items.parquet (coverage, diversity, titles).",
)
@click.option(
    "--novel-only",
    is_flag=True,
    help="Truth = only items the user had not interacted with in the split's train + "
    "validation (needs --split).",
)
@click.option(
    "--relevant-events",
    "events_text",
    default=None,
    metavar="TYPES",
    help="Comma-separated event types that count as relevant (e.g. purchase,add_to_cart); "
    "other truth rows are dropped. Default: every row.",
)
@click.option(
    "--model-dir",
    type=_PATH,
    default=None,
    help="The model folder the recommendations came from: its manifest names the model and "
    "parameters in the report.",
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
    help="Metric@K curves up to this K (0 = none); the report plots them to the longest list.",
)
@click.option(
    "--ci/--no-ci",
    default=True,
    show_default=True,
    help="Bootstrap 95% intervals of every mean, overall and per segment.",
)
@click.option(
    "--out",
    "out_dir",
    type=_PATH,
    required=True,
    help="Output directory for metrics.json and report.html (written whole or not at all).",
)
@FORCE
def evaluate(
    recs_paths: tuple[Path, ...],
    baseline_path: Path | None,
    truth_path: Path,
    k_text: str,
    split_dir: Path | None,
    novel_only: bool,
    events_text: str | None,
    model_dir: Path | None,
    relevance_column: str | None,
    gain: str,
    curve_k: int,
    ci: bool,
    out_dir: Path,
    force: bool,
) -> None:
    """Evaluate recommendation files against a truth file (full ranking, no sampling)."""
    from tailor.evaluation.io import read_recs, read_truth
    from tailor.evaluation.report import write_report
    from tailor.evaluation.runner import evaluate as run_evaluation
    from tailor.evaluation.samples import sample_lists

    ks = parse_ks(k_text, MAX_K)
    events = _parse_events(events_text)
    if novel_only and split_dir is None:
        raise ConfigError(
            "--novel-only needs --split: the train (+ validation) interactions the items must "
            "be new to"
        )
    systems = list(recs_paths) + ([baseline_path] if baseline_path is not None else [])
    names = _system_names(systems)
    inputs = (*systems, truth_path, split_dir, model_dir)
    check_output(out_dir, inputs, force=force)
    results: dict[str, EvaluationResult] = {}
    with _steps(2 + 2 * len(systems)) as step:
        step("reading the truth and the split")
        truth = read_truth(truth_path, relevance_column)
        split = read_split_files(split_dir)
        truth, truth_info = filter_truth(
            truth,
            reference=split.reference,
            novel_only=novel_only,
            events=events,
            truth_file=str(truth_path),
        )
        first_recs = None
        for name, path in zip(names, systems, strict=True):
            step(f"reading {path.name}")
            recs = read_recs(path)
            first_recs = recs if first_recs is None else first_recs
            step(f"evaluating {name}")
            results[name] = run_evaluation(
                recs,
                truth,
                ks,
                train=split.reference,
                items=split.items,
                relevance=relevance_column or "relevance",
                gain=gain,  # type: ignore[arg-type]
                curve_k=curve_k,
                ci=ci,
            )
            del recs
        step("comparing and writing the report")
        main = results[names[0]]
        pairs, comparisons = _compare(results, names, baseline_path is not None, ks)
        catalog = split.items if split.items is not None else _model_catalog(model_dir)
        assert first_recs is not None  # at least one --recs
        samples = sample_lists(
            first_recs,
            truth,
            main.per_user[Columns.USER_ID].to_numpy(),
            items=catalog,
            relevance=relevance_column or "relevance",
        )
        title, about = about_run(recs_paths, truth_info, split_dir, split, model_dir)
        importance = _importance(model_dir, main.per_user[Columns.USER_ID].tolist())
        metrics = dict(main.metrics)
        metrics["settings"] = {**metrics.get("settings", {}), "truth": truth_info}
        metrics["about"] = about
        if len(results) > 1:
            metrics["systems"] = {n: _headline(r.metrics, p) for (n, r), p in
                                  zip(results.items(), systems, strict=True)}  # fmt: skip
            metrics["comparisons"] = [
                {"a": a, "b": b, **c.to_dict()}
                for (a, b), c in zip(pairs, comparisons, strict=True)
            ]
        main = dataclasses.replace(main, metrics=metrics)
        with output_dir(out_dir, command="evaluate", inputs=inputs, force=force) as staging:
            write_report(
                main,
                staging,
                title=title,
                about=about,
                comparisons=comparisons,
                comparison_names=pairs,
                systems=results if len(results) > 1 else None,
                samples=samples,
                importance=importance,
            )
    _print_results(main.metrics, ks, results, pairs, comparisons, out_dir)


@contextmanager
def _steps(total: int) -> Iterator[Any]:
    """A progress bar on stderr (only on a terminal); yields ``step(description)``."""
    with stderr_progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("evaluate", total=total)
        started = [False]

        def step(description: str) -> None:
            if started[0]:
                progress.advance(task)
            started[0] = True
            progress.update(task, description=description)

        yield step


def _fit_record(model_dir: Path) -> dict[str, Any]:
    """``fit.json`` of a ``tailor fit --refit`` folder ({} when absent or unreadable)."""
    file = model_dir / "fit.json"
    try:
        record = json.loads(file.read_text()) if file.is_file() else {}
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _importance(model_dir: Path | None, user_ids: list[str]) -> GlobalImportance | None:
    """The global importances of the model in ``model_dir`` over the evaluated users' lists
    (report.html's explanations section); None without a folder or explanations."""
    if model_dir is None:
        return None
    from tailor.evaluation.importance import global_importance
    from tailor.models.model_dir import ModelDir

    return global_importance(ModelDir.load(model_dir).model, user_ids)


def _model_catalog(model_dir: Path | None) -> pd.DataFrame | None:
    if model_dir is None:
        return None
    from tailor.models.model_dir import ModelDir

    file = ModelDir.catalog_path(model_dir)
    return pd.read_parquet(file) if file.is_file() else None


def _compare(
    results: dict[str, EvaluationResult], names: list[str], baseline: bool, ks: Sequence[int]
) -> tuple[list[tuple[str, str]], list[Comparison]]:
    """Paired tests: every system against the baseline (the last name) when there is one,
    else every later system against the first."""
    from tailor.evaluation.significance import compare

    if len(names) < 2:
        return [], []
    reference = names[-1] if baseline else names[0]
    others = names[:-1] if baseline else names[1:]
    pairs: list[tuple[str, str]] = []
    comparisons: list[Comparison] = []
    for other in others:
        for k in ks:
            for metric in COMPARED:
                a, b = results[reference].per_user, results[other].per_user
                comparisons.append(compare(a, b, f"{metric}@{k}"))
                pairs.append((reference, other))
    return pairs, comparisons


def _headline(metrics: dict[str, Any], path: Path) -> dict[str, Any]:
    keys = [k for k, v in metrics.items() if "@" in k and isinstance(v, int | float)]
    out: dict[str, Any] = {"recs": str(path), "n_users": metrics["n_users"]}
    out.update({k: metrics[k] for k in keys})
    if "ci" in metrics:
        out["ci"] = metrics["ci"]
    return out


def _print_results(
    metrics: dict[str, Any],
    ks: list[int],
    results: dict[str, EvaluationResult],
    pairs: list[tuple[str, str]],
    comparisons: list[Comparison],
    out_dir: Path,
) -> None:
    for warning in metrics.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    beyond = set(metrics.get("settings", {}).get("k_beyond_lists", []))
    Console().print(_table(metrics, ks, beyond))
    if beyond:
        click.echo(f"* K longer than the longest list ({metrics['settings']['longest_list']})")
    truth = metrics.get("settings", {}).get("truth")
    if truth:
        click.echo(f"truth: {_truth_words(truth)}")
    click.echo(
        f"{metrics['n_users']:,} users evaluated "
        f"({metrics['n_users_without_relevant']:,} without relevant items excluded)"
    )
    if len(results) > 1:
        for name, res in results.items():
            shown = ", ".join(f"ndcg@{k} {res.metrics[f'ndcg@{k}']:.4f}" for k in ks)
            click.echo(f"{name}: {shown}")
    for (a, b), c in zip(pairs, comparisons, strict=True):
        verdict = "significant" if c.significant else "not significant"
        click.echo(
            f"{b} vs {a} on {c.metric}: {c.mean_b:.4f} vs {c.mean_a:.4f}, difference "
            f"{c.difference:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}] (t-test p={c.t_pvalue:.2g}, "
            f"Wilcoxon p={c.wilcoxon_pvalue:.2g}: {verdict})"
        )
    click.echo(f"metrics: {out_dir / 'metrics.json'}\nreport:  {out_dir / 'report.html'}")


def _table(
    metrics: dict[str, Any], ks: list[int], beyond: frozenset[int] | set[int] = frozenset()
) -> Table:
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
        table.add_column(f"@{k}" + ("*" if k in beyond else ""), justify="right")
    for name in names:
        values = [metrics.get(f"{name}@{k}") for k in ks]
        if all(v is None for v in values):
            continue
        table.add_row(name, *("-" if v is None or v != v else f"{v:.4f}" for v in values))
    return table
