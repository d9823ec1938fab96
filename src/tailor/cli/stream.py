"""``tailor stream``: the event consumer, the third process role beside train and serve.

tailor stream --config tailor.toml                 # [stream] (and [serve]) of the shared file
tailor stream --log sqlite:///events.db --model-dir STORE --redis redis://127.0.0.1:6379/0

It folds the log's events into the store's active model, rewrites the touched users' lists in
the servers' Redis, and publishes snapshots to the store; SIGTERM or Ctrl-C stops it after a last
snapshot. See docs/streaming.md.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from tailor.errors import ConfigError

SETTINGS_FILE_ENV = "TAILOR_SETTINGS_FILE"
REPORT_EVERY_S = 5.0


@click.command()
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Settings file: [stream], [serve], [cleaning] tables.  [env TAILOR_SETTINGS_FILE]",
)
@click.option(
    "--log", "event_log_url", help="Event log URL (sqlite:///PATH, redis://, kafka://, kinesis://)."
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The model store (registry root) to fold into and publish snapshots to.",
)
@click.option("--redis", "redis_url", help="The servers' cache: redis://host:port/db.")
@click.option("--consumer", help="This consumer's name in the log's group (default tailor-stream).")
@click.option(
    "--start",
    type=click.Choice(["snapshot", "earliest"]),
    help="Resume after the newest snapshot's position (default), or replay the whole log.",
)
@click.option(
    "--max-events",
    type=int,
    default=None,
    help="Stop once this many events are applied (batch runs, benchmarks).",
)
@click.option(
    "--idle-exit",
    type=float,
    default=None,
    help="Stop once the log has been empty for this many seconds.",
)
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port.")
@click.option("--metrics-host", help="Metrics address (default 127.0.0.1; 0.0.0.0 in a pod).")
@click.option("--quiet", is_flag=True, help="No progress lines.")  # fmt: skip
def stream(
    config: Path | None,
    max_events: int | None,
    idle_exit: float | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Fold live events into the active model and keep the servers' lists fresh."""
    from tailor.serving.cache import redact_url
    from tailor.serving.keys import Keys
    from tailor.serving.registry import ModelRegistry
    from tailor.streaming.consumer import StreamConsumer
    from tailor.streaming.lists import RedisListWriter
    from tailor.streaming.log import log_identity, open_source
    from tailor.streaming.rules import rules_from_table
    from tailor.streaming.settings import load_stream_settings, read_tables

    _refuse_password_on_argv(options.get("redis_url"), options.get("event_log_url"))
    file = config or (
        Path(os.environ[SETTINGS_FILE_ENV]) if SETTINGS_FILE_ENV in os.environ else None
    )
    settings = load_stream_settings(file, **options)
    if settings.model_dir is None:
        raise ConfigError("no model store: pass --model-dir STORE or set model_dir in [stream]")
    if settings.event_log_url is None:
        raise ConfigError("no event log: pass --log URL or set event_log_url in [stream]")
    log_url = settings.event_log_url
    console = Console(stderr=True, quiet=quiet)
    writer = None
    if settings.redis_url == "memory://":
        console.print(
            "[yellow]no shared cache (--redis): lists are not refreshed in servers; snapshots "
            "still reach them[/yellow]"
        )
    else:
        writer = RedisListWriter(
            settings.redis_url, Keys(settings.key_prefix), settings.cache_ttl_s
        )
    cleaning = read_tables(file).get("cleaning") if file is not None else None
    consumer = StreamConsumer(
        open_source(log_url, settings.consumer),
        ModelRegistry(settings.model_dir),
        settings,
        log_id=log_identity(log_url),
        rules=rules_from_table(cleaning),
        writer=writer,
    )
    consumer.open()
    console.print(
        f"consuming {redact_url(log_url)} into {settings.model_dir} (active {consumer.version})"
    )
    metrics = (
        _serve_metrics(settings.metrics_host, settings.metrics_port)
        if settings.metrics_port
        else None
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    progress = _Progress(console, consumer, stop, max_events, idle_exit, metrics)
    try:
        consumer.run(stop, progress)
    finally:
        consumer.close()
    s = consumer.stats
    console.print(
        f"stopped: {s.applied:,} events applied, {s.repeats:,} repeats, {s.dead:,} dead-lettered, "
        f"{s.snapshots} snapshots; active {consumer.version}"
    )


class _Progress:
    """A line every few seconds; the stop conditions of --max-events and --idle-exit."""

    def __init__(
        self,
        console: Console,
        consumer: Any,
        stop: threading.Event,
        max_events: int | None,
        idle_exit: float | None,
        metrics: Any,
    ) -> None:
        self.console, self.consumer, self.stop = console, consumer, stop
        self.max_events, self.idle_exit, self.metrics = max_events, idle_exit, metrics
        self.last_line = self.last_event = time.monotonic()
        self.applied_at_line = 0

    def __call__(self, report: Any) -> None:
        now, stats = time.monotonic(), self.consumer.stats
        if report.polled:
            self.last_event = now
        if self.metrics is not None:
            self.metrics.update(self.consumer, report)
        if now - self.last_line >= REPORT_EVERY_S:
            rate = (stats.applied - self.applied_at_line) / (now - self.last_line)
            lag = self.consumer.source.lag()
            behind = "?" if lag is None else f"{lag:,}"
            self.console.print(
                f"{stats.applied:,} applied ({rate:,.0f}/s), lag {behind}, "
                f"version {self.consumer.version}"
            )
            self.last_line, self.applied_at_line = now, stats.applied
        if self.max_events is not None and stats.applied >= self.max_events:
            self.stop.set()
        if self.idle_exit is not None and now - self.last_event >= self.idle_exit:
            self.stop.set()


class _Metrics:
    """Prometheus counters of the consumer."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        self.applied = Counter("tailor_stream_events_applied_total", "Events folded into the model")
        self.repeats = Counter("tailor_stream_events_repeated_total", "Events dropped as repeats")
        self.dead = Counter("tailor_stream_events_dead_total", "Events dead-lettered")
        self.lag = Gauge("tailor_stream_lag_events", "Events in the log not yet delivered")
        self.batch = Gauge("tailor_stream_batch_seconds", "Duration of the last micro-batch")
        self.guard = Gauge(
            "tailor_stream_guard_tripped", "1 when the quality guard stopped folding"
        )
        self.overlap = Gauge("tailor_stream_guard_overlap", "Mean kept share of followed lists")

    def update(self, consumer: Any, report: Any) -> None:
        self.applied.inc(report.applied)
        self.repeats.inc(report.repeats)
        self.dead.inc(report.dead)
        if report.polled:
            self.batch.set(report.seconds)
            lag = consumer.source.lag()
            if lag is not None:
                self.lag.set(lag)
        self.guard.set(1.0 if consumer.guard.tripped else 0.0)
        if consumer.guard.mean_overlap is not None:
            self.overlap.set(consumer.guard.mean_overlap)


def _serve_metrics(host: str, port: int) -> _Metrics:
    from prometheus_client import start_http_server

    metrics = _Metrics()
    start_http_server(port, addr=host)
    return metrics


def _refuse_password_on_argv(*urls: str | None) -> None:
    from urllib.parse import urlsplit

    for url in urls:
        if url and urlsplit(url).password is not None:
            raise ConfigError(
                "URLs on the command line must not hold a password (other users see it); put "
                "it in the settings file or TAILOR_STREAM_* variables"
            )
