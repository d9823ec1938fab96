"""``tailor stream``: fold live events into the active model, refresh the touched users' lists,
and publish snapshots to the model store.

One micro-batch (:meth:`StreamConsumer.step`)::

    poll the log -> skip records the position covers (replays) -> dead-letter records delivered
    too often -> drop repeated event ids -> event rules (types, weights; aggregation per user and
    item) -> partial_fit of the model and of its popularity fallback -> quality guard -> the
    touched users' lists rewritten in the servers' cache -> position advanced -> commit

A model whose item-item weights may lag (``SupportsDeferredWeights``: EASE, RecencyEASE) gets
each batch with ``defer_weights=True`` and its weights refreshed once ``weights_refresh_s`` has
passed since the last refresh, and always before a snapshot is written.

A snapshot (:meth:`StreamConsumer.snapshot`) publishes the folded-in model as a new version of
the store (``<base>.s<k>``, whole or not at all) with ``stream.json``: the log, the position and
the base version, plus the deduplication state. A restart loads the active version and resumes
after the position of the newest snapshot written for this log, re-applying what came after it
to that state: the model's state is exactly-once although delivery is at-least-once
(docs/streaming.md). A new full fit activated in the store (``tailor train``) is picked up: the
consumer folds further events into it from its current position.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import ConfigError, TailorError
from tailor.logging import get_logger
from tailor.models.base import SupportsDeferredWeights
from tailor.models.model_dir import ModelDir
from tailor.pipeline import Pipeline
from tailor.pipeline.scoring import ModelIndex
from tailor.serving.precompute import cacheable_lists
from tailor.serving.registry import STALE_S, ModelRegistry
from tailor.streaming.dedup import Deduplicator
from tailor.streaming.events import Event
from tailor.streaming.guard import QualityGuard
from tailor.streaming.lists import ListWriter
from tailor.streaming.log import EventSource, LogUnavailable, Position, Record
from tailor.streaming.rules import EventRules
from tailor.streaming.settings import StreamSettings

_log = get_logger(__name__)

STREAM_FILE = "stream.json"
"""In a snapshot version: the log, the position, the base version."""
DEDUP_FILE = "stream-dedup.npz"
"""In a snapshot version: the deduplicator's remembered ids."""
MIN_BACKOFF_S, MAX_BACKOFF_S = 0.1, 5.0
"""Pauses between attempts while the event log is down."""


@dataclass
class StepReport:
    """What one micro-batch did."""

    polled: int = 0
    replayed: int = 0
    """Records at or before the position (already applied): skipped."""
    repeats: int = 0
    """Events whose id was seen before: dropped."""
    dropped: int = 0
    """Events the rules drop (unknown types with ``drop``, non-positive quantities)."""
    dead: int = 0
    applied: int = 0
    """Events folded into the model."""
    users: int = 0
    """Users (or sessions) whose lists were rewritten."""
    snapshot: str | None = None
    seconds: float = 0.0


@dataclass
class ConsumerStats:
    """Totals since the consumer started (for progress and metrics)."""

    applied: int = 0
    repeats: int = 0
    dropped: int = 0
    dead: int = 0
    replayed: int = 0
    snapshots: int = 0
    weights_refreshes: int = 0
    """Deferred batches folded into the model's weights (``refresh_weights``)."""

    def add(self, report: StepReport) -> None:
        """Count one micro-batch (its snapshot is counted where it is taken)."""
        self.applied += report.applied
        self.repeats += report.repeats
        self.dropped += report.dropped
        self.dead += report.dead
        self.replayed += report.replayed


class StreamConsumer:
    """Folds a log's events into the active version of a model store.

    Args:
        source: the log's reading side.
        store: the model store (a registry root).
        settings: the consumer's settings.
        log_id: names the log in snapshots (its URL without password), so a snapshot's
            position is only used for the log it was taken on.
        rules: the event rules (the batch ``[cleaning]`` table's).
        writer: where touched users' lists go (None: nowhere, e.g. benchmarks).
    """

    def __init__(
        self,
        source: EventSource,
        store: ModelRegistry,
        settings: StreamSettings,
        *,
        log_id: str,
        rules: EventRules | None = None,
        writer: ListWriter | None = None,
    ) -> None:
        if store.is_single:
            raise ConfigError(
                f"{store.root} is one model folder; tailor stream needs a model store "
                "(tailor serve publish MODEL --store DIR) to publish its snapshots into"
            )
        self.source = source
        self.store = store
        self.settings = settings
        self.log_id = log_id
        self.rules = rules or EventRules()
        self.writer = writer
        self.position = Position()
        self.dedup = Deduplicator(settings.dedup_window_s, settings.dedup_max_ids)
        self.stats = ConsumerStats()
        self.guard = QualityGuard(
            settings.guard_sample, settings.guard_min_users, settings.guard_min_overlap
        )
        self.version = ""
        self.base_version = ""
        self.snapshot_index = 0
        self._folder: ModelDir | None = None
        self.pipeline = Pipeline()
        self._ours: set[str] = set()
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        self._last_reload_check = time.monotonic()
        self._last_weights_refresh = time.monotonic()
        self._failures: dict[tuple[str, str], int] = {}

    # ---- start --------------------------------------------------------------------------
    def open(self) -> None:
        """Load the active version and seek to where its events end.

        Raises:
            ConfigError: the store has no active version.
            ArtifactError: the active version cannot be loaded.
        """
        active = self.store.active()
        if active is None:
            raise ConfigError(
                f"the model store {self.store.root} has no active version; publish one first "
                "(tailor train, or tailor serve publish)"
            )
        meta = self._load(active)
        if self.settings.start == "earliest":
            meta = None
        else:
            unfinished = self._unactivated_snapshot(meta)
            if unfinished is not None:  # published, then stopped before it was activated
                meta = self._load(unfinished)
                self._ours.add(unfinished)
                if self.settings.snapshot_activate:
                    self.store.activate(unfinished, check=False)
                else:
                    self.version = active  # the lists stay under the version servers load
            elif meta is None:
                meta = self._newest_snapshot_meta()
        if meta is not None:
            self.position = Position.from_dict(meta["position"])
            self._restore_dedup(Path(meta["_path"]))
        self._warm_up()
        self._remove_stale_staging()
        self.source.seek(self.position)
        _log.info(
            "stream_opened",
            version=self.version,
            position=self.position.to_dict(),
            log=self.log_id,
        )

    def _load(self, version: str) -> dict[str, Any] | None:
        """Load ``version``; its stream metadata when it is a snapshot of this log."""
        path = self.store.path(version)
        folder = ModelDir.load(path)
        catalog = folder.read_catalog()
        self._folder = folder
        self.pipeline = Pipeline.build(folder.model, folder.popularity, catalog=catalog)
        self.version = version
        self.guard.reset()
        meta = read_stream_meta(path)
        if meta is not None and meta.get("log") == self.log_id:
            self.base_version = str(meta["base_version"])
            self.snapshot_index = int(meta["snapshot"])
            return meta
        self.base_version, self.snapshot_index = version, 0
        return None

    def _remove_stale_staging(self) -> None:
        """Staging folders (``.stream-*`` in the store) of snapshots whose writer was killed,
        once untouched for ``STALE_S`` (a younger one may be another consumer's, at work)."""
        for entry in self.store.root.glob(".stream-*"):
            try:
                if time.time() - entry.stat().st_mtime > STALE_S:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue

    def _warm_up(self) -> None:
        """Score one list before reading: the first micro-batch would otherwise load and
        compile the scoring code (about a second here) with its records in flight, and a
        consumer killed during it again and again would count deliveries against them."""
        model = self.pipeline.model
        if model is not None and len(model.users):
            cacheable_lists(self.pipeline, [str(model.users.ids[0])], 1)

    def _unactivated_snapshot(self, meta: dict[str, Any] | None) -> str | None:
        """The newest snapshot of this log taken from the loaded version's state and later
        than it: one the consumer published but did not activate (it was killed in between,
        or ``snapshot_activate`` is off). It holds the loaded state plus the events up to its
        position, so resuming from its position onto the loaded version would lose them."""
        index = int(meta["snapshot"]) if meta is not None else 0
        best: tuple[int, str] | None = None
        for name in self.store.versions():
            other = read_stream_meta(self.store.path(name))
            if (
                other is not None
                and other.get("log") == self.log_id
                and str(other.get("base_version")) == self.base_version
                and int(other["snapshot"]) > index
                and (best is None or int(other["snapshot"]) > best[0])
            ):
                best = (int(other["snapshot"]), name)
        return None if best is None else best[1]

    def _newest_snapshot_meta(self) -> dict[str, Any] | None:
        """The stream metadata of the newest snapshot of this log in the store (when the
        active version is a full fit made since): its position is where events stop being
        in any model."""
        best: dict[str, Any] | None = None
        for name in self.store.versions():
            meta = read_stream_meta(self.store.path(name))
            if meta is None or meta.get("log") != self.log_id:
                continue
            if best is None or str(meta["created_at"]) > str(best["created_at"]):
                best = meta
        return best

    def _restore_dedup(self, version_path: Path) -> None:
        file = version_path / DEDUP_FILE
        if file.is_file():
            with np.load(file, allow_pickle=False) as arrays:
                self.dedup.restore(arrays["ids"].tolist(), arrays["times"].tolist())

    # ---- the loop -----------------------------------------------------------------------
    def run(
        self, stop: threading.Event, on_step: Callable[[StepReport], Any] | None = None
    ) -> None:
        """Step until ``stop`` is set, then publish a last snapshot of unsaved events.

        A log that is down is waited for (pauses growing to ``MAX_BACKOFF_S``); nothing is
        lost, since reading resumes where it stopped.
        """
        backoff = MIN_BACKOFF_S
        while not stop.is_set():
            try:
                report = self.step()
            except LogUnavailable as exc:
                _log.warning("stream_log_unavailable", error=str(exc), retry_s=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = MIN_BACKOFF_S
            if on_step is not None:
                on_step(report)
        if self._since_snapshot:
            self._try_snapshot()

    def step(self) -> StepReport:
        """One micro-batch (see the module docstring)."""
        start = time.perf_counter()
        report = StepReport()
        self._check_reload()
        if self.guard.tripped:  # events wait in the log until a new full fit is activated
            time.sleep(self.settings.poll_timeout_s)
            return report
        records = self.source.poll(self.settings.batch_max, self.settings.poll_timeout_s)
        report.polled = len(records)
        if records:
            self._apply_records(records, report)
        if time.monotonic() - self._last_weights_refresh >= self.settings.weights_refresh_s:
            self.refresh_weights()
        if self._snapshot_due():
            report.snapshot = self._try_snapshot()
        report.seconds = time.perf_counter() - start
        self.stats.add(report)
        return report

    def _apply_records(self, records: list[Record], report: StepReport) -> None:
        fresh = self.position.uncovered(records)
        report.replayed = len(records) - len(fresh)
        poison = [r for r in fresh if r.deliveries > self.settings.max_failures]
        if poison:
            self._dead(poison, "delivered more often than max_failures without being applied")
            report.dead += len(poison)
            fresh = [r for r in fresh if r.deliveries <= self.settings.max_failures]
        problems = [self.rules.problem(r.event) for r in fresh]
        refused = [(r, p) for r, p in zip(fresh, problems, strict=True) if p is not None]
        for record, problem in refused:  # written to the log by something other than the API
            self._dead([record], problem)
        report.dead += len(refused)
        if refused:
            fresh = [r for r, p in zip(fresh, problems, strict=True) if p is None]
        kept_ids = {id(e) for e in self.dedup.fresh([r.event for r in fresh])}
        kept = [r for r in fresh if id(r.event) in kept_ids]
        report.repeats = len(fresh) - len(kept)
        events = [r.event for r in kept]
        report.dropped = len(events) - _events_kept(self.rules, events)
        dead_before = report.dead
        touched = self._fold(self.rules.to_frame(events), kept, report)
        report.applied = len(events) - report.dropped - (report.dead - dead_before)
        if touched:
            self._refresh(touched, report)
        self.position.advance(records)
        self.source.commit(records)
        self._since_snapshot += report.applied

    def _fold(
        self, frame: pd.DataFrame, records: Sequence[Record], report: StepReport
    ) -> list[str]:
        """partial_fit of the model and its fallback; returns the touched users. A batch that
        fails is applied event by event, and the events that fail alone are dead-lettered."""
        if frame.empty:
            return []
        users = sorted(set(frame[Columns.USER_ID].tolist()))
        self.guard.before(self.pipeline, users)
        try:
            self._partial_fit(frame)
        except TailorError:
            dead = self._fold_one_by_one(records)
            report.dead += len(dead)
            gone = {r.event.key for r in dead}
            users = [u for u in users if u not in gone or self.pipeline.user_num(u) is not None]
        return users

    def _fold_one_by_one(self, records: Sequence[Record]) -> list[Record]:
        dead: list[Record] = []
        for record in records:
            frame = self.rules.to_frame([record.event])
            if frame.empty:
                continue
            try:
                self._partial_fit(frame)
            except TailorError as exc:
                self._dead([record], f"cannot be applied: {exc}")
                dead.append(record)
        return dead

    def _partial_fit(self, frame: pd.DataFrame) -> None:
        model = self.pipeline.model
        assert model is not None and self._folder is not None
        n_items = len(model.items)
        if isinstance(model, SupportsDeferredWeights):
            model.partial_fit(frame, defer_weights=self.settings.weights_refresh_s > 0)
        else:
            model.partial_fit(frame)
        if self._folder.popularity is not None:
            self._folder.popularity.partial_fit(frame)
        if len(model.items) != n_items:  # new items: the index must know them
            self.pipeline = replace(
                self.pipeline, index=ModelIndex.build(model, self.pipeline.catalog)
            )

    def refresh_weights(self) -> None:
        """Fold the batches the model deferred into its weights (see the module docstring)."""
        model = self.pipeline.model
        if isinstance(model, SupportsDeferredWeights) and model.weights_pending:
            model.refresh_weights()
            self.stats.weights_refreshes += 1
        self._last_weights_refresh = time.monotonic()

    def _refresh(self, users: list[str], report: StepReport) -> None:
        lists = cacheable_lists(self.pipeline, users, self.settings.precompute_n)
        report.users = len(lists)
        if self.guard.after(lists):
            _log.error(
                "stream_guard_tripped",
                version=self.version,
                mean_overlap=round(self.guard.mean_overlap or 0.0, 4),
                bound=self.settings.guard_min_overlap,
                users=self.guard.followed,
                action="folding in stopped until a new full fit is activated",
            )
        if self.writer is not None:
            self.writer.write(self.version, lists)

    def _dead(self, records: Sequence[Record], reason: str) -> None:
        self.source.dead_letter(records, reason)
        self.position.advance(records)

    # ---- versions -----------------------------------------------------------------------
    def _check_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_reload_check < self.settings.reload_poll_s:
            return
        self._last_reload_check = now
        active = self.store.active()
        if active is None or active == self.version or active in self._ours:
            return
        _log.info("stream_new_full_fit", version=active, previous=self.version)
        self._load(active)  # keeps the position: later events go into the new fit
        self._since_snapshot = max(self._since_snapshot, 1)  # record the position with it

    def _snapshot_due(self) -> bool:
        if not self._since_snapshot:
            return False
        s = self.settings
        return (
            self._since_snapshot >= s.snapshot_every_events
            or time.monotonic() - self._last_snapshot >= s.snapshot_every_s
        )

    def _try_snapshot(self) -> str | None:
        """:meth:`snapshot`, logging a failure (the state is kept; retried when next due)."""
        try:
            name = self.snapshot()
            self.stats.snapshots += 1
            return name
        except (TailorError, OSError) as exc:
            self._last_snapshot = time.monotonic()
            _log.error("stream_snapshot_failed", version=self.version, error=str(exc))
            return None

    def snapshot(self) -> str:
        """Publish the folded-in model as ``<base>.s<k>`` (and activate it, by default)."""
        assert self._folder is not None and self.pipeline.model is not None
        self.refresh_weights()  # the saved weights hold every event up to the position
        index = self.snapshot_index + 1
        taken = set(self.store.versions())  # e.g. published by a run killed before activating
        while snapshot_name(self.base_version, index) in taken:
            index += 1
        name = snapshot_name(self.base_version, index)
        meta = {
            "log": self.log_id,
            "consumer": self.settings.consumer,
            "position": self.position.to_dict(),
            "base_version": self.base_version,
            "snapshot": index,
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        staging = Path(tempfile.mkdtemp(prefix=".stream-", dir=self.store.root))
        try:
            ids, times = self.dedup.state()

            def extras(folder: Path) -> None:
                (folder / STREAM_FILE).write_text(json.dumps(meta, indent=2))
                np.savez(folder / DEDUP_FILE, ids=ids, times=times)

            ModelDir.write(
                staging / name,
                self.pipeline.model,
                popularity=self._folder.popularity,
                catalog=self._folder.read_catalog(),
                users=_read_users(self._folder),
                extras=extras,
                command="stream",
                metrics=dict(self._folder.manifest.get("metrics", {})),
            )
            self.store.publish(staging / name, version=name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._ours.add(name)
        self.snapshot_index = index
        if self.settings.snapshot_activate:
            self.store.activate(name, check=False)
            self.version = name
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        _log.info("stream_snapshot", version=name, position=meta["position"])
        return name

    def close(self) -> None:
        self.source.close()
        if self.writer is not None:
            self.writer.close()


def _read_users(folder: ModelDir) -> pd.DataFrame | None:
    file = folder.users_file
    return None if file is None else pd.read_parquet(file)


def _events_kept(rules: EventRules, events: Sequence[Event]) -> int:
    return sum(1 for e in events if (w := rules.weight(e)) is not None and w > 0)


def snapshot_name(base: str, index: int) -> str:
    """``<base>.s<index>``, the base cut so the name stays a valid version (128 chars)."""
    suffix = f".s{index}"
    return base[: 128 - len(suffix)] + suffix


def read_stream_meta(version_path: Path) -> dict[str, Any] | None:
    """A version's ``stream.json`` (with ``_path``), None when it is not a snapshot."""
    file = version_path / STREAM_FILE
    if not file.is_file():
        return None
    try:
        meta: dict[str, Any] = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError):
        _log.warning("stream_meta_unreadable", file=str(file))
        return None
    meta["_path"] = str(version_path)
    return meta
