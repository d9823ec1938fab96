"""Settings of ``tailor monitor``: the ``[monitoring]`` table of the shared settings file.

Every field below is documented with its default; docs/monitoring.md explains how to tune them.
``event_log_url`` and ``model_dir`` default to ``[serve]``'s, like ``tailor stream``'s. Durations
are seconds or a number with a unit: ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``.

.. code-block:: toml

    [monitoring]
    state_file = "monitor/state.db"
    every = "15m"
    window = "1h"
    webhook_url = "https://hooks.example.com/tailor"

    [monitoring.volume]
    min_ratio = 0.5
    max_ratio = 2.0

    [monitoring.scores]
    enabled = false
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tailor.errors import ConfigError, format_validation_error

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or ``"15m"``-style text (units s, m, h, d, w).

    Raises:
        ValueError: anything else, or a duration that is not positive.
    """
    if isinstance(value, bool):
        raise ValueError("give seconds or a duration such as '15m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 15m, 1h, 1d, 2w)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Run this check."""


class VolumeCheck(_Check):
    """Events per type against the same window of the last weeks."""

    min_ratio: float = Field(default=0.5, ge=0)
    """Alert when now / history mean falls below this (and ``|z| >= z_max``)."""
    max_ratio: float = Field(default=2.0, gt=0)
    """... or rises above this (and ``|z| >= z_max``)."""
    z_max: float = Field(default=3.0, ge=0)
    """How many history standard deviations a change must be to alert."""
    min_count: float = Field(default=20.0, ge=0)
    """Types with fewer events now and in the history mean are not judged; a type whose
    history mean reaches this and that has no event now has stopped arriving."""


class MixCheck(_Check):
    """PSI of the event-type shares against the same window of the last weeks."""

    max_psi: float = Field(default=0.2, gt=0)
    min_events: int = Field(default=100, ge=1)
    """Events needed now and in the history."""


class ValidationCheck(_Check):
    """Share of events the server rejected (``tailor_serving_events_total``)."""

    max_rate: float = Field(default=0.05, ge=0, le=1)
    min_events: int = Field(default=50, ge=1)
    metrics_url: str | None = None
    """The server's ``/metrics`` (e.g. ``http://127.0.0.1:8000/metrics``), scraped each run
    for the counter; without it the check is skipped. Several servers: one URL each run is
    not enough; scrape them into Prometheus and alert there."""


class UnknownCheck(_Check):
    """Shares of distinct users and items of the window unknown to the active model."""

    max_user_share: float = Field(default=0.5, ge=0, le=1)
    max_item_share: float = Field(default=0.1, ge=0, le=1)
    min_ids: int = Field(default=20, ge=1)


class FeatureCheck(_Check):
    """Feature distributions of the window against the active model's training data."""

    event_types: list[str] | None = None
    """Event types whose (visitor, item) pairs count (default: every type but exposure)."""
    numeric: list[str] = ["price"]
    """Numeric columns of the model folder's ``items.parquet`` (PSI and KS); absent ones are
    skipped."""
    categorical: list[str] = ["category"]
    """Categorical columns of ``items.parquet`` (PSI)."""
    activity: bool = True
    """Also compare events per visitor with the same window of the last weeks (KS, PSI)."""
    bins: int = Field(default=10, ge=2, le=100)
    """Quantile bins of numeric PSI."""
    eps: float = Field(default=1e-4, gt=0, lt=1)
    """Floor of a bin's share (an empty bin)."""
    max_psi: float = Field(default=0.2, gt=0)
    ks_max: float = Field(default=0.1, gt=0, le=1)
    ks_alpha: float = Field(default=0.01, gt=0, lt=1)
    min_n: int = Field(default=50, ge=1)
    """Values needed on either side."""
    reference_max: int = Field(default=100_000, ge=100)
    """Largest reference sample kept for KS (a seeded sample of the training pairs)."""


class ScoreCheck(_Check):
    """Top-k scores and lists of a fixed user sample, now against when the model was loaded."""

    sample_users: int = Field(default=200, ge=1)
    k: int = Field(default=10, ge=1, le=1000)
    ks_max: float = Field(default=0.2, gt=0, le=1)
    ks_alpha: float = Field(default=0.01, gt=0, lt=1)
    min_jaccard: float = Field(default=0.5, ge=0, le=1)
    seed: int = 0
    """Seed of the user sample."""


class KpiCheck(_Check):
    """CTR and conversion of the KPI window against a control band over its history."""

    window: Duration = 86_400.0
    """The KPI window (default one day), compared with the consecutive windows before it."""
    k_sigma: float = Field(default=3.0, gt=0)
    min_history: int = Field(default=7, ge=2)
    """Past windows with a value needed."""
    kpis: list[str] = ["ctr", "conversion"]


class MonitorSettings(BaseModel):
    """The ``[monitoring]`` table (sub-tables per check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_log_url: str | None = None
    """The event log the server appends to (default ``[serve] event_log_url``). Required."""
    model_dir: Path | None = None
    """The model store (or one model folder) whose active version is checked (default
    ``[serve] model_dir``). Required for the unknown-id, feature and score checks."""
    consumer: str = Field(default="tailor-monitor", min_length=1, max_length=128)
    """The monitor's reader name; for Redis and Kafka logs also its own consumer group, so it
    never takes events from ``tailor stream``'s group."""
    state_file: Path = Path("monitor-state.db")
    """The monitor's own SQLite file: recent events, log position, references, counter
    samples, last statuses (paths relative to the working folder, as every role's)."""
    every: Duration = 900.0
    """Time between runs of ``tailor monitor`` (without ``--once``)."""
    window: Duration = 3600.0
    """The window of the event checks: the last ``window`` before now."""
    history_weeks: int = Field(default=4, ge=1, le=52)
    """Weeks of history compared with (volume, mix, activity, KPI bands); the state keeps
    this much plus a day."""
    clock: str = Field(default="wall", pattern="^(wall|events)$")
    """``wall``: now is the machine's time; ``events``: the newest event's timestamp (replays,
    simulations)."""
    webhook_url: str | None = None
    """POST each run's new alerts here as JSON (None: off)."""
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    notify: str = Field(default="change", pattern="^(change|every)$")
    """``change``: log and post an alert when a check enters alert (and a resolution when it
    leaves it); ``every``: on every run while it lasts. Gauges always show the current state."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve the Prometheus gauges on this port (None: off)."""
    max_events_per_run: int = Field(default=1_000_000, ge=1)
    """Most new events read from the log in one run (the rest wait for the next)."""
    volume: VolumeCheck = VolumeCheck()
    mix: MixCheck = MixCheck()
    validation: ValidationCheck = ValidationCheck()
    unknown: UnknownCheck = UnknownCheck()
    features: FeatureCheck = FeatureCheck()
    scores: ScoreCheck = ScoreCheck()
    kpi: KpiCheck = KpiCheck()


INHERITED = ("event_log_url", "model_dir")


def monitor_settings(tables: dict[str, Any], **overrides: Any) -> MonitorSettings:
    """Settings from a settings file's tables (``[monitoring]``, then ``[serve]`` for the
    inherited fields) and ``overrides`` (None is skipped).

    Raises:
        ConfigError: a value is invalid, naming it.
    """
    serve = tables.get("serve", {}) or {}
    table = tables.get("monitoring", {}) or {}
    if not isinstance(table, dict) or not isinstance(serve, dict):
        raise ConfigError("[monitoring] and [serve] must be tables")
    data = {k: serve[k] for k in INHERITED if k in serve} | table
    data |= {k: v for k, v in overrides.items() if v is not None}
    try:
        return MonitorSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid monitoring settings: {format_validation_error(exc)}") from None


def load_monitor_settings(file: Path | None = None, **overrides: Any) -> MonitorSettings:
    """:func:`monitor_settings` of ``file`` (TOML or JSON, read as ``tailor serve`` reads it).

    Raises:
        ConfigError: the file is unreadable or malformed, or a value is invalid.
    """
    if file is None:
        return monitor_settings({}, **overrides)
    from tailor.serving.settings import read_settings_file

    return monitor_settings(read_settings_file(file), **overrides)
