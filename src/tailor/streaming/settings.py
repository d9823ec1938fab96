"""Settings of ``tailor stream``: the ``[stream]`` table of the file ``tailor serve`` reads too.

One file configures the three roles: ``[serve]`` for the server, ``[stream]`` for the consumer
(``event_log_url``, ``model_dir``, ``redis_url``, ``key_prefix``, ``cache_ttl_s`` and
``precompute_n`` default to the ``[serve]`` values, so the consumer writes the lists the
servers read), ``[cleaning]`` for the event rules (the batch source's table). Precedence,
highest first: keyword arguments (the
CLI's options), ``TAILOR_STREAM_*`` variables, the file, the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tailor.errors import ConfigError, format_validation_error
from tailor.serving.settings import check_cache_url, read_settings_file
from tailor.units import SECONDS_PER_DAY

INHERITED = ("event_log_url", "model_dir", "redis_url", "key_prefix", "cache_ttl_s", "precompute_n")
"""Fields a missing ``[stream]`` value takes from ``[serve]``."""


class StreamSettings(BaseSettings):
    """Settings of the event consumer; every field is documented with its default."""

    model_config = SettingsConfigDict(env_prefix="TAILOR_STREAM_", extra="ignore", frozen=True)

    event_log_url: str | None = None
    """The event log (see docs/streaming.md): ``sqlite:///RELATIVE`` or
    ``sqlite:////ABSOLUTE`` (embedded: no server), ``redis://...?stream=S&group=G``,
    ``kafka://HOST:PORT/TOPIC?group=G`` or ``kinesis://STREAM?region=R``. Required."""
    model_dir: Path | None = None
    """The model store (a registry root: ``versions/`` + ``ACTIVE``) whose active version is
    folded into and where snapshots are published. Required."""
    redis_url: str = "memory://"
    """Where the servers' cached lists live; the consumer rewrites the touched users' lists
    there. ``memory://`` (the default) means no shared cache: only a consumer inside the
    server (``[serve] stream = true``) can refresh that one."""
    key_prefix: str = "tailor"
    """Prefix of the cache keys (the servers')."""
    cache_ttl_s: int = Field(default=7 * SECONDS_PER_DAY, ge=1)
    """Lifetime of rewritten lists."""
    precompute_n: int = Field(default=50, ge=1, le=1000)
    """Items stored per touched user."""
    consumer: str = Field(default="tailor-stream", min_length=1, max_length=128)
    """This consumer's name in the log's consumer group."""
    batch_max: int = Field(default=5000, ge=1)
    """Most events applied in one micro-batch."""
    weights_refresh_s: float = Field(default=5.0, ge=0)
    """Models with lagging weights (EASE, RecencyEASE: ``SupportsDeferredWeights``) fold each
    micro-batch into the profiles and trend at once, and into their item-item weights at most
    this often: one update over the users changed since, each counted once (0: every batch).
    Before each snapshot the weights are refreshed. A user's own events show at once; other
    users' co-occurrences reach everyone's scores within this lag."""
    poll_timeout_s: float = Field(default=0.05, gt=0)
    """Longest wait for the first event of a micro-batch."""
    snapshot_every_s: float = Field(default=300.0, gt=0)
    """Publish the folded-in model as a new version this often (when events were applied)."""
    snapshot_every_events: int = Field(default=100_000, ge=1)
    """... or after this many applied events, whichever comes first."""
    snapshot_activate: bool = True
    """Make each snapshot the active version (servers then load it)."""
    reload_poll_s: float = Field(default=2.0, gt=0)
    """How often the store's active version is checked for a new full fit."""
    dedup_window_s: float = Field(default=SECONDS_PER_DAY, gt=0)
    """Repeats of an ``event_id`` within this much event time are dropped."""
    dedup_max_ids: int = Field(default=1_000_000, ge=1)
    """Most event ids remembered for that."""
    max_failures: int = Field(default=3, ge=1)
    """Deliveries of one record before it goes to the dead-letter place."""
    guard_sample: int = Field(default=200, ge=1)
    """Updated users whose lists the quality guard follows."""
    guard_min_users: int = Field(default=30, ge=1)
    """The guard judges once it follows this many users."""
    guard_min_overlap: float = Field(default=0.1, ge=0, le=1)
    """Folding in stops (and an alert is logged) when the followed users' lists keep, on
    average, less than this share of their items from before the fold-ins (0 = off)."""
    start: Literal["snapshot", "earliest"] = "snapshot"
    """Where reading starts: after the position of the newest snapshot written for this log
    (else the log's start), or always the log's start (a replay onto the active version)."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve Prometheus metrics on this port (None: off)."""
    metrics_host: str = Field(default="127.0.0.1", min_length=1, max_length=255)
    """The address the metrics listen on: loopback by default; ``0.0.0.0`` in a container, so
    Prometheus can scrape the pod."""

    @field_validator("redis_url")
    @classmethod
    def _cache_url(cls, url: str) -> str:
        check_cache_url(url)
        return url


def load_stream_settings(file: Path | None = None, **overrides: Any) -> StreamSettings:
    """Settings from ``file`` (``[stream]``, then ``[serve]`` for the inherited fields), the
    environment and ``overrides`` (None is skipped).

    Raises:
        ConfigError: the file is unreadable or a value is invalid.
    """
    tables = read_tables(file) if file is not None else {}
    serve, stream = tables.get("serve", {}), tables.get("stream", {})
    base = {k: serve[k] for k in INHERITED if k in serve} | stream
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        env = StreamSettings()
        return StreamSettings.model_validate(
            {**base, **env.model_dump(exclude_unset=True), **given}
        )
    except ValidationError as exc:
        raise ConfigError(f"invalid stream settings: {format_validation_error(exc)}") from None


def read_tables(file: Path) -> dict[str, dict[str, Any]]:
    """The ``[serve]``, ``[stream]`` and ``[cleaning]`` tables of a settings file (missing ones
    empty).

    Raises:
        ConfigError: the file is unreadable or malformed, or one of them is not a table.
    """
    data = read_settings_file(file)
    tables: dict[str, dict[str, Any]] = {}
    for name in ("serve", "stream", "cleaning"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"settings file {file}: [{name}] must be a table")
        tables[name] = table
    return tables
