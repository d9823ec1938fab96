"""An experiment's results from its event log: attributed KPIs per variant, confidence
intervals, the always-valid sequential test, the sample-ratio check.

The join (docs/experiments.md):

* An **exposure** is one served list: the ``exposure`` events of one ``recommendation_id``
  (the server logs one per shown item, ``value`` = its 1-based rank); the experiment and the
  variant are the id's suffix ``HEX:EXPERIMENT:VARIANT``. Its time is the earliest of them.
* A ``click``, ``add_to_cart`` or ``purchase`` is **attributed** to that list when it carries
  the list's ``recommendation_id`` and happens within ``[0, window]`` seconds after it; it
  counts for the list's visitor, in the list's variant. Other events are not counted.
* A **visitor** is the list's user id, else its session id mapped to a user id by any event
  that carries both (a session that signed in is one visitor with the user). A visitor whose
  lists fall in two variants (a session that signed in across variants) is a *crossover*:
  counted in the report, left out of every metric and of the sample-ratio check.

Per variant, over visitors (the independent units): CTR = attributed clicks / lists,
conversion rate = share of visitors with an attributed purchase, AOV = attributed revenue /
attributed orders (one purchase event = one order, ``value`` = its revenue), revenue per
visitor = attributed revenue / visitors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import EXPOSURE
from tailor.errors import ConfigError, DataError
from tailor.experiments.assignment import RECOMMENDATION_ID
from tailor.experiments.config import Experiment, Metric, Variant
from tailor.experiments.stats import (
    MIN_UNITS,
    Comparison,
    Estimate,
    SampleRatio,
    compare,
    default_tau2,
    mean_estimate,
    msprt_lambda,
    ratio_estimate,
    sample_ratio,
)
from tailor.streaming.events import EVENT_FIELDS

METRICS: tuple[Metric, ...] = ("ctr", "conversion", "aov", "rpv")
METRIC_LABELS = {
    "ctr": "CTR (clicks per list)",
    "conversion": "conversion rate",
    "aov": "average order value",
    "rpv": "revenue per visitor",
}
OUTCOMES = ("click", "add_to_cart", "purchase")
COLUMNS = EVENT_FIELDS
_REC_ID = RECOMMENDATION_ID
MAX_LOOKS = 60


# ---- reading -------------------------------------------------------------------------------
def read_events(source: str | Path) -> pd.DataFrame:
    """Events from the embedded event log (``sqlite:////abs/events.db``: read from the start,
    nothing committed) or a file (``.parquet``, ``.csv``, ``.jsonl``/``.ndjson``)
    with the API's event fields, normalised by :func:`normalise_events`.

    Raises:
        DataError: an unreadable file or missing columns.
    """
    text = str(source)
    if "://" in text:
        return normalise_events(pd.DataFrame(_read_log(text)))
    path = Path(text)
    if not path.is_file():
        raise DataError(f"events file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl", ".ndjson", ".json"):
        raise DataError(f"{path}: unknown events format (use .parquet, .csv or .jsonl)")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            text_columns = {c: "string" for c in COLUMNS if c not in ("value", "timestamp")}
            frame = pd.read_csv(path, dtype=text_columns)
        else:
            frame = pd.read_json(path, lines=suffix != ".json", dtype=False)
    except (ValueError, OSError) as exc:  # pyarrow's and pandas' parse errors are ValueErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable {suffix[1:]} events file ({first})") from None
    return normalise_events(frame, where=f"{path}: ")


def _read_log(url: str) -> list[dict[str, Any]]:
    """Every event of the embedded SQLite log, read from its start under a consumer name of
    its own (nothing is committed, so the server's consumer is untouched)."""
    from tailor.streaming.log import Position, open_source
    from tailor.streaming.sqlite_log import sqlite_path

    if not url.startswith("sqlite:"):
        # a group consumer of Redis Streams or Kafka would take entries from the real
        # consumer's group: read those logs through an export instead
        raise ConfigError(
            "the report reads the embedded sqlite:/// event log; export other logs' events "
            "to a .parquet/.csv/.jsonl file and pass that"
        )
    path = sqlite_path(url)
    if not path.is_file():
        raise DataError(f"event log not found: {path}")
    source = open_source(url, consumer="tailor-abtest")
    try:
        source.seek(Position())
        rows: list[dict[str, Any]] = []
        while batch := source.poll(10_000, 0.0):
            rows.extend(r.event.model_dump() for r in batch)
        return rows
    finally:
        source.close()


def normalise_events(frame: pd.DataFrame, where: str = "") -> pd.DataFrame:
    """The event columns with their types: ids as strings (missing: NA), ``type`` lower-case,
    ``timestamp`` UTC (epoch seconds or ISO text), ``value`` float; repeats of an
    ``event_id`` dropped (the first is kept).

    Raises:
        DataError: a required column (event_id, item_id, type, timestamp, and user_id or
            session_id) is missing.
    """
    frame = frame.copy()
    missing = [c for c in ("type", "timestamp") if c not in frame.columns]
    if "user_id" not in frame.columns and "session_id" not in frame.columns:
        missing.append("user_id or session_id")
    if missing and len(frame):
        raise DataError(f"{where}events lack the column(s): {', '.join(missing)}")
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    for column in COLUMNS:
        if column not in ("timestamp", "value"):
            frame[column] = frame[column].astype("string")
    frame["type"] = frame["type"].str.strip().str.lower()
    stamps = frame["timestamp"]
    try:
        if pd.api.types.is_numeric_dtype(stamps):
            frame["timestamp"] = pd.to_datetime(stamps, unit="s", utc=True)
        else:
            frame["timestamp"] = pd.to_datetime(stamps, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(
            f"{where}timestamp: give ISO 8601 times or epoch seconds ({first})"
        ) from None
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    if frame["event_id"].notna().any():
        repeated = frame["event_id"].notna() & frame["event_id"].duplicated()
        frame = frame[~repeated]
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)


# ---- the join --------------------------------------------------------------------------------
def visitor_map(events: pd.DataFrame) -> dict[str, str]:
    """session id -> user id, from events that carry both (the latest such event wins)."""
    both = events[events["user_id"].notna() & events["session_id"].notna()]
    both = both.sort_values("timestamp", kind="stable")
    return dict(zip(both["session_id"].tolist(), both["user_id"].tolist(), strict=True))


def exposures_of(events: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """One row per list served in ``experiment``: recommendation_id (index), variant, visitor,
    time (the earliest exposure event of the list), items (exposure events)."""
    shown = events[(events["type"] == EXPOSURE) & events["recommendation_id"].notna()]
    parts = shown["recommendation_id"].str.extract(_REC_ID)
    shown = shown[parts["experiment"] == experiment].assign(variant=parts["variant"])
    sessions = visitor_map(events)
    # the id the list was served to (the server logs the requested id as user_id, which may
    # be a session id); a session that signed in is its user
    key = shown["user_id"].fillna(shown["session_id"])
    visitor = key.map(sessions).astype("string").fillna(key) if sessions else key
    shown = shown.assign(visitor=visitor)
    lists = shown.groupby("recommendation_id", sort=True).agg(
        variant=("variant", "first"),
        visitor=("visitor", "first"),
        time=("timestamp", "min"),
        items=("item_id", "size"),
    )
    return lists


def attributed(events: pd.DataFrame, lists: pd.DataFrame, window_s: float) -> pd.DataFrame:
    """Outcome events (click, add_to_cart, purchase) attributed to ``lists``: carrying one of
    their ``recommendation_id`` and within ``[0, window_s]`` seconds after it; with the list's
    variant and visitor."""
    outcomes = events[events["type"].isin(OUTCOMES) & events["recommendation_id"].notna()]
    joined = outcomes.join(lists, on="recommendation_id", how="inner")
    lag = (joined["timestamp"] - joined["time"]).dt.total_seconds()
    return joined[(lag >= 0) & (lag <= window_s)]


def visitor_table(
    events: pd.DataFrame, experiment: str, window_s: float, until: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, int]:
    """Per visitor of ``experiment`` (with the events up to ``until``): variant, lists,
    clicks, add_to_carts, orders, revenue; and the number of crossovers left out."""
    if until is not None:
        events = events[events["timestamp"] <= until]
    lists = exposures_of(events, experiment)
    return tabulate(lists, attributed(events, lists, window_s))


def tabulate(lists: pd.DataFrame, outcomes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The per-visitor table of :func:`visitor_table` from its lists and attributed
    outcomes."""
    numeric = ["lists", "clicks", "add_to_carts", "orders", "revenue"]
    if lists.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in numeric})
        empty.insert(0, "variant", pd.Series(dtype="string"))
        empty.index.name = "visitor"
        return empty, 0
    variants = lists.groupby("visitor")["variant"].agg(["nunique", "first"])
    crossed = variants.index[variants["nunique"] > 1]
    table = pd.DataFrame({"variant": variants["first"], "lists": lists.groupby("visitor").size()})
    by_type = outcomes.groupby(["visitor", "type"]).size().unstack(fill_value=0)
    revenue = outcomes[outcomes["type"] == "purchase"].groupby("visitor")["value"].sum()
    table["clicks"] = by_type.get("click", pd.Series(dtype=float))
    table["add_to_carts"] = by_type.get("add_to_cart", pd.Series(dtype=float))
    table["orders"] = by_type.get("purchase", pd.Series(dtype=float))
    table["revenue"] = revenue
    table[numeric] = table[numeric].fillna(0).astype(float)
    table = table.drop(index=crossed)
    table.index.name = "visitor"
    return table, len(crossed)


# ---- estimates -------------------------------------------------------------------------------
def estimates(table: pd.DataFrame, level: float = 0.95) -> dict[Metric, Estimate]:
    """The four KPIs of one variant's visitors (delta method for the ratios)."""
    lists = table["lists"].to_numpy(float)
    clicks = table["clicks"].to_numpy(float)
    orders = table["orders"].to_numpy(float)
    revenue = table["revenue"].to_numpy(float)
    return {
        "ctr": ratio_estimate(clicks, lists, level),
        "conversion": mean_estimate((orders > 0).astype(float), level),
        "aov": ratio_estimate(revenue, orders, level),
        "rpv": mean_estimate(revenue, level),
    }


@dataclass(frozen=True)
class VariantResult:
    """One variant's counts and KPIs."""

    variant: Variant
    share: float
    """The configured share of enrolled visitors."""
    visitors: int
    lists: int
    clicks: int
    add_to_carts: int
    orders: int
    revenue: float
    metrics: dict[Metric, Estimate]


@dataclass(frozen=True)
class ExperimentResult:
    """Everything ``tailor abtest report`` shows."""

    experiment: Experiment
    alpha: float
    variants: list[VariantResult]
    tests: dict[tuple[str, Metric], Comparison]
    """(variant, metric) -> the variant against the control (the first variant)."""
    srm: SampleRatio
    crossovers: int
    timeline: pd.DataFrame
    """One row per (look, variant): time, visitors, the four KPIs, and per metric the
    always-valid p-value against the control (``p_<metric>``, NaN for the control)."""
    notes: list[str] = field(default_factory=list)

    @property
    def control(self) -> VariantResult:
        return self.variants[0]

    def decided_at(self, variant: str, metric: Metric) -> pd.Timestamp | None:
        """The first look at which ``variant``'s always-valid p-value on ``metric`` fell below
        alpha (the test could have stopped there), None if it never did."""
        rows = self.timeline[self.timeline["variant"] == variant]
        below = rows[rows[f"p_{metric}"] < self.alpha]
        return None if below.empty else pd.Timestamp(below["time"].iloc[0])

    def verdict(self, variant: str) -> str:
        """The primary metric's verdict for ``variant`` against the control."""
        metric = self.experiment.primary_metric
        test = self.tests.get((variant, metric))
        if self.srm.alarm:
            return "sample ratio mismatch: do not trust the comparison (check the assignment)"
        if test is None or not math.isfinite(test.delta.value):
            return "not enough data"
        if test.p_always_valid < self.alpha:
            better = "better" if test.delta.value > 0 else "worse"
            since = self.decided_at(variant, metric)
            when = f", since {since:%Y-%m-%d %H:%M} UTC" if since is not None else ""
            return (
                f"{variant} is {better} than {self.control.variant.name} on "
                f"{METRIC_LABELS[metric]} (always-valid p = {test.p_always_valid:.3g} < "
                f"{self.alpha:g}{when})"
            )
        return (
            f"no significant difference on {METRIC_LABELS[metric]} yet (always-valid p = "
            f"{test.p_always_valid:.3g}); keep it running or stop it at the planned sample"
        )


def look_times(events: pd.DataFrame, lists: pd.DataFrame, looks: int | None) -> list[pd.Timestamp]:
    """When the analysis looks: the end of each day from the first list to the last event
    (at most :data:`MAX_LOOKS`, else evenly spaced), or ``looks`` evenly spaced times."""
    first = lists["time"].min()
    last = events["timestamp"].max()
    if looks is None:
        days = pd.date_range(first.normalize() + pd.Timedelta(days=1), last, freq="D")
        cuts = [*days, last] if len(days) <= MAX_LOOKS - 1 else []
        if cuts:
            return sorted(set(cuts))
        looks = MAX_LOOKS
    span = (last - first) / looks
    return [first + span * (k + 1) for k in range(looks)]


def analyse(
    events: pd.DataFrame,
    experiment: Experiment,
    *,
    alpha: float = 0.05,
    window_s: float | None = None,
    looks: int | None = None,
    relative_effect: float = 0.1,
) -> ExperimentResult:
    """The experiment's results from ``events`` (see the module doc for the join).

    The always-valid p-value of each metric is the running minimum of ``1 / Lambda`` over the
    looks (:func:`look_times`), with the mixture variance ``tau^2 = (relative_effect *
    control value)^2`` (the control's value at the last look).

    Raises:
        DataError: no list of the experiment is in the events.
    """
    window = experiment.attribution_window_s if window_s is None else window_s
    lists = exposures_of(events, experiment.name)
    if lists.empty:
        raise DataError(
            f"no exposure of experiment {experiment.name!r} in the events (exposure events "
            "whose recommendation_id ends with ':EXPERIMENT:VARIANT')"
        )
    names = [v.name for v in experiment.variants]
    notes = []
    unknown = sorted(set(lists["variant"]) - set(names))
    if unknown:
        notes.append(f"lists of undeclared variants left out: {', '.join(unknown)}")
    table, crossovers = visitor_table(events, experiment.name, window)
    table = table[table["variant"].isin(names)]
    variants = _variant_results(table, experiment)
    control = variants[0]
    tau2 = {m: default_tau2(control.metrics[m].value, relative_effect) for m in METRICS}
    timeline = _timeline(events, lists, experiment, window, looks, tau2)
    tests: dict[tuple[str, Metric], Comparison] = {}
    for result in variants[1:]:
        for metric in METRICS:
            delta, relative, p_fixed = compare(control.metrics[metric], result.metrics[metric])
            path = timeline.loc[timeline["variant"] == result.variant.name, f"p_{metric}"]
            p_valid = float(path.min()) if path.notna().any() else 1.0
            tests[(result.variant.name, metric)] = Comparison(delta, relative, p_fixed, p_valid)
    srm = sample_ratio([v.visitors for v in variants], experiment.weights)
    if crossovers:
        notes.append(f"{crossovers} visitor(s) saw two variants and are left out")
    return ExperimentResult(experiment, alpha, variants, tests, srm, crossovers, timeline, notes)


def _variant_results(table: pd.DataFrame, experiment: Experiment) -> list[VariantResult]:
    results = []
    for variant, share in zip(experiment.variants, experiment.weights, strict=True):
        rows = table[table["variant"] == variant.name]
        results.append(
            VariantResult(
                variant=variant,
                share=share,
                visitors=len(rows),
                lists=int(rows["lists"].sum()),
                clicks=int(rows["clicks"].sum()),
                add_to_carts=int(rows["add_to_carts"].sum()),
                orders=int(rows["orders"].sum()),
                revenue=float(rows["revenue"].sum()),
                metrics=estimates(rows),
            )
        )
    return results


def _timeline(
    events: pd.DataFrame,
    lists: pd.DataFrame,
    experiment: Experiment,
    window: float,
    looks: int | None,
    tau2: dict[Metric, float],
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    best: dict[tuple[str, Metric], float] = {}
    control = experiment.variants[0].name
    outcomes = attributed(events, lists, window)
    for cut in look_times(events, lists, looks):
        # what was known at the cut (the session -> user map is the whole log's)
        table, _ = tabulate(lists[lists["time"] <= cut], outcomes[outcomes["timestamp"] <= cut])
        per = {v.name: estimates(table[table["variant"] == v.name]) for v in experiment.variants}
        counts = table["variant"].value_counts()
        for variant in experiment.variants:
            row: dict[str, Any] = {
                "time": cut,
                "variant": variant.name,
                "visitors": int(counts.get(variant.name, 0)),
            }
            for metric in METRICS:
                row[metric] = per[variant.name][metric].value
                if variant.name == control:
                    row[f"p_{metric}"] = np.nan
                    continue
                key = (variant.name, metric)
                small = min(counts.get(control, 0), counts.get(variant.name, 0)) < MIN_UNITS
                if small:  # plug-in variances of a handful of visitors are noise
                    row[f"p_{metric}"] = best.get(key, 1.0)
                    continue
                a, b = per[control][metric], per[variant.name][metric]
                lam = msprt_lambda(b.value - a.value, a.se**2 + b.se**2, tau2[metric])
                best[key] = min(best.get(key, 1.0), 1.0 / lam)
                row[f"p_{metric}"] = best[key]
            rows.append(row)
    return pd.DataFrame(rows)
