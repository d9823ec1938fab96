"""The monitor's statistics and checks: pure functions over pandas frames and arrays, no I/O.

Every check returns :class:`CheckResult` objects: the check's name (and subject: an event type,
a feature, a KPI), the statistic's value, the threshold it was compared with, the time window,
a status (``ok``, ``alert``, or ``skipped`` when there is too little data to judge) and a
one-line message naming the numbers. docs/monitoring.md gives every formula and default.

Events are a frame with the columns of :data:`EVENT_COLUMNS` (``timestamp`` as UTC datetimes,
``key`` = the user id, else the session id: who the event belongs to). A window is half-open,
``[start, end)``.

Statistics:

- **PSI** (population stability index) of two histograms over the same bins:
  ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` with ``e_i``, ``a_i`` the reference's and the
  current data's shares of bin ``i``; a share below ``eps`` (an empty bin) counts as ``eps``
  (default 1e-4), so the sum stays finite. Numeric values are binned on the reference's
  quantiles (:func:`quantile_edges`); categories are their own bins (the union of both sides).
- **KS**: the two-sample Kolmogorov-Smirnov statistic ``D = max |F_ref(x) - F_cur(x)|`` and its
  p-value (:func:`scipy.stats.ks_2samp`, two-sided).
- **Jaccard** of two lists as sets: ``|A ∩ B| / |A ∪ B|``.
- **Control band**: ``mean ± k * sd`` of the history's values (``sd`` with ``ddof = 1``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

Status = Literal["ok", "alert", "skipped"]
EVENT_COLUMNS = (
    "event_id",
    "key",
    "user_id",
    "session_id",
    "item_id",
    "type",
    "timestamp",
    "value",
    "recommendation_id",
)
"""Columns of an events frame (``timestamp``: tz-aware UTC; ``key``: user id, else session id)."""
EPS = 1e-4
"""Default floor of a bin's share in PSI (an empty bin counts as this share)."""
WEEK = timedelta(days=7)
EXPOSURE, CLICK, PURCHASE = "exposure", "click", "purchase"


# ---- results and windows ------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` (tz-aware UTC)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def ending(cls, end: datetime | pd.Timestamp, length: timedelta) -> Window:
        """The window of ``length`` that ends at ``end``."""
        stop = as_utc(end)
        return cls(stop - length, stop)

    @property
    def length(self) -> timedelta:
        return (self.end - self.start).to_pytimedelta()

    def shifted(self, by: timedelta) -> Window:
        """The same window ``by`` earlier."""
        return Window(self.start - by, self.end - by)

    def label(self) -> str:
        """``2026-11-29 10:00:00+00:00 .. 2026-11-29 11:00:00+00:00`` (ISO times, UTC)."""
        return f"{self.start.isoformat()} .. {self.end.isoformat()}"

    def select(self, events: pd.DataFrame) -> pd.DataFrame:
        """The events whose timestamp lies in the window."""
        ts = events["timestamp"]
        return events[(ts >= self.start) & (ts < self.end)]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check over one window."""

    name: str
    """The check (``volume``, ``event_mix``, ``validation_failures``, ``unknown_users``,
    ``unknown_items``, ``feature_psi``, ``feature_ks``, ``score_ks``, ``list_overlap``,
    ``kpi``)."""
    value: float
    """The statistic (NaN when skipped)."""
    threshold: float
    """What the value was compared with (the bound it crossed, for an alert)."""
    window: Window
    status: Status
    message: str
    """One line naming the check, the numbers and the window."""
    subject: str | None = None
    """What within the check: an event type, a feature, a KPI."""
    details: Mapping[str, float] = field(default_factory=dict)
    """The other numbers behind the verdict (counts, means, p-values)."""

    @property
    def key(self) -> str:
        """``name`` or ``name:subject``: the ``check`` label of the Prometheus gauges."""
        return self.name if self.subject is None else f"{self.name}:{self.subject}"

    @property
    def alert(self) -> bool:
        return self.status == "alert"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what the webhook receives; NaN and infinities as null)."""
        return {
            "check": self.key,
            "name": self.name,
            "subject": self.subject,
            "status": self.status,
            "value": _json_number(self.value),
            "threshold": _json_number(self.threshold),
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "message": self.message,
            "details": {k: _json_number(v) for k, v in self.details.items()},
        }


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def as_utc(when: datetime | pd.Timestamp) -> pd.Timestamp:
    """``when`` as a tz-aware UTC timestamp (a naive time is taken as UTC)."""
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _result(
    name: str,
    value: float,
    threshold: float,
    window: Window,
    status: Status,
    text: str,
    subject: str | None = None,
    **details: float,
) -> CheckResult:
    head = name if subject is None else f"{name}:{subject}"
    message = f"{head} {status.upper()}: {text} in {window.label()}"
    return CheckResult(name, value, threshold, window, status, message, subject, details)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


# ---- statistics ---------------------------------------------------------------------------
def shares(counts: Sequence[float] | np.ndarray, eps: float = EPS) -> np.ndarray:
    """Each bin's share of the total, floored at ``eps`` (all ``eps`` when the total is 0)."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    p = c / total if total > 0 else np.zeros_like(c)
    return np.maximum(p, eps)


def psi(
    expected: Sequence[float] | np.ndarray,
    actual: Sequence[float] | np.ndarray,
    eps: float = EPS,
) -> float:
    """Population stability index of two histograms over the same bins (counts or shares):
    ``sum_i (a_i - e_i) * ln(a_i / e_i)``, shares floored at ``eps``. 0 for equal shares;
    rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError(f"histograms of different lengths: {e.shape} vs {a.shape}")
    pe, pa = shares(e, eps), shares(a, eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_categorical(
    expected: Mapping[str, float], actual: Mapping[str, float], eps: float = EPS
) -> float:
    """PSI over categories: every category of either side is a bin (missing = count 0)."""
    names = sorted(set(expected) | set(actual))
    return psi([expected.get(n, 0.0) for n in names], [actual.get(n, 0.0) for n in names], eps)


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges of ``bins`` equal-frequency bins of ``reference``: the quantiles at
    ``k / bins`` for ``k = 1 .. bins - 1`` (linear interpolation), repeated edges dropped (a
    value that fills several quantiles makes one bin). With the outer bins open, the bins are
    ``(-inf, q1), [q1, q2), ..., [q_last, inf)``."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    ref = np.asarray(reference, dtype=float)
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the bins of :func:`quantile_edges` (``len(edges) + 1`` bins)."""
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    return np.bincount(idx, minlength=len(edges) + 1).astype(float)


def psi_numeric(
    reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = EPS
) -> float:
    """PSI of ``current`` against ``reference`` on the reference's quantile bins."""
    edges = quantile_edges(reference, bins)
    return psi(bin_counts(reference, edges), bin_counts(current, edges), eps)


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic ``D`` and its two-sided p-value."""
    from scipy.stats import ks_2samp

    out = ks_2samp(np.asarray(reference, float), np.asarray(current, float))
    return float(out.statistic), float(out.pvalue)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """``|A ∩ B| / |A ∪ B|`` of two lists as sets (1.0 for two empty lists)."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def counter_increase(samples: pd.DataFrame, window: Window) -> float | None:
    """How much a Prometheus counter grew within ``window``, from samples (columns ``time``,
    ``value``, scraped over time): from the last sample at or before the window's start (else
    the first within it) to the last sample before its end. A drop is a restart of the counted
    process (the counter began again at 0): the new value counts as increase. None with fewer
    than two samples."""
    s = samples.sort_values("time")
    before = s[s["time"] <= window.start]
    inside = s[(s["time"] > window.start) & (s["time"] < window.end)]
    use = pd.concat([before.tail(1), inside])
    if len(use) < 2:
        return None
    values = use["value"].to_numpy(float)
    steps = np.diff(values)
    return float(np.where(steps >= 0, steps, values[1:]).sum())


# ---- event volume and mix ------------------------------------------------------------------
def history_windows(
    window: Window, weeks: int, covered_since: pd.Timestamp | None = None
) -> list[Window]:
    """The same window 1 .. ``weeks`` weeks earlier, keeping those that start at or after
    ``covered_since`` (the first time the monitor has events for: earlier windows would count
    as empty)."""
    out = [window.shifted(WEEK * w) for w in range(1, weeks + 1)]
    if covered_since is not None:
        out = [w for w in out if w.start >= as_utc(covered_since)]
    return out


def type_counts(events: pd.DataFrame, window: Window) -> pd.Series:
    """Events per type within ``window``."""
    return window.select(events)["type"].value_counts()


def event_volume(
    events: pd.DataFrame,
    window: Window,
    *,
    history_weeks: int = 4,
    covered_since: pd.Timestamp | None = None,
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    z_max: float = 3.0,
    min_count: float = 20.0,
) -> list[CheckResult]:
    """Events per type in ``window`` against the same window of the last ``history_weeks``
    weeks (one result per type seen in either).

    With ``n`` the window's count and ``m``, ``sd`` the mean and standard deviation
    (``ddof = 1``) of the history's counts: ``ratio = n / m`` and ``z = (n - m) / sd``. An
    alert when

    - the type **stopped arriving**: ``n = 0`` while ``m >= min_count``; or
    - ``ratio < min_ratio`` or ``ratio > max_ratio``, and ``|z| >= z_max`` (when ``sd`` is
      known: two history weeks or more; ``sd = 0`` makes any change an infinite ``z``).

    Skipped without history, or when both ``n`` and ``m`` are below ``min_count`` (too few
    to judge).
    """
    history = history_windows(window, history_weeks, covered_since)
    now = type_counts(events, window)
    past = pd.DataFrame({i: type_counts(events, w) for i, w in enumerate(history)}).fillna(0.0)
    types = sorted(set(now.index) | set(past.index))
    results = []
    for kind in types:
        n = float(now.get(kind, 0))
        counts = past.loc[kind].to_numpy(float) if kind in past.index else np.zeros(len(history))
        results.append(
            _volume_result(kind, n, counts, window, min_ratio, max_ratio, z_max, min_count)
        )
    return results


def _volume_result(
    kind: str,
    n: float,
    counts: np.ndarray,
    window: Window,
    min_ratio: float,
    max_ratio: float,
    z_max: float,
    min_count: float,
) -> CheckResult:
    weeks = len(counts)
    if weeks == 0:
        return _result(
            "volume",
            math.nan,
            min_ratio,
            window,
            "skipped",
            f"{n:.0f} events, no history yet",
            kind,
            count=n,
        )
    m = float(counts.mean())
    sd = float(counts.std(ddof=1)) if weeks >= 2 else math.nan
    ratio = n / m if m > 0 else math.inf
    if math.isnan(sd):
        z = math.nan
    elif sd > 0:
        z = (n - m) / sd
    else:
        z = 0.0 if n == m else math.copysign(math.inf, n - m)
    details = {"count": n, "history_mean": m, "history_sd": sd, "z": z, "weeks": float(weeks)}
    numbers = (
        f"{n:.0f} events vs {m:.1f} ± {_fmt(sd)} in the same window of the last {weeks} weeks "
        f"(ratio {_fmt(ratio)}, z {_fmt(z)})"
    )
    threshold = min_ratio if ratio < 1 else max_ratio
    if n == 0 and m >= min_count:
        return _result(
            "volume",
            ratio,
            min_ratio,
            window,
            "alert",
            f"stopped arriving: {numbers}",
            kind,
            **details,
        )
    if n < min_count and m < min_count:
        return _result(
            "volume",
            ratio,
            threshold,
            window,
            "skipped",
            f"too few to judge (< {min_count:g}): {numbers}",
            kind,
            **details,
        )
    outside = ratio < min_ratio or ratio > max_ratio
    surprising = math.isnan(z) or abs(z) >= z_max
    if outside and surprising:
        bound = f"< {min_ratio:g}" if ratio < min_ratio else f"> {max_ratio:g}"
        return _result(
            "volume",
            ratio,
            threshold,
            window,
            "alert",
            f"ratio {bound}: {numbers}",
            kind,
            **details,
        )
    return _result("volume", ratio, threshold, window, "ok", numbers, kind, **details)


def event_mix(
    events: pd.DataFrame,
    window: Window,
    *,
    history_weeks: int = 4,
    covered_since: pd.Timestamp | None = None,
    max_psi: float = 0.2,
    eps: float = EPS,
    min_events: int = 100,
) -> CheckResult:
    """PSI of the event-type shares in ``window`` against the pooled counts of the same window
    of the last ``history_weeks`` weeks; an alert when ``PSI > max_psi``. Skipped without
    history or with fewer than ``min_events`` events on either side."""
    history = history_windows(window, history_weeks, covered_since)
    now = type_counts(events, window)
    past = pd.Series(dtype=float)
    for w in history:
        past = past.add(type_counts(events, w), fill_value=0.0)
    n_now, n_past = float(now.sum()), float(past.sum())
    if not history or n_now < min_events or n_past < min_events:
        return _result(
            "event_mix",
            math.nan,
            max_psi,
            window,
            "skipped",
            f"{n_now:.0f} events now, {n_past:.0f} in {len(history)} history windows "
            f"(need {min_events} each)",
            events=n_now,
            history_events=n_past,
        )
    value = psi_categorical(past.to_dict(), now.to_dict(), eps)
    moved = _largest_moves(past, now)
    status: Status = "alert" if value > max_psi else "ok"
    sign = ">" if value > max_psi else "<="
    return _result(
        "event_mix",
        value,
        max_psi,
        window,
        status,
        f"PSI {_fmt(value)} {sign} {max_psi:g} over {n_now:.0f} events vs {n_past:.0f} in the "
        f"same window of the last {len(history)} weeks ({moved})",
        events=n_now,
        history_events=n_past,
    )


def _largest_moves(expected: pd.Series, actual: pd.Series, top: int = 2) -> str:
    names = sorted(set(expected.index) | set(actual.index))
    e = expected.reindex(names, fill_value=0.0) / max(float(expected.sum()), 1.0)
    a = actual.reindex(names, fill_value=0.0) / max(float(actual.sum()), 1.0)
    order = (a - e).abs().sort_values(ascending=False, kind="stable").index[:top]
    return ", ".join(f"{n} {e[n]:.1%} -> {a[n]:.1%}" for n in order)


# ---- validation failures and unknown ids ------------------------------------------------
def validation_failures(
    accepted: float | None,
    rejected: float | None,
    window: Window,
    *,
    max_rate: float = 0.05,
    min_events: int = 50,
) -> CheckResult:
    """Share of the events the server received in ``window`` that it rejected as invalid:
    ``rejected / (accepted + rejected)`` (from the ``tailor_serving_events_total`` counter's
    increases); an alert when it exceeds ``max_rate``. Skipped when the numbers are unknown
    or fewer than ``min_events`` events came."""
    if accepted is None or rejected is None or accepted + rejected < min_events:
        total = None if accepted is None or rejected is None else accepted + rejected
        seen = "no counter samples" if total is None else f"{total:.0f} events"
        return _result(
            "validation_failures",
            math.nan,
            max_rate,
            window,
            "skipped",
            f"{seen} (need {min_events})",
        )
    total = accepted + rejected
    rate = rejected / total
    status: Status = "alert" if rate > max_rate else "ok"
    sign = ">" if rate > max_rate else "<="
    return _result(
        "validation_failures",
        rate,
        max_rate,
        window,
        status,
        f"{rejected:.0f} of {total:.0f} events rejected ({rate:.2%} {sign} {max_rate:.2%})",
        accepted=accepted,
        rejected=rejected,
    )


def unknown_share(
    events: pd.DataFrame,
    window: Window,
    known_users: Iterable[str],
    known_items: Iterable[str],
    *,
    max_user_share: float = 0.5,
    max_item_share: float = 0.1,
    min_ids: int = 20,
    types: Iterable[str] | None = None,
) -> list[CheckResult]:
    """Shares of the distinct user ids and item ids of ``window``'s events that the active
    model does not know (not in its vocabularies): ``unknown_users`` (signed-in users only;
    anonymous sessions are new by nature) and ``unknown_items``. An alert when a share
    exceeds its maximum; skipped under ``min_ids`` distinct ids. ``types``: only events of
    these types (default all)."""
    now = window.select(events)
    if types is not None:
        now = now[now["type"].isin(list(types))]
    users = pd.unique(now["user_id"].dropna().astype(str))
    items = pd.unique(now["item_id"].astype(str))
    out = []
    for name, ids, known, limit in (
        ("unknown_users", users, known_users, max_user_share),
        ("unknown_items", items, known_items, max_item_share),
    ):
        total = len(ids)
        what = name.split("_")[1]
        if total < min_ids:
            out.append(
                _result(
                    name,
                    math.nan,
                    limit,
                    window,
                    "skipped",
                    f"{total} distinct {what} (need {min_ids})",
                    ids=float(total),
                )
            )
            continue
        unknown = int((~pd.Index(ids).isin(pd.Index(np.asarray(list(known), dtype=object)))).sum())
        share = unknown / total
        status: Status = "alert" if share > limit else "ok"
        sign = ">" if share > limit else "<="
        out.append(
            _result(
                name,
                share,
                limit,
                window,
                status,
                f"{unknown} of {total} distinct {what} unknown to the model "
                f"({share:.2%} {sign} {limit:.2%})",
                ids=float(total),
                unknown=float(unknown),
            )
        )
    return out


# ---- feature distributions ---------------------------------------------------------------
def interacted_pairs(
    events: pd.DataFrame, window: Window, types: Iterable[str] | None = None
) -> pd.DataFrame:
    """Distinct (key, item_id) pairs of ``window``'s events (of ``types``): the unit of the
    training reference, whose ``seen`` matrix holds each user-item pair once."""
    now = window.select(events)
    if types is not None:
        now = now[now["type"].isin(list(types))]
    return now[["key", "item_id"]].drop_duplicates()


def numeric_drift(
    feature: str,
    reference: np.ndarray,
    current: np.ndarray,
    window: Window,
    *,
    bins: int = 10,
    eps: float = EPS,
    max_psi: float = 0.2,
    ks_max: float = 0.1,
    ks_alpha: float = 0.01,
    min_n: int = 50,
    against: str = "the training data",
) -> list[CheckResult]:
    """A numeric feature's values now against a reference sample: ``feature_psi`` (PSI on the
    reference's ``bins`` quantile bins; alert when ``> max_psi``) and ``feature_ks`` (KS
    statistic ``D``; alert when ``D > ks_max`` and the p-value ``< ks_alpha``). Missing values
    are left out; skipped under ``min_n`` values on either side."""
    ref = np.asarray(reference, float)
    cur = np.asarray(current, float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    counts = {"n": float(len(cur)), "reference_n": float(len(ref))}
    if len(ref) < min_n or len(cur) < min_n:
        text = f"{len(cur)} values now, {len(ref)} in {against} (need {min_n})"
        return [
            _result("feature_psi", math.nan, max_psi, window, "skipped", text, feature, **counts),
            _result("feature_ks", math.nan, ks_max, window, "skipped", text, feature, **counts),
        ]
    value = psi_numeric(ref, cur, bins, eps)
    d, p = ks(ref, cur)
    medians = f"median {_fmt(float(np.median(cur)))} vs {_fmt(float(np.median(ref)))}"
    psi_status: Status = "alert" if value > max_psi else "ok"
    ks_status: Status = "alert" if d > ks_max and p < ks_alpha else "ok"
    return [
        _result(
            "feature_psi",
            value,
            max_psi,
            window,
            psi_status,
            f"PSI {_fmt(value)} {'>' if value > max_psi else '<='} {max_psi:g} over {len(cur)} "
            f"values vs {against} ({len(ref)}; {medians})",
            feature,
            **counts,
        ),
        _result(
            "feature_ks",
            d,
            ks_max,
            window,
            ks_status,
            f"KS D {_fmt(d)} {'>' if d > ks_max else '<='} {ks_max:g} (p {p:.3g}, alert needs "
            f"p < {ks_alpha:g}) over {len(cur)} values vs {against} ({len(ref)}; {medians})",
            feature,
            p_value=p,
            **counts,
        ),
    ]


def categorical_drift(
    feature: str,
    reference: Mapping[str, float],
    current: Mapping[str, float],
    window: Window,
    *,
    eps: float = EPS,
    max_psi: float = 0.2,
    min_n: int = 50,
    against: str = "the training data",
) -> CheckResult:
    """A categorical feature's counts now against reference counts: ``feature_psi`` with every
    category a bin; alert when ``PSI > max_psi``. Skipped under ``min_n`` on either side."""
    n_now, n_ref = float(sum(current.values())), float(sum(reference.values()))
    counts = {"n": n_now, "reference_n": n_ref}
    if n_now < min_n or n_ref < min_n:
        return _result(
            "feature_psi",
            math.nan,
            max_psi,
            window,
            "skipped",
            f"{n_now:.0f} values now, {n_ref:.0f} in {against} (need {min_n})",
            feature,
            **counts,
        )
    value = psi_categorical(reference, current, eps)
    moved = _largest_moves(pd.Series(reference, dtype=float), pd.Series(current, dtype=float))
    status: Status = "alert" if value > max_psi else "ok"
    return _result(
        "feature_psi",
        value,
        max_psi,
        window,
        status,
        f"PSI {_fmt(value)} {'>' if value > max_psi else '<='} {max_psi:g} over {n_now:.0f} "
        f"values vs {against} ({n_ref:.0f}; {moved})",
        feature,
        **counts,
    )


def events_per_key(events: pd.DataFrame, window: Window) -> np.ndarray:
    """Events per visitor (``key``) within ``window``, one value per active visitor."""
    return window.select(events)["key"].value_counts().to_numpy(float)


# ---- the served model ----------------------------------------------------------------------
def score_drift(
    reference: np.ndarray,
    current: np.ndarray,
    window: Window,
    *,
    ks_max: float = 0.2,
    ks_alpha: float = 0.01,
    min_n: int = 50,
) -> CheckResult:
    """``score_ks``: KS of the top-k scores of a fixed sample of users now against the same
    users' scores when the monitor first saw the model; an alert when ``D > ks_max`` and
    ``p < ks_alpha``. ``window``: from that first look to now."""
    ref, cur = np.asarray(reference, float), np.asarray(current, float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) < min_n or len(cur) < min_n:
        return _result(
            "score_ks",
            math.nan,
            ks_max,
            window,
            "skipped",
            f"{len(cur)} scores now, {len(ref)} at load (need {min_n})",
        )
    d, p = ks(ref, cur)
    status: Status = "alert" if d > ks_max and p < ks_alpha else "ok"
    return _result(
        "score_ks",
        d,
        ks_max,
        window,
        status,
        f"KS D {_fmt(d)} {'>' if d > ks_max else '<='} {ks_max:g} (p {p:.3g}) of {len(cur)} top-k "
        f"scores now (mean {_fmt(float(cur.mean()))}) vs {len(ref)} at load "
        f"(mean {_fmt(float(ref.mean()))})",
        p_value=p,
        n=float(len(cur)),
        reference_n=float(len(ref)),
    )


def list_overlap(
    reference: Mapping[str, Sequence[str]],
    current: Mapping[str, Sequence[str]],
    window: Window,
    *,
    min_jaccard: float = 0.5,
    min_users: int = 10,
) -> CheckResult:
    """``list_overlap``: mean Jaccard of the same users' top-k lists at two times (or of two
    versions), over the users present in both; an alert when it falls below ``min_jaccard``."""
    users = sorted(set(reference) & set(current))
    if len(users) < min_users:
        return _result(
            "list_overlap",
            math.nan,
            min_jaccard,
            window,
            "skipped",
            f"{len(users)} users in both samples (need {min_users})",
        )
    values = np.array([jaccard(reference[u], current[u]) for u in users])
    mean = float(values.mean())
    status: Status = "alert" if mean < min_jaccard else "ok"
    return _result(
        "list_overlap",
        mean,
        min_jaccard,
        window,
        status,
        f"mean Jaccard {_fmt(mean)} {'<' if mean < min_jaccard else '>='} {min_jaccard:g} of "
        f"{len(users)} users' lists now vs at load ({int((values == 1).sum())} unchanged)",
        users=float(len(users)),
    )


# ---- KPIs ----------------------------------------------------------------------------------
def kpis(events: pd.DataFrame, window: Window) -> dict[str, float]:
    """The window's KPIs: ``ctr`` = clicks carrying a ``recommendation_id`` / exposures (NaN
    without exposures) and ``conversion`` = visitors with a purchase / visitors (distinct
    keys with any event but an exposure; NaN without visitors)."""
    now = window.select(events)
    exposures = float((now["type"] == EXPOSURE).sum())
    clicks = float(((now["type"] == CLICK) & now["recommendation_id"].notna()).sum())
    acting = now[now["type"] != EXPOSURE]
    visitors = float(acting["key"].nunique())
    buyers = float(acting.loc[acting["type"] == PURCHASE, "key"].nunique())
    return {
        "ctr": clicks / exposures if exposures else math.nan,
        "conversion": buyers / visitors if visitors else math.nan,
        "exposures": exposures,
        "clicks": clicks,
        "visitors": visitors,
        "purchasers": buyers,
    }


def kpi_history(
    events: pd.DataFrame,
    window: Window,
    *,
    history_weeks: int = 4,
    covered_since: pd.Timestamp | None = None,
) -> list[dict[str, float]]:
    """The KPIs of the consecutive windows of the same length before ``window``, back
    ``history_weeks`` weeks (those starting at or after ``covered_since``), oldest first."""
    length = window.length
    n = int(WEEK * history_weeks / length)
    out = []
    for k in range(n, 0, -1):
        w = window.shifted(length * k)
        if covered_since is None or w.start >= as_utc(covered_since):
            out.append(kpis(events, w))
    return out


def control_band(
    kpi: str,
    history: Sequence[float],
    current: float,
    window: Window,
    *,
    k_sigma: float = 3.0,
    min_history: int = 7,
) -> CheckResult:
    """``kpi``: the window's value against ``mean ± k_sigma * sd`` of its history (NaN values
    left out); an alert outside the band. Skipped without a current value or with fewer than
    ``min_history`` past values. The result's value is the deviation in sds,
    ``(current - mean) / sd``; its threshold ``k_sigma``."""
    past = np.asarray([v for v in history if math.isfinite(v)], float)
    if not math.isfinite(current) or len(past) < min_history:
        return _result(
            "kpi",
            math.nan,
            k_sigma,
            window,
            "skipped",
            f"value {_fmt(current)}, {len(past)} past windows (need {min_history})",
            kpi,
            current=current,
        )
    m, sd = float(past.mean()), float(past.std(ddof=1))
    low, high = m - k_sigma * sd, m + k_sigma * sd
    if sd > 0:
        z = (current - m) / sd
    else:
        z = 0.0 if current == m else math.copysign(math.inf, current - m)
    status: Status = "alert" if current < low or current > high else "ok"
    where = "outside" if status == "alert" else "inside"
    return _result(
        "kpi",
        z,
        k_sigma,
        window,
        status,
        f"{_fmt(current)} {where} the band {_fmt(low)} .. {_fmt(high)} (mean {_fmt(m)} ± "
        f"{k_sigma:g} sd {_fmt(sd)} of {len(past)} past windows; z {_fmt(z)})",
        kpi,
        current=current,
        mean=m,
        sd=sd,
        low=low,
        high=high,
    )
