"""The serving state: everything one request needs, immutable, swapped atomically on reload.

A request reads ``holder.state`` once and uses only that object, so a reload that happens while it
runs cannot give it a mix of two versions; in-flight requests finish on the state they started
with, and the old model is freed when the last of them is done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tailor.errors import TailorError
from tailor.logging import get_logger
from tailor.models.artifacts import load_model, read_manifest
from tailor.serving.ann import AnnIndex, AnnSettings, build_ann
from tailor.serving.catalog import Catalog
from tailor.serving.fallback import PopularLists
from tailor.serving.registry import ModelRegistry
from tailor.serving.scoring import ModelIndex, score_user, seen_nums

_log = get_logger(__name__)

POPULARITY_DIR = "popularity"
CATALOG_FILE = "items.parquet"


@dataclass(frozen=True)
class ServingState:
    """One model version, ready to answer.

    Attributes:
        version: the version name (None when nothing could be loaded).
        model: the fitted model (None when it failed to load).
        popular: the fallback lists.
        catalog: categories and availability.
        metrics: offline metrics from the version's manifest.
        model_name: the model kind (``popularity``, ``sgdmf``...).
        path: the version's directory.
        popularity_stamp: modification time of the popularity artifact the lists came from.
        index: the model's items as arrays for fast one-user scoring (None without a model).
        ann: candidate index of a factor model over a large catalogue (None: exact scoring).
        problem: why there is no model (files named relative to the model store; shown by
            ``/health/ready``), None when the model loaded.
    """

    version: str | None = None
    model: Any = None
    popular: PopularLists = field(default_factory=PopularLists)
    catalog: Catalog = field(default_factory=Catalog)
    metrics: dict[str, float] = field(default_factory=dict)
    model_name: str | None = None
    path: Path | None = None
    popularity_stamp: float | None = None
    index: ModelIndex | None = None
    ann: AnnIndex | None = None
    problem: str | None = None

    @property
    def answerable(self) -> bool:
        """Whether recommendations can be answered at all (a model or a popular list)."""
        return self.model is not None or len(self.popular) > 0

    def knows_user(self, user_id: str) -> bool:
        """Whether the model has a profile for ``user_id``."""
        return self.model is not None and user_id in self.model.users

    def knows_item(self, item_id: str) -> bool:
        """Whether the item is in the model's vocabulary or the catalog."""
        in_model = self.model is not None and item_id in self.model.items
        return in_model or item_id in self.catalog.known

    def user_num(self, user_id: str) -> int | None:
        """The model's number for ``user_id`` (None when unknown or without a model)."""
        return None if self.model is None else self.model.users.number(user_id)

    def seen_items(self, user_id: str) -> frozenset[str]:
        """Items the user interacted with in training (empty for an unknown user)."""
        num = self.user_num(user_id)
        if num is None or self.index is None:
            return frozenset()
        return frozenset(self.index.item_ids[seen_nums(self.model, num)].tolist())


class StateHolder:
    """Holds the current :class:`ServingState`; replacing it is one reference assignment."""

    def __init__(self, state: ServingState | None = None) -> None:
        self.state = state or ServingState()
        self._lock = threading.Lock()

    def swap(self, new: ServingState) -> ServingState:
        """Install ``new``; returns the previous state."""
        with self._lock:
            old, self.state = self.state, new
        return old

    def refresh_popular(self, version: str | None, popular: PopularLists, stamp: float) -> bool:
        """Replace the fallback lists if ``version`` is still the active one."""
        with self._lock:
            if self.state.version != version:
                return False
            self.state = replace(self.state, popular=popular, popularity_stamp=stamp)
            return True


def load_state(
    registry: ModelRegistry,
    version: str | None,
    fallback_size: int,
    ann: AnnSettings | None = None,
) -> ServingState:
    """Load ``version``: model, catalog, popularity lists and manifest metrics, and (with
    ``ann``, for a factor model of at least ``ann.min_items`` items) its ANN index.
    ``version=None`` loads what a single model folder with an unreadable manifest still holds.

    Never raises: a part that fails to load is logged and left empty, so the service still
    answers from what is there (for example popular items without the model), and ``problem``
    says why the model is missing.
    """
    log = _log.bind(version=version)
    try:
        path = registry.root if version is None else registry.path(version)
        return _load_state(registry, path, version, fallback_size, ann, log)
    except Exception as exc:  # a broken model store must not stop the service
        problem = _public_error(registry, exc)
        log.error("version_load_failed", error=problem)
        return ServingState(version=version, problem=problem)


def _public_error(registry: ModelRegistry, exc: Exception) -> str:
    """An error for logs and clients: tailor's message, or only the exception's type for
    anything else (its text may hold server details), with paths relative to the store."""
    text = str(exc) if isinstance(exc, TailorError) else f"unexpected {type(exc).__name__}"
    return registry.public(text)


def _load_state(
    registry: ModelRegistry,
    path: Path,
    version: str | None,
    fallback_size: int,
    ann: AnnSettings | None,
    log: Any,
) -> ServingState:
    model, name, metrics, problem = None, None, {}, None
    try:
        manifest = read_manifest(path)
        name = str(manifest["model"])
        metrics = _metrics(manifest, log)
        model = load_model(path)
    except Exception as exc:
        problem = _public_error(registry, exc)
        log.error("model_load_failed", error=problem)
    catalog = _load_catalog(path, log)
    popularity = load_popularity(path, model, log)
    if popularity is not None and not catalog.category_of:
        catalog = replace(catalog, category_of=Catalog.from_popularity(popularity).category_of)
    popular = _lists(popularity, catalog, fallback_size)
    index = ModelIndex.build(model, catalog) if model is not None else None
    ann_index = _build_ann(model, ann, log)
    if model is not None and index is not None:
        model = _warm_up(model, index, ann_index, log)
        if model is None:
            problem = f"version {version!r}: the model failed its first scoring (see the log)"
    log.info("state_loaded", model=name, fallback_items=len(popular), ann=ann_index is not None)
    return ServingState(
        version,
        model,
        popular,
        catalog,
        metrics,
        name,
        path,
        popularity_stamp(path),
        index if model is not None else None,
        ann_index if model is not None else None,
        problem,
    )


def _metrics(manifest: dict[str, Any], log: Any) -> dict[str, float]:
    """Offline metrics from the manifest; malformed ones are dropped, not fatal."""
    try:
        return {str(k): float(v) for k, v in (manifest.get("metrics") or {}).items()}
    except (AttributeError, TypeError, ValueError):
        log.warning("manifest_metrics_ignored")
        return {}


def _build_ann(model: Any, settings: AnnSettings | None, log: Any) -> AnnIndex | None:
    try:
        return build_ann(model, settings)
    except Exception as exc:  # no index is slower, not broken: score exactly
        log.error("ann_build_failed", error_type=type(exc).__name__, error=str(exc))
        return None


def popularity_stamp(path: Path) -> float | None:
    """Modification time of a version's popularity artifact (None when absent)."""
    try:
        return (path / POPULARITY_DIR / "params.npz").stat().st_mtime
    except OSError:
        return None


def load_popularity(path: Path, model: Any, log: Any = _log) -> Any:
    """The version's ``popularity/`` model, else the model itself if it is a Popularity."""
    if (path / POPULARITY_DIR).is_dir():
        try:
            return load_model(path / POPULARITY_DIR)
        except Exception as exc:  # no fallback list is a degraded service, not a dead one
            log.error("popularity_load_failed", error_type=type(exc).__name__, error=str(exc))
    if model is not None and hasattr(model, "top_items"):
        return model
    log.warning("no_fallback_list")
    return None


def reload_popular(state: ServingState, size: int) -> tuple[PopularLists, float] | None:
    """Fresh fallback lists if the version's popularity artifact changed since ``state``."""
    if state.path is None:
        return None
    stamp = popularity_stamp(state.path)
    if stamp is None or stamp == state.popularity_stamp:
        return None
    popularity = load_popularity(state.path, None)
    if popularity is None:
        return None
    return _lists(popularity, state.catalog, size), stamp


def _lists(popularity: Any, catalog: Catalog, size: int) -> PopularLists:
    return PopularLists() if popularity is None else PopularLists.build(popularity, catalog, size)


def _warm_up(model: Any, index: ModelIndex, ann: AnnIndex | None, log: Any) -> Any:
    """Score one user before going live: JIT compilation and BLAS start-up happen here, not
    inside the first requests' budget. A model that cannot score is dropped (None)."""
    if len(model.users) == 0:
        return model
    try:
        score_user(model, index, 0, 1, ann=ann)
    except Exception as exc:  # a model that cannot score must not go live
        log.error("model_warm_up_failed", error_type=type(exc).__name__, error=str(exc))
        return None
    return model


def _load_catalog(path: Path, log: Any) -> Catalog:
    file = path / CATALOG_FILE
    if not file.is_file():
        return Catalog()
    try:
        return Catalog.read(file)
    except Exception as exc:  # no catalog: no business filters, still answers
        log.error("catalog_load_failed", error_type=type(exc).__name__, error=str(exc))
        return Catalog()
