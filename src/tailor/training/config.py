"""The training pipeline's config: one TOML file (``tailor train --config FILE``).

Tables: ``[source]`` (what to read), ``[cleaning]`` (overrides of the source's cleaning),
``[split]``, ``[[candidates]]`` (models, fixed parameters, search spaces), ``[tuning]``,
``[metric]``, ``[gate]``, ``[publish]``, ``[tracking]`` and ``[output]``. Every option, its
default and meaning: docs/training.md and ``configs/train/example.toml``. Relative paths are
relative to the config file's folder.

Stability: experimental.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tailor.data.sources.config import read_config_file
from tailor.errors import ConfigError, format_validation_error
from tailor.training.spaces import SearchSpace, default_space
from tailor.training.tuning import OBJECTIVES, PRUNERS, SAMPLERS, TuningSettings, metric_k

BUNDLED = Path(__file__).resolve().parent / "configs"
"""Configs shipped in the wheel (``demo.toml``)."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSection(_Section):
    """``[source]``: the raw data (as ``tailor data prepare NAME [--input] [--config]``)."""

    name: str = "generic"
    """``online-retail`` (bundled), ``movielens-100k`` or ``generic``."""
    input: str | None = None
    """A file or folder overriding the source's default input."""
    config: str | None = None
    """A source config TOML (column mapping; its ``[cleaning]`` applies)."""


class SplitSection(_Section):
    """``[split]``: how train, validation and test are cut (as ``tailor data split``)."""

    strategy: Literal["temporal", "user-temporal", "random"] = "temporal"
    cut: str | None = None
    """temporal: the first day of the test period (fixed)."""
    test_days: float | None = None
    """temporal: the test period is the last N days of the data (moves with fresh data; the
    default for scheduled retraining)."""
    quantile: float | None = None
    """temporal: fraction of rows in train (without cut / test_days; default 0.8)."""
    last_n: int | None = None
    last_fraction: float | None = None
    test_fraction: float | None = None
    seed: int = 42
    validation_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    """validation carved from train with the same strategy (needed for tuning)."""

    @model_validator(mode="after")
    def _one_cut(self) -> SplitSection:
        given = [k for k in ("cut", "test_days", "quantile") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of cut, test_days, quantile (got {', '.join(given)})")
        if self.test_days is not None and self.test_days <= 0:
            raise ValueError("test_days must be positive")
        return self


class CandidateSection(_Section):
    """``[[candidates]]``: one model to tune."""

    model: str
    name: str | None = None
    """How results call it (default: the model name; needed when a model appears twice)."""
    params: dict[str, Any] = {}
    """Fixed parameters (taken out of the search)."""
    space: dict[str, Any] | None = None
    """The search space (see tailor.training.spaces); omitted: the model's default space;
    an empty table: no search (one trial with ``params``)."""
    trials: int | None = Field(None, ge=1)
    """Overrides ``[tuning] trials`` for this candidate."""
    starts: list[dict[str, Any]] | None = None
    """First trials (raw values or parameters); omitted: the library defaults."""

    @property
    def key(self) -> str:
        """The candidate's name in results."""
        return self.name or self.model

    def search_space(self) -> SearchSpace:
        """The space with ``params`` fixed (validated against the model's parameters)."""
        base = (
            default_space(self.model) if self.space is None else SearchSpace.from_table(self.space)
        )
        space = base.with_fixed(self.params)
        space.check(self.model)
        return space


class TuningSection(_Section):
    """``[tuning]``: the search (see :class:`tailor.training.tuning.TuningSettings`)."""

    sampler: str = "tpe"
    trials: int = Field(20, ge=1)
    timeout_s: float | None = None
    seed: int | None = 42
    startup_trials: int | None = None
    pruner: str = "median"
    prune_startup_trials: int = 3
    prune_warmup_epochs: int = 1
    storage: str | None = None
    """Optuna storage URL (``postgresql://user@host/db``); several ``tailor train`` /
    ``tailor tune`` processes with the same storage and study share the trials."""
    study: str | None = None
    """Study name prefix in the storage (each candidate gets ``<study>-<candidate>``)."""
    workers: int = Field(1, ge=1)
    threads: int = 0
    """Fit threads per trial (0: the model's choice)."""
    objective: str = "validation"
    """What a trial scores: ``validation`` (fit on train, the validation part) or ``backtest``
    (the mean over ``periods`` rolling periods of train + validation; settings that hold
    across time)."""
    periods: int = Field(4, ge=1)
    """Backtest objective: the number of periods (the last complete ones before the test)."""
    horizon: str = "1m"
    """Backtest objective: each period's length (``1m`` calendar month, ``30d``, ``2w``)."""

    @model_validator(mode="after")
    def _known(self) -> TuningSection:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        from tailor.training.backtest import parse_horizon

        try:
            parse_horizon(self.horizon)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def settings(self, *, trials: int | None = None, study: str | None = None) -> TuningSettings:
        """As :class:`TuningSettings` (a candidate's trials and study name)."""
        return TuningSettings(
            sampler=self.sampler,  # type: ignore[arg-type]
            trials=trials or self.trials,
            timeout_s=self.timeout_s,
            seed=self.seed,
            startup_trials=self.startup_trials,
            pruner=self.pruner,  # type: ignore[arg-type]
            prune_startup_trials=self.prune_startup_trials,
            prune_warmup_epochs=self.prune_warmup_epochs,
            storage=self.storage,
            study=study,
            workers=self.workers,
        )


class MetricSection(_Section):
    """``[metric]``: what "better" means, on validation (choice) and test (gate)."""

    name: str = "ndcg@10"
    k: list[int] = [10, 20]
    """List lengths reported on test."""
    relevant: Literal["all", "novel"] = "all"
    """``novel``: only items new to the user count (repeat purchases are easy to predict)."""

    @model_validator(mode="after")
    def _metric(self) -> MetricSection:
        try:
            metric_k(self.name)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class GateSection(_Section):
    """``[gate]``: when a new model may replace the served one."""

    metric: str | None = None
    """The gate's metric (default: ``[metric] name``)."""
    popularity_margin: float = 0.05
    """The candidate's test mean must be at least (1 + margin) x popularity's."""
    active_margin: float = 0.0
    """... and at least (1 + margin) x the active model's (when one is served)."""
    significant: bool = True
    """... with a significant paired difference (t-test and Wilcoxon p < alpha)."""
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    min_coverage: float = Field(0.0, ge=0.0, le=1.0)
    """coverage@K of the candidate at least this (K of the gate metric)."""
    coverage_ratio: float = Field(0.5, ge=0.0)
    """... and at least this share of the active model's coverage@K (not collapsed)."""
    latency_budget_ms: float = Field(50.0, gt=0.0)
    """p99 of live scoring (Pipeline.recommend_user, one user) must stay within this."""
    latency_users: int = Field(200, ge=1)
    """Users timed for the latency check."""


class PublishSection(_Section):
    """``[publish]``: the model store the server reads (``tailor serve --model-dir ROOT``)."""

    registry: str | None = None
    """Registry root (versions/, ACTIVE); None: nothing is published (the gate still runs)."""
    activate: bool = True
    """Make a published version active (the server picks it up on its next poll)."""


class TrackingSection(_Section):
    """``[tracking]``: experiment tracking (MLflow), through tailor.training.tracking."""

    enabled: bool = False
    uri: str | None = None
    experiment: str = "tailor"


class OutputSection(_Section):
    """``[output]``: where runs go."""

    dir: str = "runs/tailor"
    """The run folder (``--out`` overrides); stages re-run only when their inputs changed."""


class TrainConfig(_Section):
    """A whole training pipeline."""

    name: str = "tailor"
    source: SourceSection = SourceSection()
    cleaning: dict[str, Any] = {}
    split: SplitSection = SplitSection()
    candidates: list[CandidateSection] = Field(min_length=1)
    tuning: TuningSection = TuningSection()
    metric: MetricSection = MetricSection()
    gate: GateSection = GateSection()
    publish: PublishSection = PublishSection()
    tracking: TrackingSection = TrackingSection()
    output: OutputSection = OutputSection()
    base_dir: Path = Path()
    """The config file's folder (relative paths are relative to it)."""

    @model_validator(mode="after")
    def _unique(self) -> TrainConfig:
        keys = [c.key for c in self.candidates]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"candidates {repeated} appear twice; give them distinct names")
        return self

    def resolve(self, path: str | None) -> Path | None:
        """A path from the config, relative to its folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def section(self, name: str) -> Any:
        """A table as JSON-ready data (for fingerprints and the run record)."""
        value = getattr(self, name)
        if isinstance(value, list):
            return [v.model_dump(mode="json") for v in value]
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        return value

    def with_candidates(self, keys: list[str]) -> TrainConfig:
        """Only the named candidates (in config order).

        Raises:
            ConfigError: an unknown name (the message lists the known ones).
        """
        known = [c.key for c in self.candidates]
        unknown = sorted(set(keys) - set(known))
        if unknown or not keys:
            raise ConfigError(f"choose from {', '.join(known)} (got {','.join(keys)!r})")
        return self.model_copy(update={"candidates": [c for c in self.candidates if c.key in keys]})


def load_config(path: Path | str) -> TrainConfig:
    """Read and validate a training config.

    Raises:
        ConfigError: missing file, not TOML, unknown or invalid options, a search space naming
            parameters the model does not have.
    """
    path = Path(path)
    return parse_config(read_config_file(path), path.resolve().parent, where=str(path))


def parse_config(table: dict[str, Any], base_dir: Path, *, where: str = "config") -> TrainConfig:
    """A training config from a parsed TOML table (see :func:`load_config`)."""
    try:
        config = TrainConfig.model_validate({**table, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(f"{where}: {format_validation_error(exc)}") from None
    for cand in config.candidates:
        try:
            cand.search_space()
        except ConfigError as exc:
            raise ConfigError(f"{where}: candidate {cand.key!r}: {exc}") from None
    return config


def bundled_config(name: str) -> Path:
    """A config shipped with tailor (``demo``).

    Raises:
        ConfigError: unknown name.
    """
    path = BUNDLED / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.toml")))
        raise ConfigError(f"no bundled training config {name!r}; bundled: {known}")
    return path
