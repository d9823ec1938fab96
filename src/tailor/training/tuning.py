"""Hyperparameter tuning: Optuna (grid, random, TPE; pruning; RDB storage; worker processes) and
Hyperopt's TPE, over a :class:`~tailor.training.spaces.SearchSpace`.

:func:`optimize` runs any objective ``objective(params, trial) -> float``; ``trial.report(epoch,
value)`` reports an intermediate value and raises :class:`Pruned` when the pruner stops the trial
(Optuna samplers only). :class:`ModelObjective` is the objective of one recommender: fit on the
training part (per-epoch validation NDCG reported for pruning by ALS, BPR and mf-sgd), then the
validation metric of the lists :class:`tailor.pipeline.Pipeline` gives (the lists users get).
:func:`tune_model` puts the two together.

Distributed tuning uses Optuna's storages: ``storage = "postgresql://user@host/db"`` (or
``sqlite:///file.db``) with a ``study`` name. Every process that runs :func:`optimize` with the
same storage and study joins it; together they stop at ``trials`` finished trials (a trial in
flight when the budget is reached still finishes, so a few more than ``trials`` may be recorded).
``workers = N`` starts N processes on this machine (without a storage they share a journal file
in a temporary folder).

Stability: experimental.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from tailor.errors import ConfigError, TailorError
from tailor.logging import get_logger
from tailor.training.spaces import ITERATIVE, SearchSpace

if TYPE_CHECKING:
    import optuna

    from tailor.data.dataset import Dataset
    from tailor.data.split import Split

log = get_logger(__name__)

Sampler = Literal["tpe", "random", "grid", "hyperopt"]
SAMPLERS: tuple[str, ...] = ("tpe", "random", "grid", "hyperopt")
Pruner = Literal["median", "percentile", "hyperband", "none"]
PRUNERS: tuple[str, ...] = ("median", "percentile", "hyperband", "none")
COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"
ObjectiveKind = Literal["validation", "backtest"]
OBJECTIVES: tuple[str, ...] = ("validation", "backtest")
PERIODS_ATTR = "periods"
"""The trial attribute of the backtest objective: ``{origin date: value}``, in time order."""
_RESERVED_ATTRS = frozenset({"worker", "params", "error", "repeat"})
"""User attributes tailor's Optuna loop sets itself (not the objective's)."""
OPEN_ATTEMPTS = 5
"""Tries to open a shared study (processes starting at once race to create its tables)."""


class TuningError(TailorError):
    """Tuning could not produce a result (every trial failed, a bad storage, ...)."""


class Pruned(Exception):
    """Raised by :meth:`TrialHandle.report` when the pruner stops the trial."""


@dataclass(frozen=True)
class TuningSettings:
    """How a search runs.

    Attributes:
        sampler: ``tpe`` (Optuna's TPE), ``random``, ``grid`` (Optuna's grid over
            :meth:`SearchSpace.grid`) or ``hyperopt`` (Hyperopt's own ``fmin`` with ``tpe``).
        trials: trials in total (for a shared study: over every process); the grid sampler
            stops earlier when its grid is exhausted.
        timeout_s: stop starting trials after this many seconds (None: no limit).
        seed: seeds the sampler (worker ``i`` of several uses ``seed + i``); None: fresh.
        startup_trials: random trials before TPE models the space (default ``max(trials // 3,
            3)``, as the accuracy benchmark).
        pruner: ``median`` (stop a trial whose intermediate value is below the median of
            earlier trials at the same epoch), ``percentile`` (below the 25th percentile),
            ``hyperband`` or ``none``. Hyperopt never prunes.
        prune_startup_trials: finished trials before the median / percentile pruner acts.
        prune_warmup_epochs: epochs a trial always runs before it can be pruned.
        storage: an Optuna storage URL (``postgresql://...``, ``sqlite:///...``) shared by the
            processes of a study; None: in memory.
        study: the study's name in the storage (default: the caller's name).
        workers: processes on this machine, each running trials of the same study.
        direction: ``maximize`` (NDCG, recall) or ``minimize``.
    """

    sampler: Sampler = "tpe"
    trials: int = 20
    timeout_s: float | None = None
    seed: int | None = 42
    startup_trials: int | None = None
    pruner: Pruner = "median"
    prune_startup_trials: int = 3
    prune_warmup_epochs: int = 1
    storage: str | None = None
    study: str | None = None
    workers: int = 1
    direction: Literal["maximize", "minimize"] = "maximize"

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.pruner!r}; use one of {', '.join(PRUNERS)}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"trials must be a positive integer, got {self.trials!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers must be a positive integer, got {self.workers!r}")
        if self.sampler == "hyperopt" and (self.storage is not None or self.workers > 1):
            raise ConfigError(
                "sampler 'hyperopt' runs in one process without a storage; use an Optuna "
                "sampler (tpe, random, grid) with --storage/--workers"
            )
        if self.direction not in ("maximize", "minimize"):
            raise ConfigError(f"direction must be maximize or minimize, got {self.direction!r}")

    @property
    def n_startup(self) -> int:
        """Random trials before TPE models the space."""
        return self.startup_trials if self.startup_trials is not None else max(self.trials // 3, 3)


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial.

    Attributes:
        number: Optuna's trial number (order of start).
        params: the model parameters (fixed ones included).
        raw: the sampled values, switches included.
        value: the objective (None unless complete).
        state: ``complete``, ``pruned`` or ``failed``.
        seconds: wall-clock time.
        intermediate: epoch -> reported value.
        worker: the process id that ran it.
        error: why a failed trial failed.
        attrs: what the objective recorded with :meth:`TrialHandle.set_attr` (the backtest
            objective: ``periods``, each period's value by origin); Optuna user attributes.
    """

    number: int
    params: dict[str, Any]
    raw: dict[str, Any]
    value: float | None
    state: str
    seconds: float
    intermediate: dict[int, float] = field(default_factory=dict)
    worker: int | None = None
    error: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TuningResult:
    """What a search found.

    Attributes:
        best_params: model parameters of the best complete trial.
        best_raw: its sampled values (switches included).
        best_value: its objective.
        trials: every trial, in number order.
        settings: how the search ran.
        seconds: wall-clock time of this process's part.
        study: the Optuna study (Hyperopt's trials are recorded into an in-memory one), for plots.
    """

    best_params: dict[str, Any]
    best_raw: dict[str, Any]
    best_value: float
    trials: list[TrialRecord]
    settings: TuningSettings
    seconds: float
    study: Any = None

    @property
    def best_attrs(self) -> dict[str, Any]:
        """What the objective recorded for the best trial (e.g. its per-period values)."""
        for t in self.trials:
            if t.state == COMPLETE and t.params == self.best_params and t.attrs:
                return dict(t.attrs)
        return {}

    @property
    def counts(self) -> dict[str, int]:
        """Trials per state."""
        out = {COMPLETE: 0, PRUNED: 0, FAILED: 0}
        for t in self.trials:
            out[t.state] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``tuning.json`` of a run)."""
        s = self.settings
        return {
            "best_params": self.best_params,
            "best_raw": self.best_raw,
            "best_value": self.best_value,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "settings": {
                "sampler": s.sampler,
                "trials": s.trials,
                "seed": s.seed,
                "pruner": s.pruner,
                "storage": _safe_url(s.storage),
                "study": s.study,
                "workers": s.workers,
                "direction": s.direction,
            },
            "trials": [
                {
                    "number": t.number,
                    "state": t.state,
                    "value": t.value,
                    "seconds": round(t.seconds, 4),
                    "params": t.params,
                    "raw": t.raw,
                    "intermediate": {str(k): v for k, v in t.intermediate.items()},
                    "worker": t.worker,
                    "error": t.error,
                    "attrs": t.attrs,
                }
                for t in self.trials
            ],
        }

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: number, state, value, seconds, epochs, the parameters, then each
        period's value (``period:<origin>``) when the objective was a backtest."""
        rows = [
            {
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "seconds": t.seconds,
                "epochs": len(t.intermediate),
                **{f"param:{k}": v for k, v in t.params.items()},
                **{f"period:{k}": v for k, v in (t.attrs.get(PERIODS_ATTR) or {}).items()},
            }
            for t in self.trials
        ]
        return pd.DataFrame(rows)


class TrialHandle(Protocol):
    """What an objective sees of its trial."""

    number: int

    def report(self, step: int, value: float) -> None:
        """Report an intermediate value (e.g. per-epoch validation NDCG); raises
        :class:`Pruned` when the trial should stop."""

    def set_attr(self, key: str, value: Any) -> None:
        """Record a JSON-ready value with the trial (an Optuna user attribute; the trial's
        :attr:`TrialRecord.attrs`)."""


Objective = Callable[[dict[str, Any], TrialHandle], float]
"""``objective(params, trial) -> value``; may raise :class:`Pruned` through ``trial.report``."""


def optimize(
    space: SearchSpace,
    objective: Objective,
    settings: TuningSettings = TuningSettings(),
    *,
    starts: Sequence[Mapping[str, Any]] = (),
    name: str = "tailor",
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> TuningResult:
    """Search ``space`` for the parameters that optimise ``objective``.

    Args:
        space: what to search (its ``fixed`` parameters go to every trial).
        objective: ``objective(params, trial) -> float``. With ``workers > 1`` it must pickle
            (a module-level function or a dataclass such as :class:`ModelObjective`).
        settings: sampler, budget, pruner, storage, workers.
        starts: raw values (or plain parameters) of the first trials, e.g. the library defaults;
            in a shared study they are enqueued once.
        name: the study's name when ``settings.study`` is None.
        on_trial: called after each trial of this process (progress).

    Raises:
        TuningError: no trial completed, or the storage cannot be used.
    """
    if settings.study is None:
        settings = replace(settings, study=name)
    started = time.perf_counter()
    starts_raw = [space.raw_of(s) for s in starts]
    if settings.sampler == "hyperopt":
        return _hyperopt(space, objective, settings, starts_raw, on_trial, started)
    if not _has("optuna"):
        if settings.storage is not None or settings.workers > 1:
            raise ConfigError(
                "a shared study (storage, workers) needs Optuna: pip install 'tailor-recsys[train]'"
            )
        log.warning("optuna is not installed: plain random search, no pruning")
        return _plain(space, objective, settings, starts_raw, on_trial, started)
    return _optuna(space, objective, settings, starts_raw, on_trial, started)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _plain(
    space: SearchSpace,
    objective: Objective,
    settings: TuningSettings,
    starts: list[dict[str, Any]],
    on_trial: Callable[[TrialRecord], None] | None,
    started: float,
) -> TuningResult:
    """Without Optuna (the ``train`` extra): the start points, then seeded random samples of
    ``space``; no pruning, no study (the report then has no study plots)."""
    rng = np.random.default_rng(settings.seed)
    records: list[TrialRecord] = []
    deadline = None if settings.timeout_s is None else started + settings.timeout_s
    seen: set[str] = set()
    for number in range(settings.trials):
        if deadline is not None and time.perf_counter() > deadline:
            break
        raw = starts[number] if number < len(starts) else _random_raw(space, rng)
        params = {**space.fixed, **_resolve_plain(space, raw)}
        key = json.dumps(_jsonable(params), sort_keys=True, default=str)
        if key in seen and space.is_empty:
            break
        seen.add(key)
        handle = _RecordingHandle(number)
        t0 = time.perf_counter()
        value: float | None
        try:
            value = float(objective(params, handle))
            state, error = (COMPLETE, None) if math.isfinite(value) else (FAILED, "not finite")
        except Pruned:
            value, state, error = None, PRUNED, None
        except Exception as exc:
            value, state, error = None, FAILED, f"{type(exc).__name__}: {_first_line(exc)}"
        rec = TrialRecord(
            number, params, raw, value if state == COMPLETE else None, state,
            time.perf_counter() - t0, handle.intermediate, os.getpid(), error, handle.attrs,
        )  # fmt: skip
        records.append(rec)
        if on_trial is not None:
            on_trial(rec)
    return _best(records, settings, time.perf_counter() - started, None)


def _random_raw(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for dim in space.dimensions:
        if not dim.active(raw):
            continue
        if dim.optional:
            raw[dim.switch] = bool(rng.random() < 0.5)
            if not raw[dim.switch]:
                continue
        if dim.kind == "categorical":
            raw[dim.name] = dim.choices[int(rng.integers(len(dim.choices)))]
            continue
        assert dim.low is not None and dim.high is not None
        if dim.log:
            value = float(np.exp(rng.uniform(np.log(dim.low), np.log(dim.high))))
        else:
            value = float(rng.uniform(dim.low, dim.high))
        if dim.kind == "int":
            raw[dim.name] = int(min(max(round(value), dim.low), dim.high))
        else:
            raw[dim.name] = value
    return raw


def _resolve_plain(space: SearchSpace, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Model parameters of raw values without Optuna's FixedTrial (switches resolved)."""
    params: dict[str, Any] = {}
    seen: dict[str, Any] = {}
    for dim in space.dimensions:
        if not dim.active(seen):
            continue
        if dim.optional:
            on = bool(raw.get(dim.switch, False))
            seen[dim.switch] = on
            if not on:
                params[dim.name] = dim.off
                continue
        if dim.name in raw:
            seen[dim.name] = params[dim.name] = raw[dim.name]
    return params


# ---- Optuna ------------------------------------------------------------------------------------


def make_sampler(space: SearchSpace, settings: TuningSettings, worker: int = 0) -> Any:
    """The Optuna sampler of ``settings`` (worker ``i`` seeded ``seed + i``)."""
    import optuna

    seed = None if settings.seed is None else settings.seed + worker
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=settings.n_startup)


def make_pruner(settings: TuningSettings) -> Any:
    """The Optuna pruner of ``settings``."""
    import optuna

    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(settings.prune_warmup_epochs, 1))
    kwargs = {
        "n_startup_trials": settings.prune_startup_trials,
        "n_warmup_steps": settings.prune_warmup_epochs,
    }
    if settings.pruner == "percentile":
        return optuna.pruners.PercentilePruner(25.0, **kwargs)
    return optuna.pruners.MedianPruner(**kwargs)


def open_study(space: SearchSpace, settings: TuningSettings, worker: int = 0) -> Any:
    """Create or join the study of ``settings`` (its storage and name)."""
    import optuna

    _quiet_optuna()
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return optuna.create_study(
                study_name=settings.study,
                storage=storage_of(settings.storage),
                sampler=make_sampler(space, settings, worker),
                pruner=make_pruner(settings),
                direction=settings.direction,
                load_if_exists=True,
            )
        except ImportError as exc:
            raise TuningError(f"storage {_safe_url(settings.storage)}: {exc}") from None
        except Exception as exc:  # sqlalchemy's errors: not ours to import
            if not type(exc).__module__.startswith(("sqlalchemy", "psycopg")):
                raise
            racing = "IntegrityError" in type(exc).__name__ or "UniqueViolation" in str(exc)
            if racing and attempt + 1 < OPEN_ATTEMPTS:
                # processes joining a fresh database at once race to create its tables (or
                # the study): the loser finds them made on the next attempt
                time.sleep(0.5 * (attempt + 1))
                continue
            raise TuningError(
                f"cannot open the study storage {_safe_url(settings.storage)}: "
                f"{str(exc).splitlines()[0]}"
            ) from None
    raise AssertionError("unreachable")


def storage_of(url: str | None) -> Any:
    """A storage URL as Optuna takes it (``postgresql://`` uses psycopg2; journal files)."""
    if url is None:
        return None
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the train extra installs
            # psycopg2 (either works when installed)
            url = f"postgresql+{_pg_driver()}://" + url.removeprefix(plain)
    return url


def _pg_driver() -> str:
    return "psycopg2" if _has("psycopg2") else "psycopg"


def _optuna(
    space: SearchSpace,
    objective: Objective,
    settings: TuningSettings,
    starts: list[dict[str, Any]],
    on_trial: Callable[[TrialRecord], None] | None,
    started: float,
) -> TuningResult:
    with tempfile.TemporaryDirectory(prefix="tailor-tune-") as tmp:
        if settings.workers > 1 and settings.storage is None:
            settings = replace(settings, storage=f"journal:{Path(tmp) / 'study.log'}")
        study = open_study(space, settings)
        for raw in starts:
            if settings.sampler == "grid":
                break  # the grid sampler runs its own grid; enqueued points would be extra
            study.enqueue_trial(raw, skip_if_exists=True)
        if settings.workers == 1:
            run_worker(space, objective, settings, 0, on_trial, study=study)
        else:
            _spawn(space, objective, settings)
        return _result(space, study, settings, time.perf_counter() - started)


def run_worker(
    space: SearchSpace,
    objective: Objective,
    settings: TuningSettings,
    worker: int = 0,
    on_trial: Callable[[TrialRecord], None] | None = None,
    *,
    study: Any = None,
) -> None:
    """Run trials of the shared study until it holds ``settings.trials`` finished trials."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    if study is None:
        study = open_study(space, settings, worker)
    cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def wrapped(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", os.getpid())
        params = space.params(trial)
        trial.set_user_attr("params", _jsonable(params))
        key = json.dumps(_jsonable(params), sort_keys=True)
        if key in cache:  # the grid and TPE can repeat a point: same parameters, same value
            trial.set_user_attr("repeat", True)
            value, attrs = cache[key]
            for name, attr in attrs.items():
                trial.set_user_attr(name, attr)
            return value
        handle = _OptunaHandle(trial)
        try:
            value = float(objective(params, handle))
        except Pruned:
            raise optuna.TrialPruned() from None
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {_first_line(exc)}")
            raise
        if not math.isfinite(value):
            trial.set_user_attr("error", f"objective is {value}")
            raise TuningError(f"objective is {value}")
        cache[key] = (value, dict(handle.attrs))
        return value

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(_record(space, trial))

    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    done = len(study.get_trials(deepcopy=False, states=finished))
    callbacks: list[Any] = [callback]
    if settings.sampler == "grid" and settings.trials >= space.grid_size():
        # the whole grid: the grid sampler stops the study once every point was evaluated.
        # Counting trials instead could stop short when two processes ran one point twice.
        left = 2 * space.grid_size() - done
    else:
        left = settings.trials - done
        callbacks.insert(0, MaxTrialsCallback(settings.trials, states=finished))
    if left <= 0:
        return  # a shared study whose budget the other processes have spent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*GridSampler.*re-evaluating")
        study.optimize(
            wrapped,
            n_trials=left,
            timeout=settings.timeout_s,
            catch=(Exception,),
            callbacks=callbacks,
        )


class _OptunaHandle:
    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.number = int(trial.number)
        self.attrs: dict[str, Any] = {}

    def set_attr(self, key: str, value: Any) -> None:
        if key in _RESERVED_ATTRS:
            raise ValueError(f"trial attribute {key!r} is reserved")
        self.attrs[key] = value
        self.trial.set_user_attr(key, value)

    def report(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            return
        self.trial.report(float(value), int(step))
        if self.trial.should_prune():
            raise Pruned(f"trial {self.number} pruned at epoch {step}")


def _spawn(space: SearchSpace, objective: Objective, settings: TuningSettings) -> None:
    """``settings.workers`` processes, each a :func:`run_worker` on the shared study."""
    ctx = multiprocessing.get_context("spawn")  # no fork after threads (BLAS, numba)
    procs = [
        ctx.Process(target=_worker_main, args=(space, objective, settings, i), daemon=False)
        for i in range(settings.workers)
    ]
    for p in procs:
        p.start()
    failed = []
    for p in procs:
        p.join()
        if p.exitcode != 0:
            failed.append(p.exitcode)
    if len(failed) == len(procs):
        raise TuningError(f"every tuning worker failed (exit codes {failed})")


def _worker_main(
    space: SearchSpace, objective: Objective, settings: TuningSettings, worker: int
) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    run_worker(space, objective, settings, worker)


def _record(space: SearchSpace, trial: Any) -> TrialRecord:
    from optuna.trial import TrialState

    state = {TrialState.COMPLETE: COMPLETE, TrialState.PRUNED: PRUNED}.get(trial.state, FAILED)
    params = trial.user_attrs.get("params")
    if params is None:
        try:
            params = space.resolve(trial.params)
        except Exception:
            params = dict(trial.params)
    seconds = (
        (trial.datetime_complete - trial.datetime_start).total_seconds()
        if trial.datetime_complete is not None and trial.datetime_start is not None
        else 0.0
    )
    return TrialRecord(
        number=int(trial.number),
        params=dict(params),
        raw=dict(trial.params),
        value=float(trial.value) if state == COMPLETE and trial.value is not None else None,
        state=state,
        seconds=seconds,
        intermediate={int(k): float(v) for k, v in trial.intermediate_values.items()},
        worker=trial.user_attrs.get("worker"),
        error=trial.user_attrs.get("error"),
        attrs={k: v for k, v in trial.user_attrs.items() if k not in _RESERVED_ATTRS},
    )


def _result(
    space: SearchSpace, study: Any, settings: TuningSettings, seconds: float
) -> TuningResult:
    from optuna.trial import TrialState

    finished = [t for t in study.get_trials(deepcopy=False) if t.state not in (TrialState.RUNNING,)]
    finished = [t for t in finished if t.state != TrialState.WAITING]
    records = [_record(space, t) for t in sorted(finished, key=lambda t: t.number)]
    return _best(records, settings, seconds, study)


def _best(
    records: list[TrialRecord], settings: TuningSettings, seconds: float, study: Any
) -> TuningResult:
    done = [t for t in records if t.state == COMPLETE and t.value is not None]
    if not done:
        errors = sorted({t.error for t in records if t.error})
        why = f": {'; '.join(errors[:3])}" if errors else ""
        raise TuningError(f"study {settings.study!r}: no trial completed{why}")
    sign = 1.0 if settings.direction == "maximize" else -1.0
    best = max(done, key=lambda t: (sign * float(t.value or 0.0), -t.number))
    return TuningResult(
        best_params=best.params,
        best_raw=best.raw,
        best_value=float(best.value or 0.0),
        trials=records,
        settings=settings,
        seconds=seconds,
        study=study,
    )


# ---- Hyperopt ----------------------------------------------------------------------------------


class _RecordingHandle:
    def __init__(self, number: int) -> None:
        self.number = number
        self.intermediate: dict[int, float] = {}
        self.attrs: dict[str, Any] = {}

    def set_attr(self, key: str, value: Any) -> None:
        if key in _RESERVED_ATTRS:
            raise ValueError(f"trial attribute {key!r} is reserved")
        self.attrs[key] = value

    def report(self, step: int, value: float) -> None:
        self.intermediate[int(step)] = float(value)


def _hyperopt(
    space: SearchSpace,
    objective: Objective,
    settings: TuningSettings,
    starts: list[dict[str, Any]],
    on_trial: Callable[[TrialRecord], None] | None,
    started: float,
) -> TuningResult:
    """Hyperopt's ``fmin`` with ``tpe.suggest``; start points are evaluated first (they count
    in the budget); every trial is also recorded into an in-memory Optuna study for plots."""
    try:
        from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, tpe
    except ImportError:
        raise ConfigError(
            "sampler 'hyperopt' needs the optional dependency 'hyperopt': "
            "pip install 'tailor-recsys[train]'"
        ) from None
    from functools import partial

    from tailor.training.spaces import flatten_hyperopt

    records: list[TrialRecord] = []
    sign = -1.0 if settings.direction == "maximize" else 1.0
    deadline = None if settings.timeout_s is None else started + settings.timeout_s

    def run(raw: dict[str, Any]) -> TrialRecord:
        number = len(records)
        t0 = time.perf_counter()
        handle = _RecordingHandle(number)
        params = space.resolve(raw)
        try:
            value: float | None = float(objective(params, handle))
            state, error = COMPLETE, None
            if value is None or not math.isfinite(value):
                state, error, value = FAILED, f"objective is {value}", None
        except Exception as exc:
            value, state, error = None, FAILED, f"{type(exc).__name__}: {_first_line(exc)}"
        rec = TrialRecord(
            number, params, raw, value, state, time.perf_counter() - t0,
            handle.intermediate, os.getpid(), error, handle.attrs,
        )  # fmt: skip
        records.append(rec)
        if on_trial is not None:
            on_trial(rec)
        return rec

    for raw in starts[: settings.trials]:
        run(raw)
    remaining = settings.trials - len(records)
    if remaining > 0 and not space.is_empty:

        def fn(sample: dict[str, Any]) -> dict[str, Any]:
            if deadline is not None and time.perf_counter() > deadline:
                return {"status": STATUS_FAIL}
            rec = run(flatten_hyperopt(sample))
            if rec.value is None:
                return {"status": STATUS_FAIL}
            return {"status": STATUS_OK, "loss": sign * rec.value}

        rstate = np.random.default_rng(settings.seed)
        algo = partial(tpe.suggest, n_startup_jobs=settings.n_startup)
        fmin(
            fn,
            space.hyperopt(),
            algo=algo,
            max_evals=remaining,
            trials=Trials(),
            rstate=rstate,
            show_progressbar=False,
        )
    elif remaining > 0 and not records:
        run({})
    study = _recorded_study(space, records, settings)
    return _best(records, settings, time.perf_counter() - started, study)


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions of every raw name of ``space`` (switches included)."""
    import optuna.distributions as d

    out: dict[str, Any] = {}
    for dim in space.dimensions:
        if dim.optional:
            out[dim.switch] = d.CategoricalDistribution([True, False])
        if dim.kind == "categorical":
            out[dim.name] = d.CategoricalDistribution(list(dim.choices))
        elif dim.kind == "int":
            assert dim.low is not None and dim.high is not None
            step = 1 if dim.log else int(dim.step or 1)
            out[dim.name] = d.IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
        else:
            assert dim.low is not None and dim.high is not None
            out[dim.name] = d.FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
    return out


def _recorded_study(
    space: SearchSpace, records: list[TrialRecord], settings: TuningSettings
) -> Any:
    """An in-memory Optuna study holding ``records`` (for the report's plots)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    _quiet_optuna()
    study = optuna.create_study(study_name=settings.study, direction=settings.direction)
    dists = distributions(space)
    for rec in records:
        raw = {k: v for k, v in rec.raw.items() if k in dists}
        try:
            study.add_trial(
                create_trial(
                    params=raw,
                    distributions={k: dists[k] for k in raw},
                    value=rec.value if rec.state == COMPLETE else None,
                    intermediate_values=rec.intermediate,
                    state=TrialState.COMPLETE if rec.state == COMPLETE else TrialState.FAIL,
                    user_attrs={**rec.attrs, "params": _jsonable(rec.params)},
                )
            )
        except ValueError:
            continue  # a value outside its distribution (hyperopt's rounding): left out of plots
    return study


# ---- a recommender as the objective ------------------------------------------------------------


@dataclass
class ModelObjective:
    """Validation score of one model with a trial's parameters.

    Fits ``model`` on ``train`` (seeded with ``seed``; per-epoch ``validation_ndcg@10`` reported
    to the trial for pruning by iterative models), then scores the lists the pipeline gives the
    validation users (popularity fallback fitted on ``train``, the catalogue's filters) with
    ``metric`` (e.g. ``ndcg@10``) against ``validation`` (only items new to the user when
    ``relevant == "novel"``). Picklable: data given as paths is read in each worker.

    Attributes:
        model: registry name.
        train: training interactions (frame or Parquet/CSV path).
        validation: validation interactions (frame or path).
        items: the catalogue (frame or path), optional.
        metric: ``<name>@<k>`` of :func:`tailor.evaluation.evaluate`.
        relevant: ``all`` validation rows, or only ``novel`` items (not in the user's train).
        seed: fit seed (same parameters, same score).
        threads: fit threads (0: the model's choice).
        epoch_metric: the per-epoch report used for pruning.
    """

    model: str
    train: pd.DataFrame | Path
    validation: pd.DataFrame | Path
    items: pd.DataFrame | Path | None = None
    metric: str = "ndcg@10"
    relevant: Literal["all", "novel"] = "all"
    seed: int | None = 42
    threads: int = 0
    epoch_metric: str = "validation_ndcg@10"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __call__(self, params: dict[str, Any], trial: TrialHandle) -> float:
        from tailor.evaluation import evaluate_model
        from tailor.models.base import FitOptions
        from tailor.models.registry import create_model
        from tailor.pipeline import Pipeline

        data, val_data, val_split, popularity, items = self.prepared()
        model = create_model(self.model, params)

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            value = metrics.get(self.epoch_metric)
            if value is not None:
                trial.report(epoch, float(value))

        options = FitOptions(
            threads=self.threads, rng=self.seed, validation=val_data, on_epoch=on_epoch
        )
        model.fit(data, options)
        pipeline = Pipeline.build(model, popularity, catalog=items)
        result = evaluate_model(
            pipeline,
            val_split,
            (metric_k(self.metric),),
            truth_filter=self.truth_filter(),
            ci=False,
            segments=False,
            curve_k=0,
            items=items,
        )
        return float(result.metrics[self.metric])

    def truth_filter(self) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
        """The validation truth: every row, or items new to each user."""
        return novel_filter(self.frame("train")) if self.relevant == "novel" else None

    def frame(self, name: str) -> pd.DataFrame:
        """``train``, ``validation`` or ``items`` as a frame (read once per process)."""
        if name not in self._cache:
            value = getattr(self, name)
            if isinstance(value, str | Path):
                from tailor.data.io import read_interactions
                from tailor.data.validate import read_parquet

                path = Path(value)
                value = read_parquet(path) if name == "items" else read_interactions(path)
            self._cache[name] = value
        frame: pd.DataFrame = self._cache[name]
        return frame

    def prepared(self) -> tuple[Dataset, Dataset, Split, Any, pd.DataFrame | None]:
        """Training Dataset, validation over its vocabularies, the validation split, the
        popularity fallback and the catalogue: built once per process."""
        if "prepared" not in self._cache:
            from tailor.data.dataset import Dataset
            from tailor.data.split import Split
            from tailor.models.model_dir import validation_dataset
            from tailor.models.popular import Popularity

            train = self.frame("train")
            items = self.frame("items") if self.items is not None else None
            data = Dataset.from_frame(train, item_features=items)
            val = self.frame("validation")
            split = Split(train=train, validation=None, test=val, info={})
            self._cache["prepared"] = (
                data,
                validation_dataset(val, data),
                split,
                Popularity().fit(data),
                items,
            )
        prepared: tuple[Dataset, Dataset, Split, Any, pd.DataFrame | None] = self._cache["prepared"]
        return prepared


@dataclass
class BacktestObjective:
    """Mean of ``metric`` over rolling backtest periods of one model with a trial's parameters.

    The periods are those of :class:`tailor.training.backtest.BacktestPlan` (the same cut and
    truth code as ``tailor backtest``): the last ``periods`` complete periods of ``horizon``
    (calendar months for ``1m``) of ``data`` (the training and validation parts, concatenated:
    never the test period). At each origin the model is fitted on everything before it (seeded)
    and scored on the lists the pipeline gives for the period that follows (users with history
    at the origin; only items new to the user with ``relevant == "novel"``). The trial's value
    is the mean over periods; each period's value goes to the trial's attribute
    :data:`PERIODS_ATTR` (``{origin date: value}``). No per-epoch reports: not pruned.
    Picklable: data given as paths is read in each worker.

    Attributes:
        model: registry name.
        data: interaction frames or files, concatenated (train, validation).
        items: the catalogue (frame or path), optional.
        metric: ``<name>@<k>``.
        relevant: ``all`` test rows of a period, or only ``novel`` items.
        periods: the number of periods.
        horizon: each period's length (``1m``, ``30d``, ``2w``).
        seed: fit seed (same parameters, same score).
        threads: fit threads (0: the model's choice).
    """

    model: str
    data: tuple[pd.DataFrame | Path, ...]
    items: pd.DataFrame | Path | None = None
    metric: str = "ndcg@10"
    relevant: Literal["all", "novel"] = "all"
    periods: int = 4
    horizon: str = "1m"
    seed: int | None = 42
    threads: int = 0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __call__(self, params: dict[str, Any], trial: TrialHandle) -> float:
        result = self.plan().run(
            self.model,
            params,
            metric=self.metric,
            seed=0 if self.seed is None else self.seed,
            threads=self.threads,
            keep_per_user=False,
        )
        values = result.values()
        trial.set_attr(
            PERIODS_ATTR,
            {
                f"{p.origin:%Y-%m-%d}": (None if math.isnan(v) else float(v))
                for p, v in zip(result.periods, values, strict=True)
            },
        )
        return float(result.mean)

    def plan(self) -> Any:
        """The :class:`~tailor.training.backtest.BacktestPlan` (cut once per process)."""
        if "plan" not in self._cache:
            from tailor.data.io import read_interactions
            from tailor.data.validate import read_parquet
            from tailor.training.backtest import BacktestPlan

            frames = [
                read_interactions(Path(d)) if isinstance(d, str | Path) else d for d in self.data
            ]
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            items = self.items
            if isinstance(items, str | Path):
                items = read_parquet(Path(items))
            self._cache["plan"] = BacktestPlan.build(
                frame,
                n_periods=self.periods,
                horizon=self.horizon,
                k=(metric_k(self.metric),),
                items=items,
                novel_only=self.relevant == "novel",
            )
        return self._cache["plan"]


def novel_filter(history: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Truth filter keeping only (user, item) pairs absent from ``history``."""
    from tailor.evaluation.truth import unseen_only

    return lambda test: unseen_only(test, history)


def metric_k(metric: str) -> int:
    """K of ``name@K``.

    Raises:
        ConfigError: not of that form.
    """
    name, _, k = metric.partition("@")
    if not name or not k.isdigit() or int(k) < 1:
        raise ConfigError(f"metric must look like ndcg@10, got {metric!r}")
    return int(k)


def tune_model(
    model: str,
    train: pd.DataFrame | Path,
    validation: pd.DataFrame | Path | None,
    *,
    space: SearchSpace | None = None,
    settings: TuningSettings = TuningSettings(),
    items: pd.DataFrame | Path | None = None,
    metric: str = "ndcg@10",
    relevant: Literal["all", "novel"] = "all",
    starts: Sequence[Mapping[str, Any]] | None = None,
    threads: int = 0,
    on_trial: Callable[[TrialRecord], None] | None = None,
    objective: ObjectiveKind = "validation",
    periods: int = 4,
    horizon: str = "1m",
) -> TuningResult:
    """Tune ``model`` on a validation split, or over backtest periods.

    Args:
        model: registry name.
        train: training interactions (frame or file).
        validation: validation interactions (frame or file); optional with the backtest
            objective (its periods cover train and validation together).
        space: default: the model's default space (:data:`~tailor.training.spaces.
            DEFAULT_SPACES`).
        settings: sampler, budget, pruner, storage, workers.
        items: the catalogue.
        metric: the validation metric to maximise.
        relevant: ``all`` validation rows, or ``novel`` items only.
        starts: first trials (default: the library defaults of the model's default space).
        threads: fit threads per trial.
        on_trial: progress callback.
        objective: ``validation`` (fit on train, score validation: :class:`ModelObjective`)
            or ``backtest`` (the mean over ``periods`` rolling periods of ``horizon`` of train +
            validation: :class:`BacktestObjective`; not pruned).
        periods: backtest periods.
        horizon: each backtest period's length (``1m``, ``30d``, ``2w``).

    Raises:
        ConfigError: unknown model, parameters or objective; no validation data for the
            validation objective; a bad horizon.
        DataError: too few data for ``periods`` periods.
        TuningError: no trial completed.
    """
    from tailor.training.spaces import default_space, default_start

    metric_k(metric)
    space = space if space is not None else default_space(model)
    space.check(model)
    if starts is None:
        starts = [default_start(model, space)]
    scorer: Objective
    if objective == "validation":
        if validation is None:
            raise ConfigError("the validation objective needs validation data")
        scorer = ModelObjective(
            model, train, validation, items, metric=metric, relevant=relevant,
            seed=settings.seed, threads=threads,
        )  # fmt: skip
    elif objective == "backtest":
        from tailor.training.backtest import parse_horizon

        parse_horizon(horizon)
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            raise ConfigError(f"periods must be a positive integer, got {periods!r}")
        data = (train,) if validation is None else (train, validation)
        backtest = BacktestObjective(
            model, data, items, metric=metric, relevant=relevant, periods=periods,
            horizon=horizon, seed=settings.seed, threads=threads,
        )  # fmt: skip
        backtest.plan()  # too few data for the periods: one clear error before any trial
        scorer = backtest
        settings = replace(settings, pruner="none")  # scored per period, not per epoch
    else:
        raise ConfigError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if model not in ITERATIVE and settings.pruner != "none":
        settings = replace(settings, pruner="none")  # nothing is reported per epoch
    if space.is_empty:
        settings = replace(settings, trials=1, sampler="random")
    return optimize(space, scorer, settings, starts=starts, name=model, on_trial=on_trial)


# ---- helpers -----------------------------------------------------------------------------------


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _safe_url(url: str | None) -> str | None:
    """A storage URL without its password."""
    if url is None or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
