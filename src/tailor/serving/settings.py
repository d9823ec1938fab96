"""Where the serving process lives: one ``ServeSettings`` from a file and ``TAILOR_*`` variables.

Precedence, highest first: keyword arguments (the CLI's options), environment variables
(``TAILOR_REDIS_URL=redis://...``; lists and nested values as JSON), the settings file (TOML or
JSON, given by ``TAILOR_SETTINGS_FILE`` or ``--config``), then the defaults below.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tailor.data.columns import DEFAULT_EVENT_WEIGHTS, TRACKING_EVENT_TYPES
from tailor.errors import ConfigError, format_validation_error
from tailor.experiments.config import Experiment, parse_experiments, read_experiments
from tailor.pipeline.ann import AnnSettings
from tailor.units import SECONDS_PER_DAY

Scope = Literal["read", "admin"]
CACHE_SCHEMES = ("memory", "redis", "rediss", "unix")


def check_cache_url(url: str) -> None:
    """Refuse a cache URL that can never work (wrong scheme, bad port or db), without echoing it:
    it may hold a password. A misconfiguration stops the start-up (exit 2); a Redis that is
    merely down is a runtime failure the service rides out on its fallback lists."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when not a number in 0-65535
    except ValueError:
        raise ValueError("the cache URL is malformed (check the port)") from None
    if parts.scheme not in CACHE_SCHEMES:
        raise ValueError(
            f"unsupported cache URL scheme {parts.scheme!r}; use redis://, rediss://, unix:// "
            "or memory://"
        )
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError("the cache URL has no host (redis://HOST:PORT/DB)")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError("the cache URL's database must be a number (redis://HOST:PORT/0)")
        if port == 0:
            raise ValueError("the cache URL's port must be 1-65535")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError("the cache URL has no socket path (unix:///path/to/redis.sock)")
    if parts.scheme != "memory":
        from redis.connection import parse_url  # redis-py's own parser: its query options too

        try:
            parse_url(url)
        except (ValueError, TypeError) as exc:  # redis-py's messages name the option, not values
            raise ValueError(f"the cache URL is malformed: {exc}") from None


class ApiKeySpec(BaseModel):
    """One API key, stored hashed: the plain key is never written anywhere by tailor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    """A label for logs and metrics (the key itself is never logged)."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the key (``tailor serve hash-key``, given the key on standard input)."""
    scope: Scope = "read"
    """``read`` may call the recommendation routes; ``admin`` may also switch model versions."""


class ServeSettings(BaseSettings):
    """Settings of ``tailor serve``; every field is documented with its default."""

    model_config = SettingsConfigDict(env_prefix="TAILOR_", extra="ignore", frozen=True)

    model_dir: Path | None = None
    """A model directory written by ``tailor fit`` or a registry root (``versions/`` + ``ACTIVE``).
    Default: none (the service answers from nothing and is not ready)."""
    redis_url: str = "memory://"
    """Cache URL: ``redis://[:password@]host:port/db`` or ``memory://`` (in-process, default)."""
    key_prefix: str = "tailor"
    """Prefix of every Redis key (``{prefix}:{version}:recs:{user_id}``). Default ``tailor``."""
    host: str = "127.0.0.1"
    """Bind address. Default ``127.0.0.1``."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Bind port. Default 8000."""
    workers: int = Field(default=1, ge=1)
    """Uvicorn worker processes. Default 1."""
    default_n: int = Field(default=10, ge=1, le=100)
    """List length when a request gives no ``n``. Default 10."""
    precompute_n: int = Field(default=50, ge=1, le=1000)
    """Items stored per user by ``tailor serve warm``; filters are applied on top. Default 50."""
    warm_on_start: bool = False
    """Precompute every user's list into the cache when a version is loaded (before it becomes
    active). Default False: use ``tailor serve warm`` for Redis; True suits ``memory://``."""
    cache_ttl_s: int = Field(default=7 * SECONDS_PER_DAY, ge=1)
    """Lifetime of precomputed lists in Redis; old versions expire by it. Default 7 days."""
    memory_cache_max_lists: int = Field(default=100_000, ge=1)
    """Users' lists the in-process cache (``memory://``) keeps at most, per worker; the least
    recently used list is evicted first. Default 100,000."""
    redis_timeout_ms: float = Field(default=50.0, gt=0)
    """Redis connect and read timeout. Default 50 ms."""
    redis_retries: int = Field(default=1, ge=0, le=3)
    """Retries of one Redis call after a connection error or timeout. Default 1."""
    breaker_cooldown_s: float = Field(default=0.25, gt=0)
    """After a Redis failure, calls fail fast for this long, then one probe is let through.
    Default 0.25 s (so recovery is noticed well within 1 s)."""
    breaker_threshold: int = Field(default=3, ge=1)
    """Consecutive Redis failures that open the breaker. Default 3."""
    scoring_budget_ms: float = Field(default=30.0, gt=0)
    """Live-scoring budget; past it the request is answered from the fallback. Default 30 ms."""
    scoring_threads: int = Field(default=2, ge=1)
    """Threads that run live scoring. Default 2."""
    write_back: bool = True
    """Store a list scored live on a cache miss under the active version's key (TTL
    ``cache_ttl_s``), in the background, so the user's next request is a hit. Default True."""
    ann_min_items: int = Field(default=50_000, ge=1)
    """Factor models (mf-sgd, ALS, BPR) with at least this many items get an HNSW index at load
    time, and live scoring ranks only its candidates. Default 50,000."""
    ann_candidate_factor: int = Field(default=10, ge=1)
    """ANN candidates per requested item: ``k = factor * n + seen + excluded``. Default 10."""
    ann_ef_search: int = Field(default=400, ge=1)
    """HNSW search breadth (raised to ``k`` when smaller). Default 400."""
    session_max_items: int = Field(default=20, ge=1, le=1000)
    """Recent items kept per user or session id (``serving/sessions.py``: the most recent
    distinct ones, fed by the events route); an id the model does not know is answered from
    them (``source=session``) instead of the cold-start list. Default 20."""
    session_ttl_s: int = Field(default=1800, ge=1)
    """How long an id's recent items live after its last event. Default 1,800 s (30 min)."""
    fallback_size: int = Field(default=200, ge=1)
    """Length of the in-process popular lists (global, per category, per segment); also the
    most a backfill can add. Default 200."""
    segment_column: str | None = Field(default=None, min_length=1, max_length=256)
    """Column of the version's ``users.parquet`` (e.g. ``country``) whose per-segment popular
    lists answer cold-start, fallback and backfill for users of that segment; None (default):
    global lists only."""
    segment_blend: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Weight of the global trend in each segment's popular list (``Pipeline.build``'s
    ``segment_blend``); None (default): 1 when the version's fallback was fitted with a
    half-life (``tailor fit --fallback-half-life``), 0 for plain counts, the choices validated
    on Online Retail's new customers (docs/models.md)."""
    cold_item_slots: tuple[int, ...] = ()
    """List ranks (from 1, e.g. ``[5, 10]``) that each take the user's best new item from the
    version's ``content/`` model (docs/models.md, "Content and cold start"); empty (default):
    no slots. A version without ``content/`` is then served without slots (logged)."""
    fallback_refresh_s: float = Field(default=60.0, gt=0)
    """How often the popular lists are rebuilt from the popularity artifact. Default 60 s."""
    reload_poll_s: float = Field(default=2.0, gt=0)
    """How often a registry's ``ACTIVE`` pointer is checked for a new version. Default 2 s."""
    max_batch_users: int = Field(default=100, ge=1)
    """Most users in one ``POST /v1/recommendations``. Default 100."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    """Largest accepted request body; larger ones get 413. Default 64 KiB."""
    api_keys: list[ApiKeySpec] = Field(default_factory=list)
    """API keys (hashed). Empty (default): no authentication, and the admin routes are off unless
    ``admin_open``."""
    admin_open: bool = False
    """Allow ``/v1/admin/*`` without API keys (anyone who reaches the port may switch versions;
    logged as a warning at start-up). Default False: without keys the admin routes answer 403."""
    rate_limit_per_s: int = Field(default=0, ge=0)
    """Requests per second allowed per API key, shared through Redis; 0 (default): unlimited."""
    auth_fail_limit: int = Field(default=10, ge=1)
    """Failed API keys (401) one client IP may present within ``auth_fail_window_s`` before it
    gets 429 with Retry-After. Default 10."""
    auth_fail_window_s: float = Field(default=60.0, gt=0)
    """The window of ``auth_fail_limit``. Default 60 s."""
    history_limit: int = Field(default=50, ge=1)
    """Entries kept in a registry's activation HISTORY (the oldest are dropped). Default 50."""
    shutdown_grace_s: int = Field(default=10, ge=1)
    """On SIGTERM/SIGINT: the most time spent answering requests already sent (new connections
    are still accepted for up to half of it, until none has been in flight for 0.3 s), then the
    process exits 0. Whole seconds (uvicorn's unit). Default 10 s."""
    event_log_url: str | None = None
    """Where ``POST /v1/events`` appends events (docs/streaming.md): ``sqlite:///PATH``
    (embedded), ``redis://...?stream=S``, ``kafka://HOST:PORT/TOPIC`` or ``kinesis://STREAM``.
    None (default): the route answers 503."""
    event_types: tuple[str, ...] = (*DEFAULT_EVENT_WEIGHTS, *TRACKING_EVENT_TYPES)
    """Event types ``POST /v1/events`` accepts (after label normalisation: ``"Add to cart"`` is
    ``add_to_cart``); other types are rejected with 422. Default: view, click, add_to_cart,
    purchase, rating and exposure (a shown list: counted by experiments and KPIs, never
    learned from)."""
    max_event_body_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest ``POST /v1/events`` body (a batch of up to 1,000 events). Default 1 MiB."""
    stream: bool = False
    """Run the event consumer (``tailor stream``) inside this server, in a thread: the
    one-process setup, and the only one that can refresh a ``memory://`` cache. Needs
    ``event_log_url`` and a model store as ``model_dir``; the consumer's other settings come
    from ``TAILOR_STREAM_*`` (docs/streaming.md). Default False."""

    experiments: tuple[Experiment, ...] = ()
    """A/B tests (docs/experiments.md): ``[[experiments]]`` tables of the settings file (at the
    top level or inside ``[serve]``). While one runs, its variants decide what the enrolled
    users are served, and the answers name the experiment and variant. Default: none."""
    experiments_file: Path | None = None
    """A TOML file of more ``[[experiments]]`` (read at start-up; names must be unique across
    both). Default: none."""
    exposure_log: Literal["experiments", "all", "off"] = "experiments"
    """Which served lists are written to ``event_log_url`` as exposure events (one per item,
    in the background; docs/experiments.md): ``experiments`` (default: lists served in a
    running experiment), ``all`` or ``off``."""

    @field_validator("cold_item_slots")
    @classmethod
    def _slots(cls, slots: tuple[int, ...]) -> tuple[int, ...]:
        if any(r < 1 for r in slots) or len(set(slots)) != len(slots):
            raise ValueError(f"cold-item slots must be distinct ranks >= 1, got {list(slots)}")
        return tuple(sorted(slots))

    @field_validator("redis_url")
    @classmethod
    def _cache_url(cls, url: str) -> str:
        check_cache_url(url)
        return url

    @property
    def ann(self) -> AnnSettings:
        """The ANN settings as the loader takes them."""
        return AnnSettings(
            min_items=self.ann_min_items,
            candidate_factor=self.ann_candidate_factor,
            ef_search=self.ann_ef_search,
        )

    def all_experiments(self) -> list[Experiment]:
        """``experiments`` plus those of ``experiments_file``.

        Raises:
            ConfigError: the file is unreadable or invalid, or two experiments share a name.
        """
        found = list(self.experiments)
        if self.experiments_file is not None:
            found += read_experiments(self.experiments_file)
        parse_experiments([e.model_dump() for e in found])  # unique names across both
        return found

    @property
    def auth_enabled(self) -> bool:
        """Whether requests must carry an API key."""
        return bool(self.api_keys)


def load_settings(file: Path | None = None, **overrides: Any) -> ServeSettings:
    """Settings from ``file`` (TOML or JSON), the environment and ``overrides`` (None is skipped).

    Raises:
        ConfigError: the file is unreadable or a value is invalid.
    """
    from pydantic import ValidationError

    base: dict[str, Any] = _read_file(file) if file is not None else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        env = ServeSettings()
        # the environment beats the file, explicit overrides beat both
        merged = {**base, **env.model_dump(exclude_unset=True), **given}
        return ServeSettings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid serving settings: {format_validation_error(exc)}") from None


def _read_file(file: Path) -> dict[str, Any]:
    data = read_settings_file(file)
    section = data.get("serve", data)  # a file without tables is all [serve]
    if not isinstance(section, dict):
        raise ConfigError(f"settings file {file}: [serve] must be a table")
    if section is not data and "experiments" in data:  # [[experiments]] beside [serve]
        inner = section.get("experiments", [])
        section = {**section, "experiments": [*inner, *data["experiments"]]}
    return section


def read_settings_file(file: Path) -> dict[str, Any]:
    """The whole settings file (TOML, or JSON for any other suffix): the tables of every role
    (``[serve]``, ``[stream]``, ``[cleaning]``...).

    Raises:
        ConfigError: the file is unreadable or malformed.
    """
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {file}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"settings file {file} is malformed: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {file} must hold tables (a JSON object)")
    return data
