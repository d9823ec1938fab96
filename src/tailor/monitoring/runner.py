"""One monitoring run, what ``tailor monitor`` schedules (docs/monitoring.md).

1. **Read** the events appended since the last run from the event log, as a reader of its own
   (``consumer``; for Redis and Kafka also its own group, so ``tailor stream`` loses nothing),
   into the state file with the position they were read up to (one transaction), and drop
   events older than the history the checks need.
2. **Load** the active version of the model store (again only when it changed) and its
   training reference: the base full fit's ``seen`` pairs (for a ``tailor stream`` snapshot,
   the version it was folded from) joined with its ``items.parquet``; computed once per base
   version and kept in the state file. The user sample of the score checks and their top-k
   lists and scores are taken the first time a base version is seen ("at load").
3. **Check**: volume and mix per type, validation failures (the server's counter, scraped),
   unknown users and items, feature drift, score and list drift, KPI bands.
4. **Alert**: log and webhook (new alerts and resolutions), Prometheus gauges (every result).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd

from tailor.errors import ArtifactError, ConfigError
from tailor.logging import get_logger
from tailor.monitoring import checks as C
from tailor.monitoring.alerts import LogSink, MonitorMetrics, Notice, WebhookSink, notices
from tailor.monitoring.config import MonitorSettings
from tailor.monitoring.state import MonitorState
from tailor.streaming.log import EventSource, LogUnavailable, open_source

_log = get_logger(__name__)

POLL_BATCH = 5000
EVENT_COUNTER = "tailor_serving_events_total"


def monitor_log_url(url: str, consumer: str) -> str:
    """The log URL the monitor reads: for Redis and Kafka, ``group`` set to ``consumer`` (a
    group of its own: in ``tailor stream``'s group it would take that consumer's events)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "kafka"):
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "group"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("group", consumer)])))


@dataclass(frozen=True)
class Reference:
    """A base version's training reference and its user sample's lists at load."""

    version: str
    taken_at: float
    item_counts: dict[str, float]
    """Training users per item (the base model's ``seen`` column sums)."""
    numeric: dict[str, list[float]]
    """Per numeric catalogue column, a sample of its values over the training pairs."""
    categorical: dict[str, dict[str, float]]
    """Per categorical catalogue column, training pairs per category."""
    users: list[str]
    lists: dict[str, list[str]]
    scores: list[float]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RunReport:
    """What one run found."""

    now: pd.Timestamp
    window: C.Window
    new_events: int
    version: str | None
    results: list[C.CheckResult]
    notice: Notice

    @property
    def alerts(self) -> list[C.CheckResult]:
        return [r for r in self.results if r.alert]


@dataclass
class _Loaded:
    version: str
    model: Any
    catalog: pd.DataFrame | None
    reference: Reference


class Monitor:
    """The monitor's runs over ``settings`` (state file, log reader, model, sinks)."""

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        metrics: MonitorMetrics | None = None,
        source: EventSource | None = None,
        scrape: Callable[[str], str] | None = None,
    ) -> None:
        self.settings = settings
        self.state = MonitorState(settings.state_file)
        self.metrics = metrics if metrics is not None else MonitorMetrics()
        self.sinks: list[Any] = [LogSink()]
        if settings.webhook_url:
            self.sinks.append(WebhookSink(settings.webhook_url, settings.webhook_timeout_s))
        self._source = source
        self._scrape = scrape or _scrape
        self._loaded: _Loaded | None = None

    # ---- the log -------------------------------------------------------------------------
    @property
    def source(self) -> EventSource | None:
        if self._source is None and self.settings.event_log_url:
            url = monitor_log_url(self.settings.event_log_url, self.settings.consumer)
            self._source = open_source(url, self.settings.consumer)
            self._source.seek(self.state.position)
        return self._source

    def ingest(self) -> int:
        """Read every event appended since the last run (at most ``max_events_per_run``)
        into the state; returns how many were new. A log that is down is logged and read
        at the next run."""
        source = self.source
        if source is None:
            return 0
        position, added, read = self.state.position, 0, 0
        try:
            while read < self.settings.max_events_per_run:
                records = source.poll(POLL_BATCH, 0.05)
                if not records:
                    break
                read += len(records)
                fresh = position.uncovered(records)
                position.advance(records)
                added += self.state.add_events([r.event for r in fresh], position)
                source.commit(records)
        except LogUnavailable as exc:
            _log.warning("monitor_log_unavailable", error=str(exc))
        return added

    # ---- the model -----------------------------------------------------------------------
    def _model(self, at: pd.Timestamp) -> _Loaded | None:
        if self.settings.model_dir is None:
            return None
        from tailor.serving.registry import ModelRegistry

        registry = ModelRegistry(self.settings.model_dir)
        version = registry.active()
        if version is None:
            return None
        if self._loaded is not None and self._loaded.version == version:
            return self._loaded
        from tailor.models.model_dir import ModelDir

        try:
            folder = ModelDir.load(registry.path(version))
        except ArtifactError as exc:
            _log.warning("monitor_model_unavailable", version=version, error=str(exc))
            return None
        base = _base_version(folder.path) or version
        stored = self.state.get(f"reference:{base}")
        if stored is not None:
            reference = Reference(**stored)
        else:
            base_dir = folder
            if base != version:
                try:
                    base_dir = ModelDir.load(registry.path(base))
                except ArtifactError:
                    base_dir = folder  # the base left the store: the snapshot's own data
            reference = self._take_reference(
                base, base_dir.model, base_dir.read_catalog(), at.timestamp()
            )
            self.state.put(**{f"reference:{base}": reference.as_dict()})
        self._loaded = _Loaded(version, folder.model, folder.read_catalog(), reference)
        return self._loaded

    def _take_reference(
        self, version: str, model: Any, catalog: pd.DataFrame | None, at: float
    ) -> Reference:
        f, s = self.settings.features, self.settings.scores
        items = np.asarray(model.items.ids).astype(str)
        counts = np.asarray(model.seen.astype(bool).sum(axis=0)).ravel().astype(float)
        numeric: dict[str, list[float]] = {}
        categorical: dict[str, dict[str, float]] = {}
        if catalog is not None:
            table = catalog.assign(item_id=catalog["item_id"].astype(str)).drop_duplicates(
                "item_id", keep="last"
            )
            table = table.set_index("item_id").reindex(items)
            rng = np.random.default_rng(s.seed)
            for column in f.numeric:
                if column in table:
                    values = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
                    sample = np.repeat(values, counts.astype(np.int64))
                    sample = sample[np.isfinite(sample)]
                    if len(sample) > f.reference_max:
                        sample = rng.choice(sample, f.reference_max, replace=False)
                    numeric[column] = sample.tolist()
            for column in f.categorical:
                if column in table:
                    by = pd.Series(counts, index=table[column].astype("string").fillna("(none)"))
                    categorical[column] = by.groupby(level=0).sum().astype(float).to_dict()
        users_all = np.asarray(model.users.ids).astype(str)
        rng = np.random.default_rng(s.seed)
        n = min(s.sample_users, len(users_all))
        users = sorted(rng.choice(users_all, n, replace=False).tolist()) if n else []
        lists, scores = _top_k(model, users, s.k)
        return Reference(
            version=version,
            taken_at=at,
            item_counts=dict(zip(items.tolist(), counts.tolist(), strict=True)),
            numeric=numeric,
            categorical={k: {str(c): v for c, v in d.items()} for k, d in categorical.items()},
            users=users,
            lists=lists,
            scores=scores,
        )

    # ---- a run ---------------------------------------------------------------------------
    def now(self) -> pd.Timestamp:
        """Now, by the settings' clock (the newest stored event's time for ``events``)."""
        if self.settings.clock == "events":
            newest = self.state.newest_event()
            if newest is not None:
                return newest + pd.Timedelta(microseconds=1)  # the newest event is inside
        return pd.Timestamp.now(tz="UTC")

    def run_once(self, now: pd.Timestamp | None = None) -> RunReport:
        """Read new events, run the enabled checks, send the alerts; see the module doc."""
        cfg = self.settings
        new = self.ingest()
        self._sample_counters()
        at = self.now() if now is None else C.as_utc(now)
        window = C.Window.ending(at, timedelta(seconds=cfg.window))
        kpi_window = C.Window.ending(at, timedelta(seconds=cfg.kpi.window))
        keep = C.WEEK * cfg.history_weeks + timedelta(seconds=max(cfg.window, cfg.kpi.window))
        self.state.prune(at - keep - timedelta(days=1))
        events = self.state.events(since=at - keep)
        covered = self.state.covered_since
        loaded = self._model(at)
        results = self.check(events, window, kpi_window, covered, loaded, at)
        previous: dict[str, str] = self.state.get("statuses", {})
        notice = notices(results, previous, cfg.notify)
        for sink in self.sinks:
            sink.send(notice)
        self.metrics.update(results)
        current = dict(previous)
        current.update({r.key: r.status for r in results if r.status != "skipped"})
        self.state.put(statuses=current, last_run=at.timestamp())
        version = None if loaded is None else loaded.version
        return RunReport(at, window, new, version, results, notice)

    def check(
        self,
        events: pd.DataFrame,
        window: C.Window,
        kpi_window: C.Window,
        covered: pd.Timestamp | None,
        loaded: _Loaded | None,
        now: pd.Timestamp,
    ) -> list[C.CheckResult]:
        cfg, out = self.settings, []
        weeks = cfg.history_weeks
        if cfg.volume.enabled:
            v = cfg.volume
            out += C.event_volume(
                events,
                window,
                history_weeks=weeks,
                covered_since=covered,
                min_ratio=v.min_ratio,
                max_ratio=v.max_ratio,
                z_max=v.z_max,
                min_count=v.min_count,
            )
        if cfg.mix.enabled:
            out.append(
                C.event_mix(
                    events,
                    window,
                    history_weeks=weeks,
                    covered_since=covered,
                    max_psi=cfg.mix.max_psi,
                    min_events=cfg.mix.min_events,
                )
            )
        if cfg.validation.enabled:
            accepted, rejected = self._counted(window)
            out.append(
                C.validation_failures(
                    accepted,
                    rejected,
                    window,
                    max_rate=cfg.validation.max_rate,
                    min_events=cfg.validation.min_events,
                )
            )
        if loaded is not None and cfg.unknown.enabled:
            u = cfg.unknown
            out += C.unknown_share(
                events,
                window,
                loaded.model.users.ids,
                loaded.model.items.ids,
                max_user_share=u.max_user_share,
                max_item_share=u.max_item_share,
                min_ids=u.min_ids,
            )
        if cfg.features.enabled:
            out += self._features(events, window, covered, loaded)
        if loaded is not None and cfg.scores.enabled:
            out += self._scores(loaded, now)
        if cfg.kpi.enabled:
            for name in cfg.kpi.kpis:
                history = C.kpi_history(
                    events, kpi_window, history_weeks=weeks, covered_since=covered
                )
                out.append(
                    C.control_band(
                        name,
                        [h[name] for h in history],
                        C.kpis(events, kpi_window)[name],
                        kpi_window,
                        k_sigma=cfg.kpi.k_sigma,
                        min_history=cfg.kpi.min_history,
                    )
                )
        return out

    def _features(
        self,
        events: pd.DataFrame,
        window: C.Window,
        covered: pd.Timestamp | None,
        loaded: _Loaded | None,
    ) -> list[C.CheckResult]:
        f = self.settings.features
        out: list[C.CheckResult] = []
        if loaded is not None:
            ref = loaded.reference
            types = f.event_types
            if types is None:
                types = sorted(set(events["type"]) - {C.EXPOSURE})
            pairs = C.interacted_pairs(events, window, types)
            catalog = loaded.catalog
            if catalog is not None:
                table = catalog.assign(item_id=catalog["item_id"].astype(str))
                table = table.drop_duplicates("item_id", keep="last").set_index("item_id")
                rows = table.reindex(pairs["item_id"].astype(str))
                rows = rows[pairs["item_id"].astype(str).isin(table.index).to_numpy()]
                for column, sample in ref.numeric.items():
                    if column not in rows:  # the active catalogue lost the column
                        continue
                    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
                    out += C.numeric_drift(
                        column,
                        np.asarray(sample),
                        values,
                        window,
                        bins=f.bins,
                        ks_max=f.ks_max,
                        ks_alpha=f.ks_alpha,
                        min_n=f.min_n,
                        eps=f.eps,
                        max_psi=f.max_psi,
                    )
                for column, counts in ref.categorical.items():
                    if column not in rows:
                        continue
                    now = rows[column].astype("string").fillna("(none)").value_counts()
                    out.append(
                        C.categorical_drift(
                            column,
                            counts,
                            {str(k): float(v) for k, v in now.items()},
                            window,
                            min_n=f.min_n,
                            eps=f.eps,
                            max_psi=f.max_psi,
                        )
                    )
        if f.activity:
            history = C.history_windows(window, self.settings.history_weeks, covered)
            past = [C.events_per_key(events, w) for w in history]
            reference = np.concatenate(past) if past else np.array([])
            out += C.numeric_drift(
                "events_per_visitor",
                reference,
                C.events_per_key(events, window),
                window,
                bins=f.bins,
                ks_max=f.ks_max,
                ks_alpha=f.ks_alpha,
                min_n=f.min_n,
                against=f"the same window of the last {len(history)} weeks",
                eps=f.eps,
                max_psi=f.max_psi,
            )
        return out

    def _scores(self, loaded: _Loaded, now: pd.Timestamp) -> list[C.CheckResult]:
        s, ref = self.settings.scores, loaded.reference
        since = C.Window(pd.Timestamp(ref.taken_at, unit="s", tz="UTC"), now)
        lists, scores = _top_k(loaded.model, ref.users, s.k)
        min_n = min(50, max(1, len(ref.scores)))
        return [
            C.score_drift(
                np.asarray(ref.scores),
                np.asarray(scores),
                since,
                ks_max=s.ks_max,
                ks_alpha=s.ks_alpha,
                min_n=min_n,
            ),
            C.list_overlap(
                ref.lists,
                lists,
                since,
                min_jaccard=s.min_jaccard,
                min_users=min(10, max(1, len(ref.users))),
            ),
        ]

    # ---- the server's counters -----------------------------------------------------------
    def _sample_counters(self) -> None:
        url = self.settings.validation.metrics_url
        if not (self.settings.validation.enabled and url):
            return
        try:
            counts = parse_event_counts(self._scrape(url))
        except Exception as exc:  # a server that is down: no sample this run
            _log.warning("monitor_scrape_failed", error=type(exc).__name__, detail=str(exc))
            return
        self.state.add_counters(time.time(), counts)

    def _counted(self, window: C.Window) -> tuple[float | None, float | None]:
        if self.settings.clock != "wall":
            wall = pd.Timestamp.now(tz="UTC")
            window = C.Window.ending(wall, window.length)
        return tuple(  # type: ignore[return-value]
            C.counter_increase(self.state.counter_samples(f"{EVENT_COUNTER}:{result}"), window)
            for result in ("accepted", "rejected")
        )

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        self.state.close()


def parse_event_counts(text: str) -> dict[str, float]:
    """``{"tailor_serving_events_total:accepted": n, ...:rejected: m}`` from a ``/metrics``
    text (summed over label sets; 0 for a result never counted)."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {f"{EVENT_COUNTER}:accepted": 0.0, f"{EVENT_COUNTER}:rejected": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == EVENT_COUNTER:
                key = f"{EVENT_COUNTER}:{sample.labels.get('result', '')}"
                if key in out:
                    out[key] += float(sample.value)
    return out


def _scrape(url: str) -> str:
    import httpx

    answer = httpx.get(url, timeout=5.0)
    answer.raise_for_status()
    return answer.text


def _top_k(model: Any, users: Sequence[str], k: int) -> tuple[dict[str, list[str]], list[float]]:
    """Each sampled user's top-k item ids and all their scores (seen items left out)."""
    if not users:
        return {}, []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a user gone from the model: no row, not an error
        recs = model.recommend(list(users), n=k)
    lists = {str(u): [str(i) for i in g["item_id"]] for u, g in recs.groupby("user_id", sort=False)}
    scores = [float(x) for x in recs["score"] if math.isfinite(float(x))]
    return lists, scores


def _base_version(path: Path) -> str | None:
    """The version a ``tailor stream`` snapshot was folded from (None for a full fit)."""
    import json

    file = path / "stream.json"
    if not file.is_file():
        return None
    try:
        base = json.loads(file.read_text()).get("base_version")
    except (OSError, ValueError):
        return None
    return str(base) if base else None


def require_log(settings: MonitorSettings) -> None:
    if settings.event_log_url is None:
        raise ConfigError("no event log: set event_log_url in [monitoring] or [serve]")
