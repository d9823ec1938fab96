"""Prometheus instruments of the serving layer, one registry per app (``tailor_serving_*``).

With ``--workers N`` every worker is its own process; ``tailor serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh folder before the workers start, prometheus-client
writes every value to files there, and ``/metrics`` (any worker) aggregates all workers' files
(:func:`exposition`): counters and histograms are summed, gauges follow their
``multiprocess_mode``. The cache hit ratio is computed at scrape time from the (aggregated)
lookup counters, never stored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from tailor.serving.state import ServingState

LATENCY_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.1, 0.25, 1.0
)  # fmt: skip


HIT_RATIO = "tailor_serving_cache_hit_ratio"
LOOKUPS = "tailor_serving_cache_lookups"


def multiprocess() -> bool:
    """Whether prometheus-client writes values to files (``PROMETHEUS_MULTIPROC_DIR`` set)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _ratio_family(counts: dict[str, float]) -> GaugeMetricFamily:
    total = sum(counts.values())
    return GaugeMetricFamily(
        HIT_RATIO,
        "hits / (hits + misses + errors) since start (all workers).",
        value=counts.get("hit", 0.0) / total if total else 0.0,
    )


class HitRatioCollector(Collector):
    """``cache_hit_ratio`` computed when scraped from lookup counts (no per-request gauge, and
    no ``set_function``, which multiprocess mode does not support)."""

    def __init__(self, counts: Callable[[], dict[str, float]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        yield _ratio_family(self._counts())

    def describe(self) -> Iterable[Metric]:
        yield _ratio_family({})


class ServingMetrics:
    """The instruments, registered in a private registry so apps in one process do not clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._cache_counts: dict[str, float] = {}
        self._shown: tuple[tuple[str, str] | None, set[str]] = (None, set())
        self._lookup_children: dict[str, Any] = {}
        self._answer_children: dict[str, Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}
        r = self.registry
        self.request_seconds = Histogram(
            "tailor_serving_request_seconds",
            "Request latency by route template and status code.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "tailor_serving_answers_total",
            "Lists returned, by source (model, cache, fallback, cold_start, popular).",
            ["source"],
            registry=r,
        )
        self.fallbacks = Counter(
            "tailor_serving_fallback_total",
            "Answers from the popular lists because a dependency failed, by reason.",
            ["reason"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "tailor_serving_cache_lookups_total",
            "Precomputed-list lookups by result: hit (answered from the cache), miss (scored "
            "live: no list, too short after filters, or exclude_seen=false), error.",
            ["result"],
            registry=r,
        )
        r.register(HitRatioCollector(lambda: dict(self._cache_counts)))
        self.model_info = Gauge(
            "tailor_serving_model_info",
            "1 for the active model version (0 for one replaced in this run).",
            ["version", "model"],
            registry=r,
            multiprocess_mode="max",
        )
        self.model_metric = Gauge(
            "tailor_serving_model_offline_metric",
            "Offline metrics recorded in the active version's manifest.",
            ["metric"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.cache_writes = Counter(
            "tailor_serving_cache_writes_total",
            "Live-scored lists written back to the cache, by result (written, failed, skipped).",
            ["result"],
            registry=r,
        )
        self.redis_up = Gauge(
            "tailor_serving_redis_up",
            "1 when Redis answered the last call.",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.rate_limited = Counter(
            "tailor_serving_rate_limited_total", "Requests refused with 429.", registry=r
        )
        self.events = Counter(
            "tailor_serving_events_total",
            "Events of POST /v1/events by result: accepted (appended to the event log) or "
            "rejected (invalid: schema, validation or an unknown type; left out). The monitor's "
            "validation-failure check reads these (docs/monitoring.md).",
            ["result"],
            registry=r,
        )

    def cache_result(self, result: str) -> None:
        """Count one cache lookup (``hit``, ``miss`` or ``error``)."""
        child = self._lookup_children.get(result)
        if child is None:
            child = self._lookup_children[result] = self.cache_lookups.labels(result)
        child.inc()
        self._cache_counts[result] = self._cache_counts.get(result, 0.0) + 1

    def answered(self, source: str) -> None:
        """Count one list returned from ``source``."""
        child = self._answer_children.get(source)
        if child is None:
            child = self._answer_children[source] = self.answers.labels(source)
        child.inc()

    def observe_request(self, route: str, status: str, seconds: float) -> None:
        """Record one request's latency (label children cached: ``labels()`` costs a lock)."""
        key = (route, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.request_seconds.labels(route, status)
        child.observe(seconds)

    def show_state(self, state: ServingState) -> None:
        """Publish the active version and its offline metrics.

        In multiprocess mode label sets cannot be removed (their values stay in the files), so
        the replaced version is set to 0 and metrics it had that the new one lacks to NaN.
        """
        info = None if state.version is None else (state.version, state.model_name or "none")
        old_info, old_metrics = self._shown
        if multiprocess():
            if old_info is not None and old_info != info:
                self.model_info.labels(*old_info).set(0)
            for name in old_metrics - set(state.metrics):
                self.model_metric.labels(name).set(math.nan)
        else:
            self.model_info.clear()
            self.model_metric.clear()
        if info is not None:
            self.model_info.labels(*info).set(1)
        for name, value in state.metrics.items():
            self.model_metric.labels(name).set(value)
        self._shown = (info, set(state.metrics))

    def exposition(self) -> bytes:
        """The ``/metrics`` text: this app's registry, or every worker's values aggregated from
        ``PROMETHEUS_MULTIPROC_DIR`` (the hit ratio then from the summed lookup counters)."""
        if not multiprocess():
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        collector = MultiProcessCollector(registry)

        def counts() -> dict[str, float]:
            out: dict[str, float] = {}
            for family in collector.collect():
                if family.name == LOOKUPS:
                    for sample in family.samples:
                        if sample.name == LOOKUPS + "_total":
                            result = sample.labels["result"]
                            out[result] = out.get(result, 0.0) + sample.value
            return out

        registry.register(HitRatioCollector(counts))
        return generate_latest(registry)
