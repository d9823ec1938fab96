"""Model directories: a fitted model plus its popularity fallback and catalog, as ``tailor fit``
writes them. Lists for users (filters, backfill, the popularity fallback) come from
:class:`tailor.pipeline.Pipeline`, built from such a folder.

Layout of ``DIR``: the model artifact (``manifest.json``, ``params.npz``), ``DIR/popularity/`` (a
:class:`~tailor.models.popular.Popularity` fitted on the same data) and ``DIR/items.parquet`` when
a catalog was given.

Stability: stable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.errors import ArtifactError
from tailor.models.artifacts import load_model, write_model
from tailor.models.base import FitOptions
from tailor.models.popular import Popularity
from tailor.models.registry import create_model
from tailor.outputs import check_output, output_dir

POPULARITY_DIR = "popularity"
ITEMS_FILE = "items.parquet"


@dataclass(frozen=True)
class FitSummary:
    """What ``fit_model_dir`` did."""

    model: str
    n_users: int
    n_items: int
    n_interactions: int
    fit_seconds: float
    validation_rows: int
    """Validation interactions passed to the model (users and items known in training)."""
    validation_dropped: int
    """Validation interactions left out because their user or item is not in training."""


def fit_model_dir(
    train: pd.DataFrame,
    name: str,
    params: Mapping[str, Any],
    out: Path,
    *,
    items: pd.DataFrame | None = None,
    validation: pd.DataFrame | None = None,
    threads: int = 0,
    on_epoch: Callable[[int, Mapping[str, float]], None] | None = None,
    extras: Callable[[Path], None] | None = None,
    inputs: Sequence[Path | None] = (),
    force: bool = False,
) -> FitSummary:
    """Fit model ``name`` and a Popularity fallback on ``train`` and save both under ``out``.

    The folder appears whole or not at all: it is built in a staging sibling (``extras`` may
    add files there, e.g. a learning curve) and swapped into place; an earlier model folder stays
    whole until then. ``inputs`` are files ``out`` must not overwrite; a non-empty folder that
    tailor did not write is refused unless ``force``.

    Raises:
        ConfigError: unknown model name or invalid hyperparameters (before any fitting), or an
            output that would overwrite data.
    """
    check_output(out, inputs, force=force)
    model = create_model(name, dict(params))
    data = Dataset.from_frame(train, items=items)
    val = validation_dataset(validation, data) if validation is not None else None
    options = FitOptions(threads=threads, validation=val, on_epoch=on_epoch)
    start = time.perf_counter()
    model.fit(data, options)
    seconds = time.perf_counter() - start
    with output_dir(out, command="fit", inputs=inputs, force=force) as staging:
        write_model(model, staging)
        write_model(Popularity().fit(data), staging / POPULARITY_DIR)
        if items is not None:
            items.to_parquet(staging / ITEMS_FILE, index=False)
        if extras is not None:
            extras(staging)
    n_val = len(val.interactions) if val is not None else 0
    return FitSummary(
        model=name,
        n_users=data.n_users,
        n_items=data.n_items,
        n_interactions=len(data.interactions),
        fit_seconds=seconds,
        validation_rows=n_val,
        validation_dropped=(len(validation) - n_val) if validation is not None else 0,
    )


def validation_dataset(frame: pd.DataFrame, data: Dataset) -> Dataset:
    """Validation interactions over the training vocabularies (same user and item numbers).

    Rows whose user or item is not in ``data`` are dropped: no model can score them.
    """
    known = (data.users.numbers(frame[Columns.USER_ID]) >= 0) & (
        data.items.numbers(frame[Columns.ITEM_ID]) >= 0
    )
    kept = frame.loc[known]
    batch = Dataset.from_frame(kept, item_vocab=data.items)
    inter = batch.interactions
    remapped = Interactions(
        data.users.numbers(batch.users.id_of(inter.user_nums)),
        inter.item_nums,
        inter.weights,
        inter.timestamps,
    )
    return Dataset(data.users, data.items, remapped)


def load_model_dir(path: Path) -> tuple[Any, Popularity | None]:
    """The model saved in ``path`` and its popularity fallback (None when absent)."""
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "no such folder"
        raise ArtifactError(f"{path} is not a tailor model directory ({what})")
    model = load_model(path)
    pop_dir = path / POPULARITY_DIR
    popularity = load_model(pop_dir) if pop_dir.is_dir() else None
    return model, popularity
