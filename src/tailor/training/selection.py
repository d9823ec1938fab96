"""Model selection: tune each candidate on validation, choose the best, refit it on train +
validation, evaluate it on test against baselines with paired tests.

What ``tailor demo`` and ``tailor train`` run (and what the accuracy benchmark does by hand):
choosing is done on the validation part only; the test period is looked at once, for the chosen
model and the systems it is compared with.

Stability: experimental.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tailor.data.split import Split
from tailor.evaluation import Comparison, EvaluationResult, compare, evaluate_model
from tailor.models.artifacts import record_metrics
from tailor.models.model_dir import FitSummary, fit_model_dir
from tailor.training.spaces import SearchSpace, default_space
from tailor.training.tuning import (
    PERIODS_ATTR,
    ObjectiveKind,
    TrialRecord,
    TuningResult,
    TuningSettings,
    metric_k,
    novel_filter,
    tune_model,
)

Relevant = Literal["all", "novel"]


@dataclass(frozen=True)
class Candidate:
    """A model to try.

    Attributes:
        model: registry name.
        name: how results call it (default: the model name).
        space: what to search (default: the model's default space); an empty space: one trial
            with the fixed parameters.
        trials: the budget (default: the settings').
        starts: first trials (default: the model's defaults).
    """

    model: str
    name: str | None = None
    space: SearchSpace | None = None
    trials: int | None = None
    starts: Sequence[Mapping[str, Any]] | None = None

    @property
    def key(self) -> str:
        """The candidate's name in results."""
        return self.name or self.model

    @classmethod
    def fixed(cls, model: str, params: Mapping[str, Any] | None = None) -> Candidate:
        """A candidate with fixed parameters (no search)."""
        return cls(model, space=SearchSpace((), dict(params or {})), trials=1, starts=[])


@dataclass(frozen=True)
class CandidateResult:
    """How one candidate did on validation.

    Attributes:
        model: registry name.
        params: the chosen parameters.
        validation: the objective's value of those parameters: the validation metric, or its
            mean over the backtest periods.
        tuning: the search.
    """

    model: str
    params: dict[str, Any]
    validation: float
    tuning: TuningResult

    @property
    def periods(self) -> dict[str, float | None]:
        """The chosen parameters' value in each backtest period (origin -> value; empty for
        the validation objective)."""
        found = self.tuning.best_attrs.get(PERIODS_ATTR) or {}
        return dict(found)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = {
            "model": self.model,
            "params": self.params,
            "validation": self.validation,
            "tuning": self.tuning.to_dict(),
        }
        if self.periods:
            out["periods"] = self.periods
        return out


@dataclass(frozen=True)
class Selection:
    """The candidates' validation results and the chosen one.

    Attributes:
        metric: the validation metric.
        results: candidate name -> result, in the order tried.
        best: the chosen candidate's name (highest validation metric; ties: the earlier).
    """

    metric: str
    results: dict[str, CandidateResult]
    best: str
    seconds: float = 0.0
    objective: dict[str, Any] = field(default_factory=lambda: {"name": "validation"})
    """How trials were scored: ``{"name": "validation"}`` or ``{"name": "backtest",
    "periods": N, "horizon": "1m"}``."""

    @property
    def chosen(self) -> CandidateResult:
        """The best candidate's result."""
        return self.results[self.best]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``tuning/selection.json``)."""
        return {
            "metric": self.metric,
            "best": self.best,
            "model": self.chosen.model,
            "params": self.chosen.params,
            "validation": {k: r.validation for k, r in self.results.items()},
            "objective": self.objective,
            "periods": self.chosen.periods,
            "seconds": round(self.seconds, 3),
            "candidates": {k: r.to_dict() for k, r in self.results.items()},
        }


def validation_split(split: Split) -> Split:
    """Train vs validation, shaped as a split so the same evaluation code scores it.

    Raises:
        ValueError: the split has no validation part.
    """
    if split.validation is None:
        raise ValueError("the split has no validation part; choosing a model needs one")
    return Split(train=split.train, validation=None, test=split.validation, info=split.info)


def truth_filter(
    relevant: Relevant, history: pd.DataFrame
) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
    """The truth of an evaluation: every held-out row, or only items new to each user."""
    return novel_filter(history) if relevant == "novel" else None


def choose(
    split: Split,
    candidates: Sequence[Candidate],
    settings: TuningSettings | None = None,
    *,
    items: pd.DataFrame | Path | None = None,
    metric: str = "ndcg@10",
    relevant: Relevant = "all",
    threads: int = 0,
    files: tuple[Path, Path] | None = None,
    on_trial: Callable[[str, TrialRecord], None] | None = None,
    on_candidate: Callable[[str, CandidateResult], None] | None = None,
    objective: ObjectiveKind = "validation",
    periods: int = 4,
    horizon: str = "1m",
) -> Selection:
    """Tune every candidate on the validation part of ``split`` (or over backtest periods of
    its train + validation parts) and choose the best.

    Args:
        split: with a validation part.
        candidates: models to try (in order; ties go to the earlier).
        settings: sampler, budget, pruner, storage (each candidate gets its own study,
            ``<study>-<candidate>``), workers.
        items: the catalogue.
        metric: the validation metric (``ndcg@10``...).
        relevant: ``all`` validation rows or only ``novel`` items.
        threads: fit threads per trial.
        files: (train, validation) files of ``split``: worker processes read these instead of
            receiving the frames.
        on_trial: progress, after each trial: (candidate, record).
        on_candidate: progress, after each candidate.
        objective: ``validation`` or ``backtest`` (:func:`tailor.training.tuning.tune_model`):
            the candidate with the highest mean over the periods is chosen.
        periods, horizon: the backtest periods.
    """
    settings = settings or TuningSettings()
    metric_k(metric)
    if not candidates:
        raise ValueError("no candidates to choose from")
    validation_split(split)  # a clear error when there is none
    started = time.perf_counter()
    results: dict[str, CandidateResult] = {}
    assert split.validation is not None
    train: pd.DataFrame | Path = files[0] if files is not None else split.train
    val: pd.DataFrame | Path = files[1] if files is not None else split.validation
    for cand in candidates:
        space = cand.space if cand.space is not None else default_space(cand.model)
        starts = cand.starts
        study = f"{settings.study}-{cand.key}" if settings.study else cand.key
        mine = replace(settings, trials=cand.trials or settings.trials, study=study)

        def progress(record: TrialRecord, key: str = cand.key) -> None:
            if on_trial is not None:
                on_trial(key, record)

        tuned = tune_model(
            cand.model,
            train,
            val,
            space=space,
            settings=mine,
            items=items,
            metric=metric,
            relevant=relevant,
            starts=starts,
            threads=threads,
            on_trial=progress,
            objective=objective,
            periods=periods,
            horizon=horizon,
        )
        result = CandidateResult(cand.model, tuned.best_params, tuned.best_value, tuned)
        results[cand.key] = result
        if on_candidate is not None:
            on_candidate(cand.key, result)
    best = max(results, key=lambda k: (results[k].validation, -list(results).index(k)))
    how: dict[str, Any] = {"name": objective}
    if objective == "backtest":
        how.update(periods=periods, horizon=horizon)
    return Selection(metric, results, best, time.perf_counter() - started, how)


def refit(
    split: Split,
    model: str,
    params: Mapping[str, Any],
    out: Path,
    *,
    items: pd.DataFrame | None = None,
    threads: int = 0,
    seed: int | None = None,
) -> FitSummary:
    """Fit ``model`` with ``params`` on train + validation into the model folder ``out``
    (with its popularity fallback and the catalogue), as it will be served."""
    params = dict(params)
    if seed is not None:
        params.setdefault("seed", seed)
    return fit_model_dir(split.fit_frame(), model, params, out, items=items, threads=threads)


def evaluate_systems(
    split: Split,
    systems: Mapping[str, Path | Any],
    *,
    k: Sequence[int] = (10, 20),
    relevant: Relevant = "all",
    items: pd.DataFrame | None = None,
    ci: bool = True,
) -> dict[str, EvaluationResult]:
    """Each system's lists (model folder or Pipeline) for the test users, evaluated on test.

    The truth is the test part (only items new to each user with ``relevant="novel"``, new
    relative to train + validation, what the models were refitted on).
    """
    fit_frame = split.fit_frame()
    filt = truth_filter(relevant, fit_frame)
    return {
        name: evaluate_model(system, split, tuple(k), truth_filter=filt, items=items, ci=ci)
        for name, system in systems.items()
    }


def paired(
    results: Mapping[str, EvaluationResult],
    candidate: str,
    others: Sequence[str],
    metrics: Sequence[str],
) -> list[tuple[str, Comparison]]:
    """Paired comparisons of ``candidate`` (system B) with each other system (A), per metric."""
    out = []
    for other in others:
        if other not in results or other == candidate:
            continue
        for metric in metrics:
            out.append(
                (other, compare(results[other].per_user, results[candidate].per_user, metric))
            )
    return out


def headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The top-level metric@k means: what a model folder's manifest keeps."""
    return {k: float(v) for k, v in metrics.items() if "@" in k and isinstance(v, int | float)}


def record_headline(model_dir: Path, result: EvaluationResult) -> None:
    """Store the test metrics in the model folder's manifest (serving exports them)."""
    record_metrics(model_dir, headline(result.metrics))


@dataclass
class FinalModels:
    """The refitted chosen model and its baseline.

    Attributes:
        model: the chosen model's folder.
        baseline: popularity's folder.
        fits: name -> fit summary.
    """

    model: Path
    baseline: Path
    fits: dict[str, FitSummary] = field(default_factory=dict)
