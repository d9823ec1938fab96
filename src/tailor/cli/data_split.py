"""``tailor data split``: cut a prepared directory into train, validation and test parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from tailor.cli.options import out_folder
from tailor.data.features import write_side_tables
from tailor.data.io import read_interactions
from tailor.data.prepared import INTERACTIONS_FILE, ITEMS_FILE, PROPERTIES_FILE
from tailor.data.properties import catalogue_for_split
from tailor.data.split import (  # the defaults are the library's; they are shown in --help
    DEFAULT_LAST_FRACTION,
    DEFAULT_QUANTILE,
    DEFAULT_TEST_FRACTION,
    DEFAULT_VALIDATION_FRACTION,
    STRATEGIES,
    STRATEGY_OPTIONS,
    Split,
    misplaced_option,
    split_frame,
)
from tailor.errors import DataError
from tailor.outputs import check_output, output_dir


@click.command("split")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    required=True,
    help="temporal: one global cut; user-temporal: each user's last rows; random: seeded rows.",
)
@click.option("--cut", help="temporal: first day/time of the test period, e.g. 2011-11-09.")
@click.option(
    "--quantile",
    type=float,
    help=f"temporal, without --cut: fraction of rows in train [default {DEFAULT_QUANTILE}].",
)
@click.option("--last-n", type=int, help="user-temporal: hold out each user's last N rows.")
@click.option(
    "--last-fraction",
    type=float,
    help="user-temporal: hold out each user's last fraction of rows "
    f"[default {DEFAULT_LAST_FRACTION} when --last-n is not given].",
)
@click.option(
    "--test-fraction",
    type=float,
    help=f"random: fraction of rows in test [default {DEFAULT_TEST_FRACTION}].",
)
@click.option(
    "--validation-fraction",
    type=float,
    default=DEFAULT_VALIDATION_FRACTION,
    show_default=True,
    help="validation carved from train with the same strategy; 0 disables it.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=42, show_default=True, help="random: the seed."
)
@click.option(
    "--scale",
    type=click.Choice(["zscore", "minmax", "none"]),
    default="zscore",
    show_default=True,
    help="add <col>_scaled for numeric item/user attributes, fitted on the training part only.",
)
@out_folder("output directory (created; replaced whole when tailor wrote it before).")
def split(
    directory: Path,
    strategy: str,
    cut: str | None,
    quantile: float | None,
    last_n: int | None,
    last_fraction: float | None,
    test_fraction: float | None,
    validation_fraction: float,
    seed: int,
    scale: str,
    out: Path,
    force: bool,
) -> None:
    """Split the prepared interactions in DIRECTORY into train/validation/test Parquet files.

    Writes OUT/train.parquet, OUT/validation.parquet (unless --validation-fraction 0),
    OUT/test.parquet and OUT/split.json (strategy, parameters, per-segment counts); copies
    items.parquet and users.parquet through, with numeric attributes scaled by statistics of the
    training part (scalers stored as OUT/items_scaler.json, OUT/users_scaler.json). With a
    property log (DIRECTORY/item_properties.parquet), OUT/items.parquet holds the catalogue as
    of the cut, not the latest values. Validation and test rows carry user_segment and
    item_segment ("warm"/"cold": the user or item is present/absent in the training data).
    """
    options: dict[str, Any] = {
        "cut": cut,
        "quantile": quantile,
        "last_n": last_n,
        "last_fraction": last_fraction,
        "test_fraction": test_fraction,
    }
    name = misplaced_option(strategy, **options)
    if name is not None:
        flag = "--" + name.replace("_", "-")
        raise click.UsageError(f"{flag} applies to --strategy {STRATEGY_OPTIONS[name]} only")
    if validation_fraction < 0 or validation_fraction >= 1:
        raise click.UsageError("--validation-fraction must be in [0, 1)")
    check_output(out, (directory,), force=force)
    frame = _read_interactions(directory)
    console = Console(highlight=False)
    with console.status(f"splitting {len(frame):,} interactions ({strategy})"):
        result = split_frame(
            frame,
            strategy,
            **options,
            seed=seed,
            validation_fraction=validation_fraction,
        )
        catalogue = None
        if (directory / PROPERTIES_FILE).is_file() and (directory / ITEMS_FILE).is_file():
            catalogue, result.info["catalogue"] = catalogue_for_split(directory, result)
        with output_dir(out, command="data split", inputs=(directory,), force=force) as staging:
            result.save(staging)
            method = None if scale == "none" else scale
            copied = write_side_tables(directory, staging, result.train, method, catalogue)
    console.print(split_table(result))
    parts = ", ".join(f"{name} {stats['rows']:,}" for name, stats in result.info["parts"].items())
    extra = f"; copied {', '.join(copied)}" if copied else ""
    click.echo(f"wrote {out} ({parts} rows{extra})")
    if "catalogue" in result.info:
        info = result.info["catalogue"]
        click.echo(f"items.parquet: the catalogue as of {info['as_of']} ({info['rule']})")


def _read_interactions(directory: Path) -> pd.DataFrame:
    path = directory / INTERACTIONS_FILE
    if not path.is_file():
        raise DataError(
            "no prepared interactions here (run `tailor data prepare ... --out DIR` first)",
            file=str(path),
        )
    return read_interactions(path)  # one DataError naming file, column and row on bad input


def split_table(result: Split) -> Table:
    """A rich table of a split's per-part and per-segment rows, users, items and time range."""
    table = Table(title=f"{result.strategy} split", title_justify="left")
    for name in ("part", "segment", "rows", "users", "items", "from", "to"):
        table.add_column(name, justify="right" if name in ("rows", "users", "items") else "left")
    for part, stats in result.info["parts"].items():
        table.add_row(
            part, "all", *_counts(stats), _day(stats.get("start")), _day(stats.get("end"))
        )
        for kind, segs in stats.get("segments", {}).items():
            for seg, counts in segs.items():
                table.add_row("", f"{seg} {kind}s", *_counts(counts), "", "")
    return table


def _counts(stats: dict[str, Any]) -> list[str]:
    return [f"{stats['rows']:,}", f"{stats['users']:,}", f"{stats['items']:,}"]


def _day(value: str | None) -> str:
    return "" if value is None else value[:10]
