"""The serving state: everything one request needs, immutable, swapped atomically on reload.

A request reads ``holder.state`` once and uses only that object, so a reload that happens while it
runs cannot give it a mix of two versions; in-flight requests finish on the state they started
with, and the old model is freed when the last of them is done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tailor.errors import ArtifactError, TailorError
from tailor.logging import get_logger
from tailor.models.artifacts import load_model, read_manifest
from tailor.models.base import Recommender
from tailor.pipeline import AnnIndex, AnnSettings, Catalog, ModelIndex, Pipeline, PopularLists
from tailor.pipeline.ann import build_ann
from tailor.pipeline.cold import ColdItems
from tailor.pipeline.core import (
    CATALOG_FILE,
    CONTENT_DIR,
    POPULARITY_DIR,
    USERS_FILE,
    Query,
    cold_items_of,
    read_segments,
    segment_blend_for,
)
from tailor.serving.registry import ModelRegistry
from tailor.serving.settings import ServeSettings

_log = get_logger(__name__)


@dataclass(frozen=True)
class ServingState:
    """One model version, ready to answer.

    Attributes:
        version: the version name (None when nothing could be loaded).
        pipeline: the version's recommendation pipeline (model, catalogue, popular lists,
            segments, ANN index): the same object ``tailor recommend`` and evaluation build.
        metrics: offline metrics from the version's manifest.
        model_name: the model kind (``popularity``, ``sgdmf``...).
        path: the version's directory.
        popularity_stamp: modification time of the popularity artifact the lists came from.
        problem: why there is no model (files named relative to the model store; shown by
            ``/health/ready``), None when the model loaded.
    """

    version: str | None = None
    pipeline: Pipeline = field(default_factory=Pipeline)
    metrics: dict[str, float] = field(default_factory=dict)
    model_name: str | None = None
    path: Path | None = None
    popularity_stamp: float | None = None
    problem: str | None = None

    @property
    def model(self) -> Recommender | None:
        """The fitted model (None when it failed to load)."""
        return self.pipeline.model

    @property
    def popular(self) -> PopularLists:
        """The fallback lists."""
        return self.pipeline.popular

    @property
    def catalog(self) -> Catalog:
        """Categories and availability."""
        return self.pipeline.catalog

    @property
    def index(self) -> ModelIndex | None:
        """The model's items as arrays for masks (None without a model)."""
        return self.pipeline.index

    @property
    def ann(self) -> AnnIndex | None:
        """Candidate index of a factor model over a large catalogue (None: exact scoring)."""
        return self.pipeline.ann

    @property
    def answerable(self) -> bool:
        """Whether recommendations can be answered at all (a model or a popular list)."""
        return self.model is not None or len(self.popular) > 0

    def knows_user(self, user_id: str) -> bool:
        """Whether the model has a profile for ``user_id``."""
        return self.pipeline.user_num(user_id) is not None

    def knows_item(self, item_id: str) -> bool:
        """Whether the item is in the model's vocabulary or the catalog."""
        in_model = self.model is not None and item_id in self.model.items
        return in_model or item_id in self.catalog.known

    def user_num(self, user_id: str) -> int | None:
        """The model's number for ``user_id`` (None when unknown or without a model)."""
        return self.pipeline.user_num(user_id)

    def seen_items(self, user_id: str) -> frozenset[str]:
        """Items the user interacted with in training (empty for an unknown user)."""
        return self.pipeline.seen_items(self.user_num(user_id))


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
            pipeline = self.state.pipeline.with_popular(popular)
            self.state = replace(self.state, pipeline=pipeline, popularity_stamp=stamp)
            return True


def load_state(
    registry: ModelRegistry,
    version: str | None,
    options: StateOptions,
) -> ServingState:
    """Load ``version``: model, catalog, popularity lists (per segment with
    ``segment_column``, from the version's ``users.parquet``, blended with the global trend by
    ``segment_blend`` as ``Pipeline.build`` does) and manifest metrics, and (with ``ann``, for
    a factor model of at least ``ann.min_items`` items) its ANN index; with
    ``cold_item_slots``, the version's ``content/`` model fills them (a version without one is
    served without slots, logged). The pipeline is the one ``Pipeline.from_model_dir`` builds
    with the same options.
    ``version=None`` loads what a single model folder with an unreadable manifest still holds.

    Never raises: a part that fails to load is logged and left empty, so the service still
    answers from what is there (for example popular items without the model), and ``problem``
    says why the model is missing.
    """
    log = _log.bind(version=version)
    try:
        path = registry.root if version is None else registry.path(version)
        return _load_state(registry, path, version, options, log)
    except Exception as exc:  # a broken model store must not stop the service
        problem = _public_error(registry, exc)
        log.error("version_load_failed", error=problem)
        return ServingState(version=version, problem=problem)


def load_versions(
    registry: ModelRegistry,
    versions: Iterable[str],
    options: StateOptions,
) -> dict[str, ServingState]:
    """The states of ``versions`` (experiment variants served beside the active version);
    a version whose model does not load is left out and logged (a variant answered from
    fallback lists would be a broken arm)."""
    states: dict[str, ServingState] = {}
    for version in sorted(set(versions)):
        state = load_state(registry, version, options)
        if state.model is None:
            _log.error("variant_version_not_loaded", version=version, reason=state.problem)
            continue
        states[version] = state
    return states


def _public_error(registry: ModelRegistry, exc: Exception) -> str:
    """An error for logs and clients: tailor's message, or only the exception's type for
    anything else (its text may hold server details), with paths relative to the store."""
    text = str(exc) if isinstance(exc, TailorError) else f"unexpected {type(exc).__name__}"
    return registry.public(text)


@dataclass(frozen=True)
class StateOptions:
    """How a version's pipeline is built: ``Pipeline.from_model_dir``'s options, as the serving
    settings give them (:meth:`of`), the same for the active version, experiment variants,
    ``tailor serve warm`` and reloads."""

    fallback_size: int
    ann: AnnSettings | None = None
    segment_column: str | None = None
    cold_item_slots: tuple[int, ...] = ()
    segment_blend: float | None = None

    @classmethod
    def of(cls, settings: ServeSettings) -> StateOptions:
        return cls(
            settings.fallback_size,
            settings.ann,
            settings.segment_column,
            tuple(settings.cold_item_slots),
            settings.segment_blend,
        )


def _load_state(
    registry: ModelRegistry,
    path: Path,
    version: str | None,
    options: StateOptions,
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
    segments = _load_segments(path, options.segment_column, log)
    ann_index = _build_ann(model, options.ann, log)
    cold = _cold_items(path, model, options.cold_item_slots, log)
    pipeline = _pipeline(model, popularity, catalog, segments, ann_index, cold, options, log)
    if pipeline.model is not None:
        pipeline = _warm_up(pipeline, log)
        if pipeline.model is None:
            problem = f"version {version!r}: the model failed its first scoring (see the log)"
    log.info(
        "state_loaded",
        model=name,
        fallback_items=len(pipeline.popular),
        segments=len(pipeline.popular.by_segment),
        ann=pipeline.ann is not None,
    )
    return ServingState(version, pipeline, metrics, name, path, popularity_stamp(path), problem)


def _pipeline(
    model: Recommender | None,
    popularity: Any,
    catalog: Catalog,
    segments: dict[str, str] | None,
    ann: AnnIndex | None,
    cold: ColdItems | None,
    options: StateOptions,
    log: Any,
) -> Pipeline:
    """The version's pipeline; a fallback that cannot be built leaves the lists empty."""
    try:
        return Pipeline.build(
            model,
            popularity,
            catalog=catalog,
            fallback_size=options.fallback_size,
            segments=segments,
            ann=ann,
            cold_items=cold,
            segment_blend=options.segment_blend,
        )
    except Exception as exc:  # no fallback list is a degraded service, not a dead one
        log.error("fallback_build_failed", error_type=type(exc).__name__, error=str(exc))
        return Pipeline.build(model, None, catalog=catalog, ann=ann, cold_items=cold)


def _cold_items(
    path: Path, model: Recommender | None, slots: tuple[int, ...], log: Any
) -> ColdItems | None:
    """The version's cold items for ``slots`` (None without slots, model or ``content/``)."""
    if not slots or model is None:
        return None
    if not (path / CONTENT_DIR).is_dir():
        log.warning("no_content_model", cold_item_slots=list(slots))
        return None
    try:
        content = load_model(path / CONTENT_DIR)
        if content.name != "content":
            raise ArtifactError(f"content/ holds a {content.name!r} model, not 'content'")
        return cold_items_of(content, model, slots, path.name)
    except Exception as exc:  # no slots is a plainer list, not a broken one
        log.error("content_load_failed", error_type=type(exc).__name__, error=str(exc))
        return None


def _load_segments(path: Path, column: str | None, log: Any) -> dict[str, str] | None:
    if column is None:
        return None
    try:
        return read_segments(path / USERS_FILE, column)
    except Exception as exc:  # no segments: global lists, still answers
        log.error("segments_load_failed", error_type=type(exc).__name__, error=str(exc))
        return None


def _metrics(manifest: dict[str, Any], log: Any) -> dict[str, float]:
    """Offline metrics from the manifest; malformed ones are dropped, not fatal."""
    try:
        return {str(k): float(v) for k, v in (manifest.get("metrics") or {}).items()}
    except (AttributeError, TypeError, ValueError):
        log.warning("manifest_metrics_ignored")
        return {}


def _build_ann(
    model: Recommender | None, settings: AnnSettings | None, log: Any
) -> AnnIndex | None:
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


def load_popularity(path: Path, model: Recommender | None, log: Any = _log) -> Any:
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
    pipeline = state.pipeline
    blend = segment_blend_for(popularity, pipeline.segment_blend)
    lists = PopularLists.build(popularity, state.catalog, size, pipeline.segments or None,
                               global_weight=blend)  # fmt: skip
    return lists, stamp


def _warm_up(pipeline: Pipeline, log: Any) -> Pipeline:
    """Score one user before going live: JIT compilation and BLAS start-up happen here, not
    inside the first requests' budget. A model that cannot score is dropped."""
    if pipeline.model is None or len(pipeline.model.users) == 0:
        return pipeline
    try:
        pipeline.model_list(0, Query(n=1))
    except Exception as exc:  # a model that cannot score must not go live
        log.error("model_warm_up_failed", error_type=type(exc).__name__, error=str(exc))
        return replace(pipeline, model=None, index=None, ann=None)
    return pipeline


def _load_catalog(path: Path, log: Any) -> Catalog:
    file = path / CATALOG_FILE
    if not file.is_file():
        return Catalog()
    try:
        return Catalog.read(file)
    except Exception as exc:  # no catalog: no business filters, still answers
        log.error("catalog_load_failed", error_type=type(exc).__name__, error=str(exc))
        return Catalog()
