"""``tailor tune``: search one model's hyperparameters on a validation split, or over rolling
backtest periods (``--objective backtest --periods N``: the mean over N periods of the training
and validation data; settings that hold across time).

Optuna's TPE, random or grid sampler (pruning of iterative models by their per-epoch validation
NDCG), or Hyperopt's TPE; in one process, N worker processes (``--workers``), or any number of
processes on several machines sharing a study in a database (``--storage postgresql://...
--study NAME``). See docs/training.md.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from tailor.errors import ConfigError

_PATH = click.Path(path_type=Path, dir_okay=False)


@click.command("tune")
@click.option("--model", required=True, help="Registry name (popularity, itemknn, ease, ...).")
@click.option(
    "--split",
    "split_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A split folder (train/validation.parquet, items.parquet) from `tailor data split`.",
)
@click.option("--train", type=_PATH, help="Training interactions (instead of --split).")
@click.option("--validation", type=_PATH, help="Validation interactions (instead of --split).")
@click.option("--items", type=_PATH, help="The catalogue (default: the split's items.parquet).")
@click.option(
    "--space",
    type=_PATH,
    help="TOML search space (a [space] table, or the whole file); default: the model's "
    "(configs/pipelines/MODEL.toml shows it).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Fix a hyperparameter (taken out of the search; repeatable).",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random", "grid", "hyperopt"]),
    default="tpe",
    show_default=True,
)
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--timeout", "timeout_s", type=float, help="Stop starting trials after S seconds.")
@click.option(
    "--pruner",
    type=click.Choice(["median", "percentile", "hyperband", "none"]),
    default="median",
    show_default=True,
    help="Stop bad trials of iterative models (als, bpr, mf-sgd) early.",
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--metric", default="ndcg@10", show_default=True, help="Validation metric.")
@click.option(
    "--relevant",
    type=click.Choice(["all", "novel"]),
    default="all",
    show_default=True,
    help="novel: only items new to the user count.",
)
@click.option(
    "--objective",
    type=click.Choice(["validation", "backtest"]),
    default="validation",
    show_default=True,
    help="validation: fit on train, score the validation part. backtest: the mean over "
    "--periods rolling periods of train + validation (see tailor backtest).",
)
@click.option(
    "--periods",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Backtest objective: the last N complete periods.",
)
@click.option(
    "--horizon",
    default="1m",
    show_default=True,
    help="Backtest objective: each period (1m = a calendar month, 30d, 2w).",
)
@click.option("--storage", help="Optuna storage URL shared by processes (postgresql://u@h/db).")
@click.option("--study", help="Study name in the storage [default: the model name].")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="Fit threads per trial.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write tuning.json, trials.csv and report.html (study plots) here.",
)
def tune(
    model: str,
    split_dir: Path | None,
    train: Path | None,
    validation: Path | None,
    items: Path | None,
    space: Path | None,
    params: tuple[str, ...],
    sampler: str,
    trials: int,
    timeout_s: float | None,
    pruner: str,
    seed: int,
    metric: str,
    relevant: str,
    objective: str,
    periods: int,
    horizon: str,
    storage: str | None,
    study: str | None,
    workers: int,
    threads: int,
    out: Path | None,
) -> None:
    """Tune MODEL on a validation split (or over backtest periods); print the best parameters
    and how to fit them."""
    from tailor.cli.fit import parse_params
    from tailor.outputs import output_dir
    from tailor.training.report import study_figures
    from tailor.training.spaces import default_space
    from tailor.training.tuning import PERIODS_ATTR, TuningSettings, tune_model

    train, validation, items = _inputs(
        split_dir, train, validation, items, need_validation=objective == "validation"
    )
    searched = _read_space(space) if space is not None else default_space(model)
    searched = searched.with_fixed(parse_params(params))
    settings = TuningSettings(
        sampler=sampler,  # type: ignore[arg-type]
        trials=trials,
        timeout_s=timeout_s,
        seed=seed,
        pruner=pruner,  # type: ignore[arg-type]
        storage=storage,
        study=study,
        workers=workers,
    )
    console = Console(highlight=False)

    def progress(record: Any) -> None:
        value = "-" if record.value is None else f"{record.value:.4f}"
        console.print(
            f"[dim]trial {record.number}: {record.state} {value} ({record.seconds:.1f} s)[/dim]"
        )

    where = f" in {storage.split('@')[-1]}" if storage else ""
    scored = (
        f"mean {metric} over {periods} backtest periods of {horizon}"
        if objective == "backtest"
        else f"validation {metric}"
    )
    console.print(
        f"Tuning {model}: {trials} trials, {sampler} sampler, {workers} worker(s){where}; "
        f"each scored by {scored}"
    )
    result = tune_model(
        model,
        train,
        validation,
        space=searched,
        settings=settings,
        items=items,
        metric=metric,
        relevant=relevant,  # type: ignore[arg-type]
        threads=threads,
        on_trial=progress if workers == 1 else None,
        objective=objective,  # type: ignore[arg-type]
        periods=periods,
        horizon=horizon,
    )
    table = Table(title=f"{model}: best of {len(result.trials)} trials ({result.seconds:.1f} s)")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for key, value in result.best_params.items():
        table.add_row(key, str(value))
    console.print(table)
    counts = result.counts
    label = f"mean {metric} over {periods} periods" if objective == "backtest" else "validation"
    if objective != "backtest":
        label += f" {metric}"
    console.print(
        f"{label} {result.best_value:.4f}; {counts['complete']} complete, "
        f"{counts['pruned']} pruned, {counts['failed']} failed"
    )
    per_period = result.best_attrs.get(PERIODS_ATTR) or {}
    if per_period:
        console.print(
            "per period: "
            + ", ".join(
                f"{origin} {'-' if v is None else f'{v:.4f}'}" for origin, v in per_period.items()
            )
        )
    fit_params = " ".join(f"--param {k}={json.dumps(v)}" for k, v in result.best_params.items())
    console.print(f"Fit it: tailor fit --train TRAIN --model {model} {fit_params} --out MODEL_DIR")
    if out is not None:
        with output_dir(out, command="tune") as staging:
            (staging / "tuning.json").write_text(
                json.dumps(result.to_dict(), indent=2, default=str) + "\n"
            )
            result.trials_frame().to_csv(staging / "trials.csv", index=False)
            figures = study_figures(result.study, model)
            parts = "".join(
                f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures)
            )
            (staging / "report.html").write_text(
                "<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>tailor tune {model}</title></head><body>"
                f"<h1>tailor tune: {model}</h1>{parts}</body></html>",
                encoding="utf-8",
            )
        console.print(f"Wrote {out}/tuning.json, trials.csv, report.html")


def _inputs(
    split_dir: Path | None,
    train: Path | None,
    validation: Path | None,
    items: Path | None,
    *,
    need_validation: bool = True,
) -> tuple[Path, Path | None, Path | None]:
    if split_dir is not None:
        if train is not None or validation is not None:
            raise click.UsageError("give --split or --train/--validation, not both")
        train, validation = split_dir / "train.parquet", split_dir / "validation.parquet"
        if not need_validation and not validation.is_file():
            validation = None
        if items is None and (split_dir / "items.parquet").is_file():
            items = split_dir / "items.parquet"
    if train is None or (need_validation and validation is None):
        raise click.UsageError(
            "give --split DIR, or --train and --validation"
            if need_validation
            else "give --split DIR or --train (and optionally --validation)"
        )
    for path in (train, validation, items):
        if path is not None and not path.is_file():
            raise click.BadParameter(f"{path} does not exist")
    return train, validation, items


def _read_space(path: Path) -> Any:
    from tailor.training.spaces import SearchSpace

    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable TOML file: {exc}") from None
    space = table.get("space", table)
    if not isinstance(space, dict):
        raise ConfigError(f"{path}: [space] must be a table")
    return SearchSpace.from_table(space)
