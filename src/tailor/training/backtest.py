"""Backtests: does a setting's gain hold across time?

A setting tuned on one validation month can lose on the next. A backtest fits the model at
several rolling cut dates (*origins*) and scores each on the period that follows:

    for each origin o:  train = every interaction before o (or the last ``window`` before o)
                        test  = the interactions in [o, o + horizon)
                        truth = the test rows (novel purchases: pairs the user did not have in
                                train, :func:`tailor.evaluation.truth.unseen_only`)

and reports each period's metrics and their mean over periods with a confidence interval (t over
periods by default, or a percentile bootstrap of the periods). The same periods serve every model
and every trial (:class:`BacktestPlan`), so tuning can optimise the mean over periods
(:func:`backtest_objective`) and two models compare period by period (:func:`compare_backtests`).

Lists come from :class:`tailor.pipeline.Pipeline` (through
:func:`tailor.evaluation.evaluate_model`), with a Popularity model fitted on the same training
rows as the fallback: what ``tailor recommend`` and the server would have given on that day.

Stability: experimental.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.split import Split, temporal_split
from tailor.errors import ConfigError, DataError
from tailor.units import SECONDS_PER_DAY

CiMethod = Literal["t", "bootstrap"]
ColdUsers = Literal["exclude", "fallback"]
Aggregate = Literal["mean", "lower", "min"]
ListMaker = Callable[["Period", np.ndarray, int], pd.DataFrame]
"""(period, user ids, n) -> lists (user_id, item_id, rank or score) of a model fitted on
``period.train``: how a model outside tailor (a peer library) enters a backtest."""

DEFAULT_K = (10, 20)
DEFAULT_METRIC = "ndcg@10"
_HORIZON = re.compile(r"^\s*(\d+)\s*(d|day|days|w|week|weeks|m|month|months)\s*$", re.IGNORECASE)


# ---- periods --------------------------------------------------------------------------------
def parse_horizon(text: str | pd.DateOffset | pd.Timedelta) -> pd.DateOffset:
    """``"1m"``/``"1month"`` (calendar months), ``"30d"``, ``"2w"`` as a date offset.

    Raises:
        ConfigError: anything else.
    """
    if isinstance(text, pd.DateOffset):
        return text
    if isinstance(text, pd.Timedelta):
        return pd.DateOffset(days=text.total_seconds() / SECONDS_PER_DAY)
    found = _HORIZON.match(str(text))
    if not found or int(found.group(1)) < 1:
        raise ConfigError(
            f"horizon {text!r}: give a positive number of days, weeks or months, e.g. 30d, 2w, 1m"
        )
    n, unit = int(found.group(1)), found.group(2).lower()[0]
    if unit == "m":
        return pd.DateOffset(months=n)
    return pd.DateOffset(days=n * (7 if unit == "w" else 1))


def _is_months(offset: pd.DateOffset) -> bool:
    kwds = getattr(offset, "kwds", {})
    return set(kwds) == {"months"}


def default_origins(
    timestamps: pd.Series | np.ndarray, n: int, horizon: str | pd.DateOffset = "1m"
) -> list[pd.Timestamp]:
    """The last ``n`` origins whose whole period lies in the data, one horizon apart.

    Calendar months (``horizon="1m"``): month starts ``o`` with ``o + horizon`` no later than
    the day after the last timestamp (Online Retail, which ends on 2011-12-09: August,
    September, October and November 2011 for ``n=4``). Days or weeks: counted back from the day
    after the last timestamp.

    Raises:
        ConfigError: ``n`` < 1.
        DataError: no timestamps, or the data are too short for ``n`` periods.
    """
    if n < 1:
        raise ConfigError(f"the number of periods must be at least 1, got {n}")
    offset = parse_horizon(horizon)
    times = pd.to_datetime(pd.Series(np.asarray(timestamps))).dropna()
    if times.empty:
        raise DataError("a backtest needs timestamps; the data have none")
    first, last = times.min(), times.max()
    end = last.normalize() + pd.Timedelta(days=1)
    origins: list[pd.Timestamp] = []
    if _is_months(offset):
        origin = end.to_period("M").to_timestamp()
        while origin + offset > end:
            origin -= pd.DateOffset(months=1)
        step: pd.DateOffset = offset
    else:
        origin = end - offset
        step = offset
    for _ in range(n):
        origins.append(pd.Timestamp(origin))
        origin = origin - step
    origins.reverse()
    if origins[0] <= first:
        raise DataError(
            f"the data ({first} to {last}) are too short for {n} periods of {horizon}: the "
            f"first origin {origins[0]} leaves no training data; use fewer periods"
        )
    return origins


@dataclass(frozen=True, eq=False)
class Period:
    """One backtest period.

    Attributes:
        origin: the cut: the model is fitted on interactions before it.
        end: the end of the test period (exclusive).
        split: ``train`` (before ``origin``) and ``test`` (``[origin, end)``, tagged warm/cold).
        truth: the relevant test rows the period is scored on.
    """

    origin: pd.Timestamp
    end: pd.Timestamp
    split: Split
    truth: pd.DataFrame

    @property
    def train(self) -> pd.DataFrame:
        """The training rows of this period."""
        return self.split.train

    @property
    def users(self) -> np.ndarray:
        """The users scored in this period (those with truth rows), in truth order."""
        return np.asarray(pd.unique(self.truth[Columns.USER_ID].astype(str)), dtype=object)


@dataclass(frozen=True)
class PeriodResult:
    """One period's scores for one model.

    Attributes:
        origin, end: the period.
        train_rows, train_users, train_items: the training data at the origin.
        users: users scored (with at least one relevant test row).
        truth_rows: relevant (user, item) rows.
        metrics: the means over users (``ndcg@10``, ``recall@20``...).
        fit_seconds: the fit's wall-clock time.
        per_user: the per-user table (``EvaluationResult.per_user``), for paired tests.
    """

    origin: pd.Timestamp
    end: pd.Timestamp
    train_rows: int
    train_users: int
    train_items: int
    users: int
    truth_rows: int
    metrics: dict[str, float]
    fit_seconds: float
    per_user: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the per-user table left out)."""
        return {
            "origin": self.origin.isoformat(),
            "end": self.end.isoformat(),
            "train_rows": self.train_rows,
            "train_users": self.train_users,
            "train_items": self.train_items,
            "users": self.users,
            "truth_rows": self.truth_rows,
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "fit_seconds": round(self.fit_seconds, 4),
        }


def interval_over_periods(
    values: Sequence[float] | np.ndarray,
    level: float = 0.95,
    method: CiMethod = "t",
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """A ``level`` confidence interval of the mean of per-period values.

    ``t``: mean ± t_{n-1} s / sqrt(n) (periods as independent draws; few periods give a wide
    interval, as they should). ``bootstrap``: percentiles of the means of ``resamples``
    resamples of the periods (with few periods it is too narrow: it cannot see beyond the values
    it has). NaN, NaN with fewer than two periods.
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if len(arr) < 2:
        return float("nan"), float("nan")
    if method == "t":
        from scipy import stats

        half = float(stats.t.ppf((1 + level) / 2, len(arr) - 1)) * arr.std(ddof=1)
        half /= math.sqrt(len(arr))
        return float(arr.mean() - half), float(arr.mean() + half)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = arr[rng.integers(0, len(arr), size=(resamples, len(arr)))].mean(axis=1)
        alpha = (1 - level) / 2
        low, high = np.quantile(means, [alpha, 1 - alpha])
        return float(low), float(high)
    raise ConfigError(f"unknown interval method {method!r}; use 't' or 'bootstrap'")


@dataclass(frozen=True)
class BacktestResult:
    """A model's scores over the periods of a backtest.

    Attributes:
        model: the label (registry name, or a peer's name).
        params: the hyperparameters.
        metric: the headline metric (``mean``, ``ci_low``, ``ci_high``, ``std`` are of it).
        periods: one result per period, in time order.
        mean, std: over periods (std with ddof 1; NaN for one period).
        ci_low, ci_high: the ``level`` interval of the mean over periods (``ci_method``).
    """

    model: str
    params: dict[str, Any]
    metric: str
    periods: tuple[PeriodResult, ...]
    mean: float
    std: float
    ci_low: float
    ci_high: float
    level: float = 0.95
    ci_method: CiMethod = "t"

    @classmethod
    def of(
        cls,
        model: str,
        params: Mapping[str, Any],
        metric: str,
        periods: Sequence[PeriodResult],
        *,
        level: float = 0.95,
        ci_method: CiMethod = "t",
    ) -> BacktestResult:
        """Summarise ``periods`` on ``metric``."""
        values = np.array([p.metrics.get(metric, np.nan) for p in periods], dtype=np.float64)
        if len(values) and np.isnan(values).all():
            known = sorted(periods[0].metrics)
            raise ConfigError(f"unknown metric {metric!r}; the backtest has {', '.join(known)}")
        low, high = interval_over_periods(values, level, ci_method)
        return cls(
            model=model,
            params=dict(params),
            metric=metric,
            periods=tuple(periods),
            mean=float(np.nanmean(values)) if len(values) else float("nan"),
            std=float(np.nanstd(values, ddof=1)) if len(values) > 1 else float("nan"),
            ci_low=low,
            ci_high=high,
            level=level,
            ci_method=ci_method,
        )

    def values(self, metric: str | None = None) -> np.ndarray:
        """The per-period values of ``metric`` (default: the headline metric)."""
        key = metric or self.metric
        return np.array([p.metrics.get(key, np.nan) for p in self.periods], dtype=np.float64)

    def objective(self, aggregate: Aggregate = "mean") -> float:
        """One number to maximise: the ``mean`` over periods, the interval's ``lower`` end
        (rewards settings that hold steadily), or the worst period (``min``)."""
        if aggregate == "mean":
            return self.mean
        if aggregate == "lower":
            return self.ci_low if not math.isnan(self.ci_low) else self.mean
        if aggregate == "min":
            return float(np.nanmin(self.values()))
        raise ConfigError(f"unknown aggregate {aggregate!r}; use mean, lower or min")

    def table(self) -> pd.DataFrame:
        """One row per period: origin, end, training size, users, and every metric."""
        rows = []
        for p in self.periods:
            rows.append(
                {
                    "origin": p.origin,
                    "end": p.end,
                    "train_rows": p.train_rows,
                    "users": p.users,
                    "truth_rows": p.truth_rows,
                    **p.metrics,
                    "fit_seconds": p.fit_seconds,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary and periods."""
        return {
            "model": self.model,
            "params": self.params,
            "metric": self.metric,
            "mean": _num(self.mean),
            "std": _num(self.std),
            "ci": {"level": self.level, "method": self.ci_method},
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "means": {k: _num(v) for k, v in self.means().items()},
            "periods": [p.to_dict() for p in self.periods],
        }

    def means(self) -> dict[str, float]:
        """The mean over periods of every metric."""
        keys = list(self.periods[0].metrics) if self.periods else []
        return {k: float(np.nanmean(self.values(k))) for k in keys}


@dataclass(frozen=True, eq=False)
class BacktestPlan:
    """The periods of a backtest, built once and shared by every model and trial.

    Build with :meth:`build`; run a tailor model with :meth:`run`, any other with
    :meth:`run_lists`.
    """

    periods: tuple[Period, ...]
    k: tuple[int, ...] = DEFAULT_K
    items: pd.DataFrame | None = None
    novel_only: bool = True
    cold_users: ColdUsers = "exclude"
    horizon: str = "1m"
    window: str | None = None

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        origins: Sequence[Any] | None = None,
        *,
        n_periods: int = 4,
        horizon: str | pd.DateOffset = "1m",
        window: str | pd.DateOffset | None = None,
        k: Sequence[int] = DEFAULT_K,
        items: pd.DataFrame | None = None,
        novel_only: bool = True,
        relevant_events: Sequence[str] | None = None,
        cold_users: ColdUsers = "exclude",
    ) -> BacktestPlan:
        """Cut ``frame`` at each origin.

        Args:
            frame: interactions (``user_id``, ``item_id``, ``timestamp``...), e.g. a prepared
                folder's ``interactions.parquet``.
            origins: the cut dates (dates, ISO strings or Timestamps), in any order; default
                the last ``n_periods`` complete periods (:func:`default_origins`).
            n_periods: the number of periods when ``origins`` is not given.
            horizon: the test period after each origin: ``1m`` (a calendar month), ``30d``...
            window: train on the last ``window`` before each origin only (default: everything
                before it).
            k: list lengths scored.
            items: the catalogue (categories, availability) for fitting and coverage.
            novel_only: relevant = test pairs the user did not have in the period's training
                rows (``unseen_only``); False: every test row.
            relevant_events: only these event types are relevant (e.g. ``purchase`` in a
                clickstream); training uses every event.
            cold_users: ``exclude`` scores only users with training history at the origin (a
                cold user gets the same popular list from every model); ``fallback`` scores them
                too, with the popular list.

        Raises:
            ConfigError: bad options (no origin, an unknown ``cold_users``).
            DataError: a period without training or test rows, or with no relevant row.
        """
        if cold_users not in ("exclude", "fallback"):
            raise ConfigError(f"cold_users must be 'exclude' or 'fallback', got {cold_users!r}")
        ks = tuple(sorted({int(x) for x in k}))
        if not ks or ks[0] < 1:
            raise ConfigError(f"k must be positive integers, got {list(k)}")
        if Columns.TIMESTAMP not in frame.columns:
            raise DataError("a backtest needs a timestamp column", column=Columns.TIMESTAMP)
        offset = parse_horizon(horizon)
        times = pd.to_datetime(frame[Columns.TIMESTAMP])
        cuts = (
            default_origins(times, n_periods, offset)
            if origins is None
            else sorted({_timestamp(o) for o in origins})
        )
        if not cuts:
            raise ConfigError("a backtest needs at least one origin")
        back = parse_horizon(window) if window is not None else None
        periods = []
        for origin in cuts:
            end = origin + offset
            keep = (times < end).to_numpy()
            if back is not None:
                keep = keep & (times >= origin - back).to_numpy()
            try:
                split = temporal_split(frame.loc[keep], cut=origin)
            except DataError as exc:
                raise DataError(
                    f"backtest period {origin:%Y-%m-%d} to {end:%Y-%m-%d}: {exc}"
                ) from None
            truth = _truth(split, novel_only, relevant_events, cold_users)
            if truth.empty:
                raise DataError(
                    f"backtest period {origin:%Y-%m-%d} to {end:%Y-%m-%d} has no relevant test "
                    "row for a known user; choose other origins or a longer horizon"
                )
            periods.append(Period(origin, end, split, truth))
        return cls(
            periods=tuple(periods),
            k=ks,
            items=items,
            novel_only=novel_only,
            cold_users=cold_users,
            horizon=str(horizon) if not isinstance(horizon, pd.DateOffset) else repr(horizon),
            window=None if window is None else str(window),
        )

    @property
    def origins(self) -> list[pd.Timestamp]:
        """The cut dates, in time order."""
        return [p.origin for p in self.periods]

    def run(
        self,
        model: str,
        params: Mapping[str, Any] | None = None,
        *,
        metric: str = DEFAULT_METRIC,
        seed: int = 0,
        threads: int = 0,
        level: float = 0.95,
        ci: CiMethod = "t",
        keep_per_user: bool = True,
        label: str | None = None,
    ) -> BacktestResult:
        """Fit tailor model ``model`` with ``params`` at each origin and score its period.

        ``seed`` is given to the model unless ``params`` sets one, so a backtest repeats.

        Raises:
            ConfigError: an unknown model, invalid hyperparameters (before any fit) or metric.
        """
        from tailor.data.dataset import Dataset
        from tailor.evaluation.fitted import evaluate_model
        from tailor.models.base import FitOptions
        from tailor.models.popular import Popularity
        from tailor.models.registry import create_model

        settings = dict(params or {})
        full = {"seed": seed, **settings} if _has_seed(model) else settings
        create_model(model, dict(full))  # invalid settings fail before any fit
        results = []
        for period in self.periods:
            started = time.perf_counter()
            data = Dataset.from_frame(period.train, item_features=self.items)
            fitted = create_model(model, dict(full))
            fitted.fit(data, FitOptions(threads=threads))
            seconds = time.perf_counter() - started
            evaluated = evaluate_model(
                fitted,
                period.split,
                self.k,
                n=max(self.k),
                truth_filter=_fixed(period.truth),
                fallback=Popularity().fit(data),
                train=period.train,
                items=self.items,
                segments=False,
                ci=False,
                curve_k=0,
            )
            results.append(self._result(period, evaluated, seconds, data, keep_per_user))
        return BacktestResult.of(
            label or model, settings, metric, results, level=level, ci_method=ci
        )

    def run_lists(
        self,
        label: str,
        lists: ListMaker,
        params: Mapping[str, Any] | None = None,
        *,
        metric: str = DEFAULT_METRIC,
        level: float = 0.95,
        ci: CiMethod = "t",
        keep_per_user: bool = True,
    ) -> BacktestResult:
        """Score lists made outside tailor: ``lists(period, users, n)`` fits its model on
        ``period.train`` and returns lists for ``users`` (a peer library in a benchmark); the
        same truth, users and metric code as :meth:`run`."""
        from tailor.evaluation.runner import evaluate

        results = []
        for period in self.periods:
            started = time.perf_counter()
            recs = lists(period, period.users, max(self.k))
            seconds = time.perf_counter() - started
            evaluated = evaluate(
                recs,
                period.truth,
                self.k,
                train=period.train,
                items=self.items,
                segments=False,
                ci=False,
                curve_k=0,
            )
            results.append(self._result(period, evaluated, seconds, None, keep_per_user))
        return BacktestResult.of(
            label, dict(params or {}), metric, results, level=level, ci_method=ci
        )

    def objective(
        self,
        model: str,
        *,
        metric: str = DEFAULT_METRIC,
        aggregate: Aggregate = "mean",
        seed: int = 0,
        threads: int = 0,
        fixed: Mapping[str, Any] | None = None,
    ) -> Callable[[Mapping[str, Any]], float]:
        """``params -> the mean (or lower bound, or worst period) of metric over the periods``
        for a tuner to maximise; ``fixed`` parameters are added to every call."""

        def score(params: Mapping[str, Any]) -> float:
            merged = {**(fixed or {}), **params}
            result = self.run(
                model, merged, metric=metric, seed=seed, threads=threads, keep_per_user=False
            )
            return result.objective(aggregate)

        return score

    def _result(
        self, period: Period, evaluated: Any, seconds: float, data: Any, keep: bool
    ) -> PeriodResult:
        train = period.train
        metrics = {
            key: float(value)
            for key, value in evaluated.metrics.items()
            if "@" in key and isinstance(value, int | float)
        }
        return PeriodResult(
            origin=period.origin,
            end=period.end,
            train_rows=len(train),
            train_users=int(train[Columns.USER_ID].nunique()) if data is None else data.n_users,
            train_items=int(train[Columns.ITEM_ID].nunique()) if data is None else data.n_items,
            users=int(evaluated.metrics.get("n_users", len(period.users))),
            truth_rows=len(period.truth),
            metrics=metrics,
            fit_seconds=seconds,
            per_user=evaluated.per_user if keep else None,
        )


def backtest(
    frame: pd.DataFrame,
    model_name: str,
    params: Mapping[str, Any] | None = None,
    origins: Sequence[Any] | None = None,
    *,
    n_periods: int = 4,
    horizon: str | pd.DateOffset = "1m",
    window: str | pd.DateOffset | None = None,
    k: Sequence[int] = DEFAULT_K,
    metric: str = DEFAULT_METRIC,
    items: pd.DataFrame | None = None,
    novel_only: bool = True,
    relevant_events: Sequence[str] | None = None,
    cold_users: ColdUsers = "exclude",
    seed: int = 0,
    threads: int = 0,
    level: float = 0.95,
    ci: CiMethod = "t",
) -> BacktestResult:
    """Backtest tailor model ``model_name`` with ``params`` over rolling origins.

    ``BacktestPlan.build(frame, origins, ...)`` then ``.run(model_name, params, ...)``; see
    those for the options. With neither ``origins`` nor ``n_periods``, the last four complete
    calendar months are the periods.

    Example::

        prepared, _ = prepare("online-retail")
        result = backtest(prepared.interactions, "recency-ease", {"regularization": 400.0})
        result.table(); result.mean, (result.ci_low, result.ci_high)
    """
    plan = BacktestPlan.build(
        frame,
        origins,
        n_periods=n_periods,
        horizon=horizon,
        window=window,
        k=k,
        items=items,
        novel_only=novel_only,
        relevant_events=relevant_events,
        cold_users=cold_users,
    )
    return plan.run(
        model_name, params, metric=metric, seed=seed, threads=threads, level=level, ci=ci
    )


def backtest_objective(
    frame: pd.DataFrame | BacktestPlan,
    model_name: str,
    origins: Sequence[Any] | None = None,
    *,
    metric: str = DEFAULT_METRIC,
    aggregate: Aggregate = "mean",
    seed: int = 0,
    threads: int = 0,
    fixed: Mapping[str, Any] | None = None,
    **plan_options: Any,
) -> Callable[[Mapping[str, Any]], float]:
    """An objective for tuning over periods: ``params -> mean of metric over the periods``
    (or the interval's lower end, or the worst period: ``aggregate``).

    The periods are cut once (``frame`` may be a built :class:`BacktestPlan`); each call fits
    the model at every origin. Example with Optuna::

        score = backtest_objective(frame, "ease", n_periods=4)
        study.optimize(lambda t: score({"regularization": t.suggest_float("r", 10, 5000)}), 20)
    """
    plan = (
        frame
        if isinstance(frame, BacktestPlan)
        else BacktestPlan.build(frame, origins, **plan_options)
    )
    return plan.objective(
        model_name, metric=metric, aggregate=aggregate, seed=seed, threads=threads, fixed=fixed
    )


# ---- comparing two models over the same periods ---------------------------------------------
@dataclass(frozen=True)
class BacktestComparison:
    """B against A, period by period, on one metric.

    Attributes:
        a, b: the labels.
        metric: the metric compared.
        periods: one row per period: origin, a, b, difference (b - a), relative (b / a - 1),
            and, when both kept per-user tables, the paired tests over that period's users
            (``ci_low``, ``ci_high`` of the difference, ``t_pvalue``, ``wilcoxon_pvalue``).
        mean_difference: mean over periods of (b - a); ``ci_low``/``ci_high`` its interval over
            periods.
        relative: mean over periods of the relative gain; ``relative_min``/``relative_max`` the
            range, ``relative_std`` its spread.
        b_wins: the number of periods where b scored higher.
    """

    a: str
    b: str
    metric: str
    periods: pd.DataFrame
    mean_difference: float
    ci_low: float
    ci_high: float
    relative: float
    relative_min: float
    relative_max: float
    relative_std: float
    b_wins: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        rows = []
        for row in self.periods.to_dict("records"):
            rows.append(
                {
                    k: (v.isoformat() if isinstance(v, pd.Timestamp) else _num(v))
                    for k, v in row.items()
                }
            )
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "mean_difference": _num(self.mean_difference),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "relative": _num(self.relative),
            "relative_min": _num(self.relative_min),
            "relative_max": _num(self.relative_max),
            "relative_std": _num(self.relative_std),
            "b_wins": self.b_wins,
            "periods": rows,
        }


def compare_backtests(
    a: BacktestResult,
    b: BacktestResult,
    metric: str | None = None,
    *,
    level: float = 0.95,
    ci: CiMethod = "t",
) -> BacktestComparison:
    """How B's advantage over A varies across the periods both were backtested on.

    Raises:
        ConfigError: the two results have different periods.
    """
    from tailor.evaluation.significance import compare

    key = metric or a.metric
    if [p.origin for p in a.periods] != [p.origin for p in b.periods]:
        raise ConfigError("the two backtests have different origins; run them on one plan")
    rows = []
    for pa, pb in zip(a.periods, b.periods, strict=True):
        va, vb = pa.metrics.get(key, np.nan), pb.metrics.get(key, np.nan)
        row: dict[str, Any] = {
            "origin": pa.origin,
            "end": pa.end,
            "users": pa.users,
            "a": va,
            "b": vb,
            "difference": vb - va,
            "relative": vb / va - 1.0 if va else np.nan,
        }
        if pa.per_user is not None and pb.per_user is not None:
            try:
                test = compare(pa.per_user, pb.per_user, key)
            except ValueError:  # fewer than two paired users
                pass
            else:
                row.update(
                    ci_low=test.ci_low,
                    ci_high=test.ci_high,
                    t_pvalue=test.t_pvalue,
                    wilcoxon_pvalue=test.wilcoxon_pvalue,
                )
        rows.append(row)
    table = pd.DataFrame(rows)
    diff = table["difference"].to_numpy(float)
    rel = table["relative"].to_numpy(float)
    low, high = interval_over_periods(diff, level, ci)
    return BacktestComparison(
        a=a.model,
        b=b.model,
        metric=key,
        periods=table,
        mean_difference=float(np.nanmean(diff)),
        ci_low=low,
        ci_high=high,
        relative=float(np.nanmean(rel)),
        relative_min=float(np.nanmin(rel)),
        relative_max=float(np.nanmax(rel)),
        relative_std=float(np.nanstd(rel, ddof=1)) if len(rel) > 1 else float("nan"),
        b_wins=int((diff > 0).sum()),
    )


# ---- helpers --------------------------------------------------------------------------------
def _truth(
    split: Split,
    novel_only: bool,
    relevant_events: Sequence[str] | None,
    cold_users: ColdUsers,
) -> pd.DataFrame:
    from tailor.evaluation.truth import unseen_only

    test = split.test
    if relevant_events:
        if Columns.EVENT_TYPE not in test.columns:
            raise DataError("relevant events need an event_type column", column=Columns.EVENT_TYPE)
        test = test.loc[test[Columns.EVENT_TYPE].astype(str).isin(list(relevant_events))]
    if novel_only:
        truth = unseen_only(test, split.train)
    else:
        truth = test.assign(
            **{c: test[c].astype(str) for c in (Columns.USER_ID, Columns.ITEM_ID)}
        ).drop_duplicates([Columns.USER_ID, Columns.ITEM_ID])
    if cold_users == "exclude":
        known = set(split.train[Columns.USER_ID].astype(str))
        truth = truth.loc[truth[Columns.USER_ID].astype(str).isin(known)]
    return truth.reset_index(drop=True)


def _fixed(truth: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A truth filter that returns the period's truth whatever the test rows."""

    def truth_of(_test: pd.DataFrame) -> pd.DataFrame:
        return truth

    return truth_of


def _timestamp(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"origin {value!r} is not a date (e.g. 2011-09-01)") from None
    if stamp is pd.NaT:
        raise ConfigError(f"origin {value!r} is not a date (e.g. 2011-09-01)")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _has_seed(model: str) -> bool:
    from tailor.models.registry import model_class

    return "seed" in model_class(model).config_class.model_fields


def _num(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
