"""Model directories: a fitted model plus its popularity fallback and catalog, as ``tailor fit``
writes them. Lists for users (filters, backfill, the popularity fallback) come from
:class:`tailor.pipeline.Pipeline`, built from such a folder.

:class:`ModelDir` is the one owner of the layout of ``DIR``: the model artifact
(``manifest.json``, ``params.npz``), ``DIR/popularity/`` (a
:class:`~tailor.models.popular.Popularity` fitted on the same data), ``DIR/items.parquet`` when
a catalog was given and ``DIR/users.parquet`` when a users table was (user_id + attributes: the
per-segment popular lists of :class:`tailor.pipeline.Pipeline` read it) and, optionally,
``DIR/content/`` (a :class:`~tailor.models.content.Content` model fitted on the same interactions
and catalogue: the source of the pipeline's cold-item slots, ``tailor.pipeline.cold``; folders
without it load as before). ``tailor fit`` writes
it (``ModelDir.write``, through :func:`tailor.outputs.output_dir`), ``tailor recommend``,
``tailor serve`` and the serving registry read and check it (``ModelDir.load``).

Stability: stable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import pandas as pd

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.errors import ArtifactError, ConfigError
from tailor.models.artifacts import MANIFEST, load_model, read_manifest, write_model
from tailor.models.base import FitOptions, Recommender, RecommenderBase
from tailor.models.popular import Popularity
from tailor.models.registry import create_model
from tailor.outputs import check_output, output_dir

if TYPE_CHECKING:  # the content model's module loads only with a folder that has one
    from tailor.models.content import Content

POPULARITY_DIR = "popularity"
CONTENT_DIR = "content"
ITEMS_FILE = "items.parquet"
USERS_FILE = "users.parquet"


@dataclass(frozen=True)
class ModelDir:
    """A model folder as ``tailor fit`` writes it: the model, its popularity fallback and
    optionally the catalog, loaded and checked together.

    Attributes:
        path: the folder.
        manifest: the model's ``manifest.json`` (model name, config, version, sizes, metrics).
        model: the fitted model (every array checked against the manifest and its
            ``params_spec``).
        popularity: the fallback from ``popularity/``; None when the folder has none (a
            folder saved by ``model.save`` alone).
        content: the content model from ``content/`` (cold-item slots); None when the folder
            has none (no catalogue text or categories at fit time, or an older folder).

    Stability: stable.
    """

    path: Path
    manifest: dict[str, Any]
    model: RecommenderBase[Any]
    popularity: Popularity | None
    content: Content | None = None

    POPULARITY: ClassVar[str] = POPULARITY_DIR
    CONTENT: ClassVar[str] = CONTENT_DIR
    CATALOG: ClassVar[str] = ITEMS_FILE
    USERS: ClassVar[str] = USERS_FILE

    @property
    def version(self) -> str:
        """The manifest's version id (``<model>-<time>-<hash>``)."""
        return str(self.manifest["version"])

    @property
    def catalog_file(self) -> Path | None:
        """``items.parquet`` when the folder has one."""
        file = self.catalog_path(self.path)
        return file if file.is_file() else None

    def read_catalog(self) -> pd.DataFrame | None:
        """The catalog copied in at fit time (item_id, category, ...), or None."""
        file = self.catalog_file
        return None if file is None else pd.read_parquet(file)

    @property
    def users_file(self) -> Path | None:
        """``users.parquet`` when the folder has one."""
        file = self.users_path(self.path)
        return file if file.is_file() else None

    @staticmethod
    def popularity_path(path: Path) -> Path:
        """Where the popularity fallback of the folder ``path`` lives."""
        return Path(path) / POPULARITY_DIR

    @staticmethod
    def content_path(path: Path) -> Path:
        """Where the content model of the folder ``path`` lives (it may not exist)."""
        return Path(path) / CONTENT_DIR

    @staticmethod
    def catalog_path(path: Path) -> Path:
        """Where the catalog of the folder ``path`` lives (it may not exist)."""
        return Path(path) / ITEMS_FILE

    @staticmethod
    def users_path(path: Path) -> Path:
        """Where the users table of the folder ``path`` lives (it may not exist)."""
        return Path(path) / USERS_FILE

    @staticmethod
    def is_model_dir(path: Path) -> bool:
        """Whether ``path`` holds a model manifest (it is not checked)."""
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """Read and check the whole folder: manifest, model, fallback, content model.

        Raises:
            ArtifactError: naming the file and the problem (not a folder, no manifest, a
                damaged array, a broken fallback...).
        """
        path = Path(path)
        if not path.is_dir():
            what = "a file, not a folder" if path.exists() else "no such folder"
            raise ArtifactError(f"{path} is not a tailor model directory ({what})")
        manifest = read_manifest(path)
        model = load_model(path)
        content = cls.load_content(path)
        return cls(path, manifest, model, cls.load_popularity(path), content)

    @classmethod
    def load_popularity(cls, path: Path | str) -> Popularity | None:
        """Only the fallback of the folder ``path`` (checked), None when it has none; for
        callers that keep serving popular items when the model itself is broken.

        Raises:
            ArtifactError: a damaged fallback, or one that is not a popularity model.
        """
        return _load_part(cls.popularity_path(Path(path)), Popularity, "the fallback")

    @classmethod
    def load_content(cls, path: Path | str) -> Content | None:
        """Only the content model of the folder ``path`` (checked), None when it has none.

        Raises:
            ArtifactError: a damaged content model, or one that is not a content model.
        """
        from tailor.models.content import Content

        return _load_part(cls.content_path(Path(path)), Content, "the cold-item model")

    @classmethod
    def validate(cls, path: Path | str) -> dict[str, Any]:
        """Check that ``path`` loads as a model folder; returns its manifest.

        Raises:
            ArtifactError: as :meth:`load`.
        """
        return cls.load(path).manifest

    @classmethod
    def write(
        cls,
        path: Path,
        model: Recommender,
        *,
        popularity: Popularity | None = None,
        catalog: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        content: Recommender | None = None,
        extras: Callable[[Path], None] | None = None,
        inputs: Sequence[Path | None] = (),
        force: bool = False,
        command: str = "fit",
        metrics: dict[str, float] | None = None,
        fit_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Write a model folder whole or not at all (through :func:`tailor.outputs.output_dir`:
        built in a staging sibling and swapped into place); returns the model's manifest.

        Args:
            path: the folder; an earlier tailor folder there stays whole until the swap.
            model: the fitted model.
            popularity: the fallback, written to ``popularity/``.
            catalog: written to ``items.parquet``.
            users: the users table (user_id + attributes), written to ``users.parquet``.
            content: a fitted content model, written to ``content/``.
            extras: called with the staging folder to add files (e.g. a learning curve).
            inputs: files the output must not overwrite.
            force: replace a non-empty folder tailor did not write.
            command: the command named in the output's marker.
            metrics: offline metrics for the manifest.
            fit_seconds: the fit's wall-clock time, for the manifest.

        Raises:
            ConfigError: an output that would overwrite data.
        """
        with output_dir(path, command=command, inputs=inputs, force=force) as staging:
            manifest = write_model(model, staging, metrics=metrics, fit_seconds=fit_seconds)
            if popularity is not None:
                write_model(popularity, cls.popularity_path(staging))
            if catalog is not None:
                catalog.to_parquet(cls.catalog_path(staging), index=False)
            if users is not None:
                users.to_parquet(cls.users_path(staging), index=False)
            if content is not None:
                write_model(content, cls.content_path(staging))
            if extras is not None:
                extras(staging)
        return manifest


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
    metrics: dict[str, float] = field(default_factory=dict)
    """What the manifest's ``metrics`` holds: validation metrics when validation data was given
    (see :func:`fit_model_dir`), else empty."""
    content: bool = False
    """Whether a content model (``content/``, cold-item slots) was fitted and saved."""

    @classmethod
    def of(
        cls,
        model: str,
        data: Dataset,
        fit_seconds: float,
        validation: pd.DataFrame | None,
        val: Dataset | None,
        metrics: dict[str, float],
        *,
        n_interactions: int | None = None,
        content: bool = False,
    ) -> FitSummary:
        """The summary of a fit on ``data``; ``val`` is ``validation`` put on its vocabularies
        (the rows it kept), so the rest were dropped. ``n_interactions``: the rows read, when
        they are not ``data``'s (default: ``data``'s interactions)."""
        n_val = len(val.interactions) if val is not None else 0
        return cls(
            model=model,
            n_users=data.n_users,
            n_items=data.n_items,
            n_interactions=len(data.interactions) if n_interactions is None else n_interactions,
            fit_seconds=fit_seconds,
            validation_rows=n_val,
            validation_dropped=(len(validation) - n_val) if validation is not None else 0,
            metrics=metrics,
            content=content,
        )


def fit_model_dir(
    train: pd.DataFrame,
    name: str,
    params: Mapping[str, Any],
    out: Path,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    validation: pd.DataFrame | None = None,
    threads: int = 0,
    on_epoch: Callable[[int, Mapping[str, float]], None] | None = None,
    extras: Callable[[Path], None] | None = None,
    inputs: Sequence[Path | None] = (),
    force: bool = False,
    content: bool | None = None,
    fallback_half_life: float | None = None,
) -> FitSummary:
    """Fit model ``name`` and a Popularity fallback on ``train`` and save both under ``out``,
    with the catalog ``items`` and the users table ``users`` when given (``ModelDir.write``).

    The folder appears whole or not at all: it is built in a staging sibling (``extras`` may
    add files there, e.g. a learning curve) and swapped into place; an earlier model folder stays
    whole until then. ``inputs`` are files ``out`` must not overwrite; a non-empty folder that
    tailor did not write is refused unless ``force``.

    The model's manifest records the fit time (``fit_seconds``), every hyperparameter
    (``params``) and, when ``validation`` is given, validation metrics (``metrics``):
    ``validation_ndcg@10`` of the saved model (binary relevance, each user's training items left
    out of the ranking; users and items unknown in training left out), and for iterative models
    the last epoch's ``train_*``/``validation_*`` values from their ``on_epoch`` reports
    (``epochs`` counts the reports).

    ``content``: also fit a :class:`~tailor.models.content.Content` model (default parameters)
    on the same interactions and catalogue and save it as ``content/``, the source of the
    pipeline's cold-item slots; None (default): when ``items`` has content to score
    (:func:`has_content`). ``fallback_half_life``: the fallback's ``half_life_days`` (None:
    plain distinct-user counts); the per-segment lists decay with it (docs/models.md).

    Raises:
        ConfigError: unknown model name or invalid hyperparameters (before any fitting), an
            output that would overwrite data, ``content=True`` without catalogue content, or a
            half-life that is not positive.
    """
    check_output(out, inputs, force=force)
    with_content = has_content(items) if content is None else content
    if with_content and not has_content(items):
        raise ConfigError(
            "a content model (cold items) needs a catalogue with a title, description or "
            "category column (or boolean flags); pass --items with one"
        )
    if fallback_half_life is not None and not fallback_half_life > 0:
        raise ConfigError(f"the fallback half-life must be > 0 days, got {fallback_half_life}")
    model = create_model(name, dict(params))
    data = Dataset.from_frame(train, item_features=items)
    val = validation_dataset(validation, data) if validation is not None else None
    epochs: list[Mapping[str, float]] = []

    def record_epoch(epoch: int, values: Mapping[str, float]) -> None:
        epochs.append(values)
        if on_epoch is not None:
            on_epoch(epoch, values)

    options = FitOptions(threads=threads, validation=val, on_epoch=record_epoch)
    start = time.perf_counter()
    model.fit(data, options)
    seconds = time.perf_counter() - start
    metrics = validation_metrics(model, val, epochs) if val is not None else {}
    fitted_content = None
    if with_content:
        from tailor.models.content import Content

        fitted_content = Content(seed=model.config.seed).fit(data)
    ModelDir.write(
        out,
        model,
        popularity=Popularity(half_life_days=fallback_half_life).fit(data),
        catalog=items,
        users=users,
        content=fitted_content,
        extras=extras,
        inputs=inputs,
        force=force,
        metrics=metrics,
        fit_seconds=seconds,
    )
    return FitSummary.of(
        name, data, seconds, validation, val, metrics, content=fitted_content is not None
    )


def has_content(items: pd.DataFrame | None) -> bool:
    """Whether a catalogue gives a content model something to score: a title, description or
    category column with a value, or a boolean flag column (e.g. genres) other than
    ``available``."""
    if items is None or not len(items):
        return False
    from tailor.models.content import ContentConfig

    for column in (*ContentConfig().text_columns, Columns.CATEGORY):
        if column in items.columns and items[column].notna().any():
            return True
    flags = [c for c in items.columns if c != Columns.AVAILABLE]  # stock is not content
    return any(pd.api.types.is_bool_dtype(items[c]) for c in flags)


def validation_metrics(
    model: Recommender, val: Dataset, epochs: Sequence[Mapping[str, float]] = ()
) -> dict[str, float]:
    """Validation metrics of a fitted model for its manifest.

    ``validation_ndcg@10``: mean NDCG@10 (binary relevance) over the validation users, each
    user's ``seen`` items left out of the ranking (``_mf_validation.ranking_metric``, the pure
    metric code the models' early stopping uses). ``epochs``: the ``on_epoch`` reports of an
    iterative model; the last one's ``train_*``/``validation_*`` values are added, and
    ``epochs`` counts them (a model that stopped early and restored its best epoch is scored as
    saved by ``validation_ndcg@10``).
    """
    from tailor.models._mf_validation import ranking_metric, validation_set  # numba: fit only

    out: dict[str, float] = {}
    if epochs:
        last = epochs[-1]
        out.update(
            {k: float(v) for k, v in last.items() if k.startswith(("train_", "validation_"))}
        )
        out["epochs"] = float(len(epochs))
    pairs = validation_set(val, model.users, model.items)
    if pairs is not None:
        out["validation_ndcg@10"] = ranking_metric(model.score_rows, model.seen, pairs, "ndcg@10")
    return out


def validation_dataset(frame: pd.DataFrame, data: Dataset) -> Dataset:
    """Validation interactions over the training vocabularies (same user and item numbers).

    Rows whose user or item is not in ``data`` are dropped: no model can score them.
    """
    return Dataset.from_frame(frame, users=data.users, items=data.items, missing="drop")


def load_model_dir(path: Path) -> tuple[RecommenderBase[Any], Popularity | None]:
    """The model saved in ``path`` and its popularity fallback (None when absent).

    The older spelling of ``ModelDir.load(path)``; kept for callers not yet switched.
    """
    folder = ModelDir.load(path)
    return folder.model, folder.popularity


M = TypeVar("M", bound=RecommenderBase[Any])


def _load_part(folder: Path, kind: type[M], role: str) -> M | None:
    """The model in a sub-folder (``popularity/``, ``content/``), checked to be a ``kind``;
    None when the folder has no such sub-folder.

    Raises:
        ArtifactError: a damaged model, or one of another kind.
    """
    if not folder.is_dir():
        return None
    found = load_model(folder)
    if not isinstance(found, kind):
        article = "an" if kind.name[0] in "aeiou" else "a"
        raise ArtifactError(
            f"{folder / MANIFEST}: {role} must be {article} {kind.name} model, not {found.name!r}"
        )
    return found
