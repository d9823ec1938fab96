"""``tailor fit`` and ``tailor recommend``: batch training into a model directory, and top-k lists
for many users from it through :class:`tailor.pipeline.Pipeline` (the server's lists: filters,
backfill, popular items for users the model never saw)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailor.cli.options import out_folder, stderr_progress
from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.ids import normalise_ids
from tailor.data.io import read_interactions, read_items, read_users, write_frame
from tailor.data.validate import read_table
from tailor.errors import ConfigError, DataError
from tailor.models.base import FitOptions, Recommender, max_threads
from tailor.models.model_dir import (
    ITEMS_FILE,
    USERS_FILE,
    FitSummary,
    fit_model_dir,
    validation_dataset,
    validation_metrics,
)
from tailor.models.registry import MODELS, create_model, model_class
from tailor.outputs import check_output, output_file
from tailor.pipeline import (
    FALLBACK_SIZE,
    SOURCE_MODEL,
    Pipeline,
    PipelineResult,
    Query,
)
from tailor.pipeline import read_segments as pipeline_segments

if TYPE_CHECKING:
    from tailor.evaluation.diagnostics import Verdict

_PATH = click.Path(path_type=Path)
LEARNING_CURVE_FILE = "learning_curve.html"
FIT_RECORD_FILE = "fit.json"
"""Written by ``tailor fit --refit`` into the model folder: files, rows and parameters of both
fits."""


ENGINES = ("local", "spark")


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--engine``, ``--spark-master`` and ``--spark-conf`` (docs/spark.md)."""
    options = (
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="local",
            show_default=True,
            help="Where to compute: this process, or Apache Spark (ALS only for fit; "
            "docs/spark.md).",
        ),
        click.option(
            "--spark-master",
            default="local[*]",
            show_default=True,
            metavar="URL",
            help="With --engine spark: local[N], spark://HOST:7077, yarn, k8s://...",
        ),
        click.option(
            "--spark-conf",
            multiple=True,
            metavar="KEY=VALUE",
            help="With --engine spark: a Spark setting (repeatable), e.g. "
            "spark.executor.memory=8g.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command("fit")
@click.option(
    "--train",
    "train_text",
    required=True,
    type=click.Path(path_type=str),
    help="Training interactions (Parquet/CSV); with --engine spark, Parquet at any path or URL "
    "Spark reads (s3a://, hdfs://, gs://).",
)
@click.option(
    "--model", "name", required=True, metavar="NAME", help=f"One of: {', '.join(MODELS)}."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hyperparameter (repeatable); VALUE is read as JSON (10, 0.5, true, null) else as text.",
)
@click.option("--validation", type=_PATH, help="Validation interactions, for models that use them.")
@click.option(
    "--items", type=_PATH, help="Catalog (item_id, category...); default TRAIN's items.parquet."
)
@click.option(
    "--users-table",
    type=_PATH,
    help="Users table (user_id + attributes such as country) copied into the model folder as "
    "users.parquet, for per-segment popular lists; default TRAIN's users.parquet.",
)
@click.option(
    "--refit",
    is_flag=True,
    help="With --validation: after the fit on TRAIN (early stopping, learning curve), refit on "
    "TRAIN + VALIDATION with the same parameters (an iterative model keeps the epoch count the "
    "first fit ended with) and save that model, the one to evaluate on the test period.",
)
@click.option(
    "--threads",
    default=0,
    show_default=True,
    type=click.IntRange(0, max_threads()),
    help="Threads for fitting; 0 = auto (at most 4 per CPU core).",
)
@click.option(
    "--cold-items/--no-cold-items",
    "cold_items",
    default=None,
    help="Also fit a content model (content/: TF-IDF of titles and descriptions, categories) "
    "whose scores fill cold-item slots for new products. Default: on when the catalogue has a "
    "title, description or category column.",
)
@click.option(
    "--fallback-half-life",
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="Decay the popularity fallback (global, per category, per segment lists) with this "
    "half-life; 7 with a segment column gave new Online Retail customers NDCG@10 0.123 vs "
    "0.086 (docs/models.md). Default: plain distinct-customer counts.",
)
@engine_options
@out_folder(
    "Model directory to write (model, popularity/ fallback, items.parquet, users.parquet, "
    "content/)."
)
def fit(
    train_text: str,
    name: str,
    params: tuple[str, ...],
    validation: Path | None,
    items: Path | None,
    users_table: Path | None,
    refit: bool,
    threads: int,
    cold_items: bool | None,
    fallback_half_life: float | None,
    engine: str,
    spark_master: str,
    spark_conf: tuple[str, ...],
    out: Path,
    force: bool,
) -> None:
    """Fit model NAME on TRAIN and write it, with a popularity fallback, to --out.

    With --refit the saved model (and its fallback) is fitted on TRAIN + VALIDATION. The folder
    is replaced whole once the fit succeeds (an earlier model stays until then). With --engine
    spark, ALS is fitted by Spark into the same folder (docs/spark.md)."""
    model_class(name)  # an unknown name fails before any file is read
    hyper = parse_params(params)
    if engine == "spark":
        if cold_items or fallback_half_life is not None:
            raise ConfigError(
                "--cold-items and --fallback-half-life are not available with --engine spark"
            )
        spark = (spark_master, spark_conf)
        _fit_spark(
            train_text, name, hyper, validation, items, users_table, refit, out, force, spark
        )
        return
    train = Path(train_text)
    if refit and validation is None:
        raise ConfigError(
            "--refit needs --validation: it refits on train + validation after a fit on train"
        )
    catalog_file = items if items is not None else _beside(train, ITEMS_FILE)
    users_file = users_table if users_table is not None else _beside(train, USERS_FILE)
    inputs = (train, validation, catalog_file, users_file)
    check_output(out, inputs, force=force)
    catalog = read_items(catalog_file) if catalog_file is not None else None
    users = read_users(users_file) if users_file is not None else None
    train_frame = read_interactions(train)
    _note_ignored_weights(create_model(name, hyper), train_frame)
    val_frame = read_interactions(validation) if validation is not None else None
    epochs: list[Mapping[str, float]] = []
    verdicts: list[Verdict] = []

    def learning_curve(staging: Path) -> None:
        """With validation data, an iterative model's curve and a plain-words verdict."""
        if not epochs:
            return  # evaluation (plotly, statistics) is loaded only when there is a curve
        from tailor.evaluation.diagnostics import epoch_history, learning_curve_verdict
        from tailor.evaluation.report import write_learning_curve

        found = epoch_history(epochs)
        if found is not None:
            history, metric = found
            verdict = learning_curve_verdict(
                history, higher_is_better=metric != "rmse", metric=metric
            )
            write_learning_curve(history, verdict, staging / LEARNING_CURVE_FILE)
            verdicts.append(verdict)

    if refit:
        assert val_frame is not None
        with _progress(f"fitting {name} on {len(train_frame):,} interactions", epochs) as on_epoch:
            first, val_data = fit_validated(
                train_frame, name, hyper, val_frame, items=catalog, threads=threads,
                on_epoch=on_epoch,
            )  # fmt: skip
        refit_hyper = refit_params(first, hyper)
        full = refit_frame(train_frame, val_frame)
        first_metrics = validation_metrics(first, val_data, epochs)
        record = {
            "refit": True,
            "train": str(train),
            "validation": str(validation),
            "rows": {"train": len(train_frame), "validation": len(val_frame), "refit": len(full)},
            "parameters": hyper,
            "refit_parameters": refit_hyper,
            "validation_metrics": first_metrics,
        }

        def extras(staging: Path) -> None:
            learning_curve(staging)
            (staging / FIT_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")

        with _progress(f"refitting {name} on train + validation ({len(full):,})", []) as on_epoch:
            summary = fit_model_dir(
                full,
                name,
                refit_hyper,
                out,
                items=catalog,
                users=users,
                threads=threads,
                on_epoch=on_epoch,
                extras=extras,
                inputs=inputs,
                force=force,
                content=cold_items,
                fallback_half_life=fallback_half_life,
            )
    else:
        with _progress(f"fitting {name} on {len(train_frame):,} interactions", epochs) as on_epoch:
            summary = fit_model_dir(
                train_frame,
                name,
                hyper,
                out,
                items=catalog,
                users=users,
                validation=val_frame,
                threads=threads,
                on_epoch=on_epoch,
                extras=learning_curve,
                inputs=inputs,
                force=force,
                content=cold_items,
                fallback_half_life=fallback_half_life,
            )
    _print_summary(summary, hyper, out, catalog_file)
    if refit:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in first_metrics.items())
        click.echo(f"Validation (the fit on train alone): {shown or '-'}")
        click.echo(
            f"Refit: the saved model is fitted on train + validation ({summary.n_interactions:,} "
            f"interactions) with {json.dumps(refit_hyper) if refit_hyper else 'the defaults'}; "
            f"evaluate it on the test period."
        )
    for verdict in verdicts:
        click.echo(f"Learning curve ({verdict.kind}): {verdict.message}")
        click.echo(f"Next: {verdict.advice}")
        click.echo(f"Plot: {out / LEARNING_CURVE_FILE}")


@click.command("recommend")
@click.option("--model-dir", required=True, type=_PATH, help="A folder written by `tailor fit`.")
@click.option(
    "--users",
    required=True,
    metavar="FILE|all",
    help="`all` (every training user) or a Parquet/CSV file with a user_id column.",
)
@click.option("--k", default=10, show_default=True, type=click.IntRange(min=1), help="List size.")
@click.option(
    "--exclude-seen/--keep-seen",
    default=True,
    show_default=True,
    help="Drop items the user interacted with in training.",
)
@click.option("--category", help="Only items of this catalogue category (items.parquet).")
@click.option(
    "--exclude",
    "excluded",
    multiple=True,
    metavar="ITEM_ID",
    help="An item never to recommend (repeatable).",
)
@click.option(
    "--segment",
    metavar="COLUMN",
    help="User attribute (e.g. country) whose per-segment popular lists answer unknown users "
    "and fill short lists; read from the --users file when it has the column, else from the "
    "users table.",
)
@click.option(
    "--users-table",
    type=_PATH,
    help="Users table (user_id + the --segment column); default MODEL_DIR/users.parquet.",
)
@click.option(
    "--cold-item-slots",
    "cold_slots",
    default="",
    metavar="RANKS",
    help="Comma-separated list ranks (e.g. 5,10) that each take the user's best new item from "
    "MODEL_DIR/content/ (the server's cold_item_slots). Default: none.",
)
@click.option(
    "--segment-blend",
    type=click.FloatRange(min=0),
    help="Weight of the global trend in each --segment list (the server's segment_blend). "
    "Default: 1 when the fallback was fitted with a half-life, else 0.",
)
@click.option("--out", required=True, type=_PATH, help="Output .csv or .parquet file.")
@engine_options
def recommend(
    model_dir: Path,
    users: str,
    k: int,
    exclude_seen: bool,
    category: str | None,
    excluded: tuple[str, ...],
    segment: str | None,
    users_table: Path | None,
    cold_slots: str,
    segment_blend: float | None,
    out: Path,
    engine: str,
    spark_master: str,
    spark_conf: tuple[str, ...],
) -> None:
    """Write the top-K items for each user: user_id, item_id, rank, score, source.

    The lists are the server's: seen, excluded, unavailable and out-of-category items are left
    out, short lists are filled from the popular lists, and users the model does not know get
    popular items (source cold_start)."""
    if out.suffix.lower() not in {".csv", ".parquet", ".pq"} and ".csv" not in out.suffixes:
        raise DataError("unsupported output format; use a .csv or .parquet name", file=str(out))
    users_file = None if users == "all" else Path(users)
    check_output(out, (users_file, users_table, model_dir), folder=False)
    slots = parse_ranks(cold_slots)
    if engine == "spark" and (slots or segment_blend is not None):
        raise ConfigError("--cold-item-slots and --segment-blend need the local engine")
    pipeline = Pipeline.from_model_dir(
        model_dir,
        fallback_size=max(FALLBACK_SIZE, k),
        segment_column=segment,
        users_table=users_table,
        cold_item_slots=slots,
        segment_blend=segment_blend,
    )
    if pipeline.model is None:  # pragma: no cover - from_model_dir raises first
        raise DataError("the model folder holds no model", file=str(model_dir))
    user_ids = pipeline.model.users.ids if users_file is None else read_user_ids(users_file)
    segments = read_segments(users_file, segment) if users_file and segment else None
    query = Query(n=k, exclude_seen=exclude_seen, category=category, exclude=frozenset(excluded))
    with Console(stderr=True).status(f"recommending for {len(user_ids):,} users"):
        if engine == "spark":
            from tailor.training.spark.session import parse_conf, spark_session
            from tailor.training.spark.topn import recommend_spark

            result = recommend_spark(
                spark_session(spark_master, conf=parse_conf(spark_conf)),
                model_dir,
                user_ids,
                query,
                fallback_size=max(FALLBACK_SIZE, k),
                segment_column=segment,
                users_table=read_users(users_table) if users_table is not None else None,
                segments=segments,
            )
        else:
            result = pipeline.recommend(user_ids, query, segments=segments)
        with output_file(out, inputs=(users_file,), suffix="".join(out.suffixes)) as tmp:
            write_frame(result.recs, tmp)
    _print_recommend_summary(result, k, out)


def _print_recommend_summary(result: PipelineResult, k: int, out: Path) -> None:
    """One line of counts; users with short or empty lists are named on stderr, never
    dropped silently."""
    table = result.users
    cold = int((table[Columns.SOURCE] != SOURCE_MODEL).sum())
    backfilled = int((table["backfilled"] > 0).sum())
    click.echo(
        f"{len(result.recs):,} recommendations for {len(table):,} users "
        f"({cold:,} unknown to the model got popular items, {backfilled:,} short lists "
        f"filled from the popular lists) written to {out}"
    )
    short = table.loc[table["n_items"] < k]
    if len(short):
        empty = short.loc[short["n_items"] == 0, Columns.USER_ID].tolist()
        shown = ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else "")
        click.echo(
            f"warning: {len(short):,} users got fewer than {k} items after the filters"
            + (f", {len(empty):,} got none ({shown})" if empty else ""),
            err=True,
        )


def _fit_spark(
    train: str,
    name: str,
    hyper: dict[str, Any],
    validation: Path | None,
    items: Path | None,
    users_table: Path | None,
    refit: bool,
    out: Path,
    force: bool,
    spark_options: tuple[str, tuple[str, ...]],
) -> None:
    """``tailor fit --engine spark``: ALS fitted in Spark on Parquet at TRAIN (a path or URL);
    the catalogue, users table and validation file are read here, on the driver."""
    from tailor.training.spark.als import fit_spark_model_dir, spark_config
    from tailor.training.spark.session import parse_conf, spark_session

    if name != "als":
        raise ConfigError(f"--engine spark fits model 'als' only, not {name!r}")
    spark_config(hyper)  # bad parameters fail before Spark starts
    if refit:
        raise ConfigError(
            "--refit is not available with --engine spark: fit on train + validation (one "
            "Parquet folder) instead"
        )
    local = None if "://" in train else Path(train)
    catalog_file = items if items is not None else (local and _beside(local, ITEMS_FILE))
    users_file = users_table if users_table is not None else (local and _beside(local, USERS_FILE))
    inputs = (local, validation, catalog_file, users_file)
    check_output(out, inputs, force=force)
    catalog = read_items(catalog_file) if catalog_file is not None else None
    users = read_users(users_file) if users_file is not None else None
    val_frame = read_interactions(validation) if validation is not None else None
    master, conf = spark_options
    spark = spark_session(master, conf=parse_conf(conf))
    label = f"fitting als in Spark ({spark.sparkContext.master}) on {train}"
    with Console(stderr=True).status(label):
        summary = fit_spark_model_dir(
            spark,
            train,
            hyper,
            out,
            items=catalog,
            users=users,
            validation=val_frame,
            inputs=inputs,
            force=force,
        )
    _print_summary(summary, hyper, out, catalog_file)
    click.echo(f"Spark: the parameters it ran with are in {out / 'spark.json'}")


def fit_validated(
    train: pd.DataFrame,
    name: str,
    params: Mapping[str, Any],
    validation: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    threads: int = 0,
    on_epoch: Callable[[int, Mapping[str, float]], None] | None = None,
) -> tuple[Recommender, Dataset]:
    """The first fit of ``--refit``: model ``name`` on ``train``, watching ``validation``
    (early stopping, per-epoch curves) exactly as :func:`fit_model_dir` fits it; not saved.
    Returns the model and the validation data over its vocabularies."""
    model = create_model(name, dict(params))
    data = Dataset.from_frame(train, item_features=items)
    val = validation_dataset(validation, data)
    model.fit(data, FitOptions(threads=threads, validation=val, on_epoch=on_epoch))
    return model, val


def refit_params(model: Recommender, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of the refit on train + validation: ``params`` as given, except that a
    model that stopped early (``early_stopping_patience``) trains for the epochs its first fit
    kept (``best_epoch``) and no longer stops early (there is no validation data left)."""
    out = dict(params)
    config = model.config.model_dump() if hasattr(model.config, "model_dump") else {}
    best = getattr(model, "best_epoch", None)
    if config.get("early_stopping_patience") is not None and isinstance(best, int) and best > 0:
        out.update(epochs=best, early_stopping_patience=None)
    return out


def refit_frame(train: pd.DataFrame, validation: pd.DataFrame) -> pd.DataFrame:
    """Train and validation rows together, as :meth:`tailor.data.split.Split.fit_frame` joins
    them (validation's extra columns, its segment tags, left out)."""
    extra = [c for c in validation.columns if c not in train.columns]
    return pd.concat([train, validation.drop(columns=extra)], ignore_index=True)


def parse_ranks(text: str) -> tuple[int, ...]:
    """``"5,10"`` -> (5, 10); empty text -> ().

    Raises:
        ConfigError: a part that is not a whole number.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--cold-item-slots must be ranks like 5,10, got {text!r}") from None


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are JSON scalars when they parse, else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value if isinstance(value, str | int | float | bool | None) else raw
    return out


def read_user_ids(path: Path) -> np.ndarray:
    """Distinct user ids, in file order, from a Parquet/CSV file with a ``user_id`` column."""
    frame = read_table(path, text_columns=(Columns.USER_ID,))
    if Columns.USER_ID not in frame.columns:
        raise DataError("required column is missing", file=str(path), column=Columns.USER_ID)
    # the one id rule (tailor.data.ids): 17850.0 here is the "17850" `tailor fit` learned
    ids = normalise_ids(frame[Columns.USER_ID], file=str(path), column=Columns.USER_ID).dropna()
    return np.asarray(ids.unique(), dtype=object)


def read_segments(path: Path, column: str) -> dict[str, str] | None:
    """user_id -> ``column`` from the users file when it has that column (None otherwise)."""
    frame = read_table(path, text_columns=(Columns.USER_ID, column))
    if column not in frame.columns:
        return None
    if Columns.USER_ID in frame.columns:
        ids = frame[Columns.USER_ID]
        frame[Columns.USER_ID] = normalise_ids(ids, file=str(path), column=Columns.USER_ID)
    return pipeline_segments(frame, column)


def _beside(train: Path, name: str) -> Path | None:
    """The side table ``name`` in TRAIN's folder (a split or prepared folder), if there."""
    candidate = train.parent / name
    return candidate if candidate.is_file() else None


@contextmanager
def _progress(
    label: str, epochs: list[Mapping[str, float]]
) -> Iterator[Callable[[int, Mapping[str, float]], None]]:
    with stderr_progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
    ) as progress:
        task = progress.add_task(label, total=None)

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            epochs.append(dict(metrics))
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
            progress.update(task, description=f"{label}: epoch {epoch} {shown}")

        yield on_epoch


def _print_summary(
    summary: FitSummary, params: Mapping[str, Any], out: Path, catalog: Path | None
) -> None:
    table = Table(title=f"tailor fit: {summary.model}", show_header=False)
    table.add_row("parameters", json.dumps(dict(params)) if params else "(defaults)")
    table.add_row("users / items", f"{summary.n_users:,} / {summary.n_items:,}")
    table.add_row("interactions", f"{summary.n_interactions:,}")
    if summary.validation_rows or summary.validation_dropped:
        table.add_row(
            "validation",
            f"{summary.validation_rows:,} rows ({summary.validation_dropped:,} cold rows left out)",
        )
    table.add_row("catalog", str(catalog) if catalog is not None else "(none)")
    table.add_row("fit time", f"{summary.fit_seconds:.2f} s")
    if summary.content:
        table.add_row("cold items", f"content model in {out / 'content'} (slots: opt-in)")
    table.add_row("saved to", f"{out} (fallback: {out / 'popularity'})")
    Console().print(table)


def _note_ignored_weights(model: Recommender, train: pd.DataFrame) -> None:
    """Say so when the data has several event types but the model, as configured, reads only
    that a pair occurred (a view and a purchase then count the same)."""
    if Columns.EVENT_TYPE not in train.columns or model.uses_weights:
        return
    types = sorted(map(str, train[Columns.EVENT_TYPE].dropna().unique()))
    if len(types) > 1:
        click.echo(
            f"note: {model.name} with these parameters ignores event weights: its "
            f"{', '.join(types)} events count the same (docs/data.md, 'Which models use the "
            "weights'; e.g. --param binary=false for itemknn, ease, als)",
            err=True,
        )
