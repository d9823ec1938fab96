"""The server's counters sampled into a ring buffer: per-interval rates and percentiles."""

from __future__ import annotations

import math

import pytest

from tailor.dashboard.sampler import ServiceSampler, quantile, totals
from tailor.serving.instruments import ServingMetrics


def test_quantile_interpolates_within_the_bucket() -> None:
    buckets = [(0.001, 0.0), (0.002, 50.0), (0.005, 90.0), (0.01, 100.0), (math.inf, 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.002)  # the 50th of 100 ends bucket 2
    assert quantile(0.25, buckets) == pytest.approx(0.0015)
    assert quantile(0.95, buckets) == pytest.approx(0.0075)
    assert quantile(0.99, buckets) == pytest.approx(0.0095)
    assert quantile(0.5, [(0.001, 0.0), (math.inf, 0.0)]) is None
    assert quantile(0.5, []) is None
    # beyond the largest finite bound: that bound (Prometheus' rule)
    assert quantile(0.99, [(0.001, 1.0), (0.002, 1.0), (math.inf, 10.0)]) == 0.002


def test_series_are_deltas_between_samples() -> None:
    metrics = ServingMetrics()
    sampler = ServiceSampler(metrics.registry, interval_s=5, capacity=3)
    sampler.sample(now=1_000.0)
    for _ in range(3):
        metrics.answered("cache")
        metrics.cache_result("hit")
    metrics.answered("fallback")
    metrics.cache_result("error")
    for _ in range(10):
        metrics.observe_request("/v1/recommendations/{user_id}", "200", 0.0015)
    metrics.observe_request("/v1/dashboard/kpis", "200", 0.9)  # not a recommendation route
    sampler.sample(now=1_005.0)
    metrics.answered("model")
    metrics.cache_result("miss")
    metrics.observe_request("/v1/recommendations", "200", 0.02)
    sampler.sample(now=1_010.0)
    first, second = sampler.series()
    assert first["time"] == "1970-01-01T00:16:45Z"
    assert first["requests"] == 4 and first["fallback_rate"] == 0.25
    assert first["cache_hit_ratio"] == 0.75
    assert first["p50_ms"] == pytest.approx(1.5)  # 10 in (1, 2] ms: the median halfway
    assert second["requests"] == 1 and second["fallback_rate"] == 0.0
    assert second["cache_hit_ratio"] == 0.0
    assert second["p99_ms"] == pytest.approx(19.95)  # 15 + 0.99 * 5: one request in (15, 20] ms
    assert totals(sampler.snapshots)["requests"] == 5
    sampler.sample(now=1_015.0)  # the ring keeps 3 snapshots: the first interval drops out
    assert [row["time"] for row in sampler.series()] == [
        "1970-01-01T00:16:50Z",
        "1970-01-01T00:16:55Z",
    ]
    assert sampler.series()[-1]["requests"] == 0 and sampler.series()[-1]["p50_ms"] is None
