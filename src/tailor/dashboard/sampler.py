"""The server's own counters, sampled every few seconds into a bounded ring buffer.

A background task (:meth:`ServiceSampler.run`) reads the app's Prometheus registry every
``interval_s`` seconds (never per request) and keeps the last ``capacity`` snapshots of the
running totals; :meth:`ServiceSampler.series` turns consecutive snapshots into per-interval
numbers: requests, fallback rate, cache hit ratio and latency percentiles. One buffer per
process: with ``--workers N`` each worker shows its own traffic.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

LATENCY_ROUTE_PREFIX = "/v1/recommendations"
"""Latency percentiles are those of the recommendation routes (GET and POST)."""
QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Snapshot:
    """Running totals at one time."""

    time: float
    answers: dict[str, float] = field(default_factory=dict)
    """Lists answered by source (model, cache, fallback, cold_start, session, popular)."""
    lookups: dict[str, float] = field(default_factory=dict)
    """Cache lookups by result (hit, miss, error)."""
    buckets: tuple[tuple[float, float], ...] = ()
    """(upper bound, cumulative count) of the recommendation routes' latency histogram."""


def read_snapshot(registry: CollectorRegistry, now: float) -> Snapshot:
    """The totals the dashboard follows, from a serving app's registry."""
    answers: dict[str, float] = {}
    lookups: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "tailor_serving_answers_total":
                source = sample.labels["source"]
                answers[source] = answers.get(source, 0.0) + sample.value
            elif sample.name == "tailor_serving_cache_lookups_total":
                result = sample.labels["result"]
                lookups[result] = lookups.get(result, 0.0) + sample.value
            elif sample.name == "tailor_serving_request_seconds_bucket" and sample.labels[
                "route"
            ].startswith(LATENCY_ROUTE_PREFIX):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return Snapshot(now, answers, lookups, tuple(sorted(buckets.items())))


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated linearly within the bucket
    that holds it (Prometheus' ``histogram_quantile``); the largest finite bound when it falls
    in the ``+Inf`` bucket; None for an empty histogram."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = (bound if not math.isinf(bound) else lower), count
    return lower


def _delta(new: dict[str, float], old: dict[str, float]) -> dict[str, float]:
    return {k: v - old.get(k, 0.0) for k, v in new.items()}


def interval(old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """What happened between two snapshots: ``requests`` (lists answered), ``fallback_rate``
    (fallback answers / answers), ``cache_hit_ratio`` (hits / lookups) and ``p50_ms``,
    ``p95_ms``, ``p99_ms`` of the recommendation routes (None when nothing happened)."""
    answers = _delta(new.answers, old.answers)
    lookups = _delta(new.lookups, old.lookups)
    previous = dict(old.buckets)
    buckets = [(b, c - previous.get(b, 0.0)) for b, c in new.buckets]
    total = sum(answers.values())
    looked = sum(lookups.values())
    row: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(new.time)),
        "requests": int(total),
        "fallback_rate": None if total == 0 else answers.get("fallback", 0.0) / total,
        "cache_hit_ratio": None if looked == 0 else lookups.get("hit", 0.0) / looked,
    }
    for q in QUANTILES:
        value = quantile(q, buckets)
        row[f"p{round(q * 100)}_ms"] = None if value is None else round(value * 1000, 3)
    return row


class ServiceSampler:
    """Snapshots of one app's counters in a ring buffer of ``capacity`` entries."""

    def __init__(
        self, registry: CollectorRegistry, *, interval_s: float = 5.0, capacity: int = 720
    ) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self._snapshots: deque[Snapshot] = deque(maxlen=capacity)

    def sample(self, now: float | None = None) -> Snapshot:
        """Take one snapshot now (the background task calls this)."""
        snap = read_snapshot(self.registry, time.time() if now is None else now)
        self._snapshots.append(snap)
        return snap

    @property
    def snapshots(self) -> list[Snapshot]:
        return list(self._snapshots)

    def series(self) -> list[dict[str, Any]]:
        """One :func:`interval` row per pair of consecutive snapshots, oldest first."""
        snaps = self.snapshots
        return [interval(a, b) for a, b in itertools.pairwise(snaps)]

    async def run(self) -> None:
        """Sample every ``interval_s`` seconds until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)


def totals(snapshots: Sequence[Snapshot]) -> dict[str, Any] | None:
    """Since-start numbers of the newest snapshot (None before the first)."""
    if not snapshots:
        return None
    return interval(Snapshot(0.0), snapshots[-1])
