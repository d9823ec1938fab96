"""Confidence intervals and paired significance tests over per-user metric values.

Stability: stable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tailor.data.columns import Columns
from tailor.random import RNGLike, make_rng

BOOTSTRAP_RESAMPLES = 1000
MAX_BOOTSTRAP_USERS = 20_000
"""Above this many users, :func:`confidence_interval` uses the normal interval: the bootstrap
costs resamples x users and, for a mean over that many users, agrees with it to Monte-Carlo
error."""


def bootstrap_means(
    values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, rng: RNGLike = 0
) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples (users drawn with replacement) of each column.

    Every column uses the same resampled users (so metrics stay paired). A resample is a count
    vector ``w`` over users; its mean of column ``x`` is ``w @ x / w @ present`` (NaN ignored).

    Args:
        values: (users,) or (users, metrics) array.
        resamples: number of resamples B.
        rng: seed or generator.

    Returns:
        (B,) or (B, metrics) array of resampled means (NaN where a resample has no value).
    """
    arr = np.asarray(values, dtype=np.float64)
    flat = arr.reshape(len(arr), -1)
    n = len(arr)
    idx = make_rng(rng).integers(0, n, size=(resamples, n))
    idx += np.arange(resamples)[:, None] * n
    weights = np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n)
    present = ~np.isnan(flat)
    totals = weights @ np.where(present, flat, 0.0)
    counts = weights @ present.astype(np.float64)
    means = np.divide(totals, counts, out=np.full_like(totals, np.nan), where=counts > 0)
    return means.reshape((resamples, *arr.shape[1:]))


def confidence_interval(
    values: np.ndarray, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, rng: RNGLike = 0
) -> tuple[float, float, str]:
    """A ``level`` confidence interval of the mean of ``values`` (NaN ignored).

    Percentile bootstrap with ``resamples`` resamples of users when there are at most
    :data:`MAX_BOOTSTRAP_USERS` values; above that the normal interval
    :math:`\\bar x \\pm z_{(1+level)/2}\\, s / \\sqrt{n}`.

    Returns:
        (low, high, method) with method ``"bootstrap"`` or ``"normal"``; (nan, nan, ...) when
        fewer than two values are present.
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if len(arr) < 2:
        return float("nan"), float("nan"), "none"
    alpha = (1.0 - level) / 2.0
    if len(arr) <= MAX_BOOTSTRAP_USERS:
        means = bootstrap_means(arr, resamples, rng)
        low, high = np.quantile(means, [alpha, 1.0 - alpha])
        return float(low), float(high), "bootstrap"
    half = stats.norm.ppf(1.0 - alpha) * arr.std(ddof=1) / np.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half), "normal"


def confidence_intervals(
    values: np.ndarray, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, rng: RNGLike = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """:func:`confidence_interval` of every column of a (users, metrics) array at once.

    Up to :data:`MAX_BOOTSTRAP_USERS` users one set of bootstrap resamples serves every column
    without NaN (what :func:`confidence_interval` gives column by column with the same seed, up
    to rounding: each column's resamples would be drawn identically); columns with NaN, and
    every column above that many users, go through :func:`confidence_interval` one by one.

    Returns:
        (low, high, method): arrays of one value per column (NaN where a column has fewer than
        two values) and ``"bootstrap"`` or ``"normal"`` (``"none"`` without two users).
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[:, None] if arr.ndim == 1 else arr
    low = np.full(arr.shape[1], np.nan)
    high = np.full(arr.shape[1], np.nan)
    if len(arr) < 2:
        return low, high, "none"
    complete = (~np.isnan(arr)).all(axis=0)
    shared = np.flatnonzero(complete) if len(arr) <= MAX_BOOTSTRAP_USERS else np.array([], int)
    if len(shared):
        alpha = (1.0 - level) / 2.0
        means = bootstrap_means(arr[:, shared], resamples, rng)
        low[shared], high[shared] = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    for col in np.setdiff1d(np.arange(arr.shape[1]), shared):
        # NaN-bearing columns (novelty of users without a list) drop their own users
        low[col], high[col], _ = confidence_interval(arr[:, col], level, resamples, rng)
    return low, high, "bootstrap" if len(arr) <= MAX_BOOTSTRAP_USERS else "normal"


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two systems on one metric over the users both were evaluated on.

    Attributes:
        metric: the per-user column compared.
        users: number of paired users.
        mean_a: mean of system A.
        mean_b: mean of system B.
        difference: mean of (B - A).
        ci_low: lower end of the 95 % bootstrap interval of the mean difference.
        ci_high: upper end.
        t_statistic: paired t statistic.
        t_pvalue: two-sided p-value of the paired t-test.
        wilcoxon_pvalue: two-sided p-value of the Wilcoxon signed-rank test (zero differences
            dropped, ``zero_method="wilcox"``); 1.0 when every difference is zero.
        significant: whether both tests give p < ``alpha``.
    """

    metric: str
    users: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_pvalue: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-serialisable dict."""
        return asdict(self)


def compare(
    per_user_a: pd.DataFrame,
    per_user_b: pd.DataFrame,
    metric: str,
    *,
    alpha: float = 0.05,
    rng: RNGLike = 0,
) -> Comparison:
    """Paired significance of B versus A on ``metric`` over the users in both frames.

    Both frames are ``EvaluationResult.per_user`` tables (a ``user_id`` column plus metric
    columns). Users present in only one are dropped: a paired test compares the same users.
    """
    a = per_user_a[[Columns.USER_ID, metric]].dropna()
    b = per_user_b[[Columns.USER_ID, metric]].dropna()
    both = a.merge(b, on=Columns.USER_ID, suffixes=("_a", "_b"))
    x, y = both[f"{metric}_a"].to_numpy(float), both[f"{metric}_b"].to_numpy(float)
    diff = y - x
    if len(diff) < 2:
        raise ValueError(f"need at least two paired users to compare {metric!r}")
    if np.all(diff == 0):
        t_stat, t_p, w_p = 0.0, 1.0, 1.0
    else:
        t_res = stats.ttest_rel(y, x)
        t_stat, t_p = float(t_res.statistic), float(t_res.pvalue)
        w_p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    low, high, _ = confidence_interval(diff, rng=rng)
    return Comparison(
        metric=metric,
        users=len(diff),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=float(diff.mean()),
        ci_low=low,
        ci_high=high,
        t_statistic=t_stat,
        t_pvalue=t_p,
        wilcoxon_pvalue=w_p,
        significant=bool(t_p < alpha and w_p < alpha),
    )
