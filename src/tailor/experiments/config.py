"""Experiments as data: an :class:`Experiment` (name, salt, variants, traffic, start/stop,
status), read from ``[[experiments]]`` tables of a TOML file and validated with one clear
:class:`~tailor.errors.ConfigError` naming the experiment and the field.

A variant says what its visitors are served: a model version of the store (``version``; none:
the active one), or the ``popular`` strategy (the version's popular list), a list length ``n``
(none: the request's), and free ``placement`` / ``style`` labels (carried into the answer's
logs and the report; the shop's page decides what they mean).

.. code-block:: toml

    [[experiments]]
    name = "ranker"                 # letters, digits, '_' and '-' (it is part of ids)
    salt = "ranker-2026-11"         # default: the name; change it to reshuffle everybody
    status = "running"              # draft | running | stopped
    start = 2026-11-01T00:00:00Z    # optional; before it the experiment is not running
    stop = 2026-12-01T00:00:00Z     # optional; from it on the experiment is not running
    traffic = 1.0                   # share of visitors enrolled (the others see the default)
    primary_metric = "conversion"   # ctr | conversion | aov | rpv: the report's verdict
    attribution_window_s = 86400    # an event counts for a list shown at most this long ago
      [[experiments.variants]]
      name = "control"
      weight = 1                    # weights are relative (normalised to sum 1)
      [[experiments.variants]]
      name = "popular"
      weight = 1
      strategy = "popular"
      n = 5
      placement = "home"
      style = "carousel"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tailor.errors import ConfigError, format_validation_error

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Experiment and variant names: they are joined into ``recommendation_id`` with ``:``."""
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Strategy = Literal["model", "popular"]
Status = Literal["draft", "running", "stopped"]
Metric = Literal["ctr", "conversion", "aov", "rpv"]
DEFAULT_WINDOW_S = 86_400
"""Default attribution window: an event counts for a list shown at most a day before it."""


class Variant(BaseModel):
    """One arm of an experiment: what its visitors are served."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    """Relative share of the enrolled visitors (normalised over the variants)."""
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] | None = None
    """A model version of the store, loaded beside the active one; None: the active version."""
    strategy: Strategy = "model"
    """``model``: the version's list (cache, live scoring, fallback as usual); ``popular``:
    the version's popular list (seen items left out when the request excludes them)."""
    n: int | None = Field(default=None, ge=1, le=100)
    """List length served to this variant; None: the request's ``n``."""
    placement: str | None = Field(default=None, min_length=1, max_length=64)
    style: str | None = Field(default=None, min_length=1, max_length=64)


class Experiment(BaseModel):
    """An A/B test: a salted hash splits visitors over the variants while it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    salt: str = Field(default="", max_length=256)
    """Hash salt; empty (default): the name. Experiments with different salts split the same
    visitors independently."""
    variants: tuple[Variant, ...] = Field(min_length=1)
    status: Status = "running"
    start: datetime | None = None
    stop: datetime | None = None
    traffic: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    """Share of visitors enrolled; the others get the default answer and no experiment."""
    primary_metric: Metric = "conversion"
    attribution_window_s: float = Field(default=DEFAULT_WINDOW_S, gt=0, allow_inf_nan=False)

    @field_validator("start", "stop")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [v.name for v in self.variants]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(repeated)}")
        if self.start is not None and self.stop is not None and self.stop <= self.start:
            raise ValueError("stop must be after start")
        if not self.salt:
            object.__setattr__(self, "salt", self.name)  # frozen: set once, while validating
        return self

    @property
    def weights(self) -> tuple[float, ...]:
        """The variants' shares, summing to 1."""
        total = sum(v.weight for v in self.variants)
        return tuple(v.weight / total for v in self.variants)

    def variant(self, name: str) -> Variant:
        """The variant called ``name`` (KeyError when there is none)."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def running_at(self, when: datetime) -> bool:
        """Whether the experiment assigns visitors at ``when`` (status running, within
        [start, stop))."""
        if self.status != "running":
            return False
        if self.start is not None and when < self.start:
            return False
        return self.stop is None or when < self.stop


def parse_experiments(entries: Sequence[Mapping[str, Any]], where: str = "") -> list[Experiment]:
    """Validate ``[[experiments]]`` entries; names must be unique.

    Raises:
        ConfigError: naming the experiment (or its index) and each bad field.
    """
    if not isinstance(entries, list | tuple):
        raise ConfigError(f"{where}experiments must be an array of tables ([[experiments]])")
    found: list[Experiment] = []
    for index, entry in enumerate(entries):
        label = entry.get("name", index) if isinstance(entry, Mapping) else index
        try:
            found.append(Experiment.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(
                f"{where}experiment {label!r}: {format_validation_error(exc)}"
            ) from None
    names = [e.name for e in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{where}experiment names must be unique; repeated: {repeated}")
    return found


def read_experiments(file: Path) -> list[Experiment]:
    """The ``[[experiments]]`` of a TOML file (a serve settings file or a file of its own;
    a ``[serve]`` file may also hold them inside ``[serve]``).

    Raises:
        ConfigError: the file is unreadable or malformed, or an experiment is invalid.
    """
    try:
        data = tomllib.loads(file.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read experiments file {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"experiments file {file} is malformed: {exc}") from None
    entries = data.get("experiments")
    if entries is None and isinstance(data.get("serve"), dict):
        entries = data["serve"].get("experiments")
    return parse_experiments(entries or [], where=f"{file}: ")


def find_experiment(experiments: Sequence[Experiment], name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        ConfigError: none is (the message lists the declared names).
    """
    for experiment in experiments:
        if experiment.name == name:
            return experiment
    known = ", ".join(e.name for e in experiments) or "none"
    raise ConfigError(f"no experiment named {name!r} (declared: {known})")
