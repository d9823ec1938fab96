"""Prometheus instruments of the serving layer, one registry per app (``tailor_serving_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from tailor.serving.state import ServingState

LATENCY_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.1, 0.25, 1.0
)  # fmt: skip


class ServingMetrics:
    """The instruments, registered in a private registry so apps in one process do not clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._cache_counts: dict[str, int] = {}
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
        self.cache_hit_ratio = Gauge(
            "tailor_serving_cache_hit_ratio",
            "hits / (hits + misses + errors) since start.",
            registry=r,
        )
        self.cache_hit_ratio.set_function(self._hit_ratio)  # computed at scrape, not per request
        self.model_info = Gauge(
            "tailor_serving_model_info",
            "1 for the active model version.",
            ["version", "model"],
            registry=r,
        )
        self.model_metric = Gauge(
            "tailor_serving_model_offline_metric",
            "Offline metrics recorded in the active version's manifest.",
            ["metric"],
            registry=r,
        )
        self.cache_writes = Counter(
            "tailor_serving_cache_writes_total",
            "Live-scored lists written back to the cache, by result (written, failed, skipped).",
            ["result"],
            registry=r,
        )
        self.redis_up = Gauge(
            "tailor_serving_redis_up", "1 when Redis answered the last call.", registry=r
        )
        self.rate_limited = Counter(
            "tailor_serving_rate_limited_total", "Requests refused with 429.", registry=r
        )

    def cache_result(self, result: str) -> None:
        """Count one cache lookup (``hit``, ``miss`` or ``error``)."""
        child = self._lookup_children.get(result)
        if child is None:
            child = self._lookup_children[result] = self.cache_lookups.labels(result)
        child.inc()
        self._cache_counts[result] = self._cache_counts.get(result, 0) + 1

    def answered(self, source: str) -> None:
        """Count one list returned from ``source``."""
        child = self._answer_children.get(source)
        if child is None:
            child = self._answer_children[source] = self.answers.labels(source)
        child.inc()

    def _hit_ratio(self) -> float:
        total = sum(self._cache_counts.values())
        return self._cache_counts.get("hit", 0) / total if total else 0.0

    def observe_request(self, route: str, status: str, seconds: float) -> None:
        """Record one request's latency (label children cached: ``labels()`` costs a lock)."""
        key = (route, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.request_seconds.labels(route, status)
        child.observe(seconds)

    def show_state(self, state: ServingState) -> None:
        """Publish the active version and its offline metrics."""
        self.model_info.clear()
        if state.version is not None:
            self.model_info.labels(state.version, state.model_name or "none").set(1)
        self.model_metric.clear()
        for name, value in state.metrics.items():
            self.model_metric.labels(name).set(value)
