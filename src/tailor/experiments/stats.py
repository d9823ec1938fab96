"""The statistics of A/B tests (formulas in docs/experiments.md).

* Estimates per variant: a mean over visitors (standard error ``s / sqrt(n)``) or a ratio of
  per-visitor sums (CTR = clicks / lists, AOV = revenue / orders) with the **delta method**:
  ``Var(Y/X) ~ (s_y^2 - 2 R s_xy + R^2 s_x^2) / (n * mean(x)^2)``, ``R = sum(y) / sum(x)``
  (visitors are the independent units; lists of one visitor are not).
* A difference of two variants: ``delta = b - a``, ``se = sqrt(se_a^2 + se_b^2)``, normal
  confidence interval.
* The sequential test: the **mixture SPRT** of Johari, Koomen, Pekelis and Walsh (2017) for a
  difference of means with a normal mixture ``N(0, tau^2)`` over the effect::

      Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * delta^2 / (2 V (V + tau^2)))

  with ``V`` the variance of ``delta``; the always-valid p-value is the running minimum of
  ``min(1, 1 / Lambda)`` over the looks, so looking after every day (or every visitor) keeps
  the false-positive rate within alpha.
* The sample-ratio-mismatch check: Pearson's chi-square of the visitors per variant against
  the configured weights; p < 0.001 raises the alarm.
* Power: visitors per variant to detect a change of a proportion (two-sided z-test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _stats

from tailor.types import NPVector as FloatArray

SRM_ALPHA = 0.001
"""Sample-ratio mismatch alarm threshold (p-value)."""
MIN_UNITS = 30
"""Fewest visitors per variant before a test is computed (the plug-in variances are noise
below it); with fewer the p-value is 1."""


@dataclass(frozen=True)
class Estimate:
    """A statistic, its standard error and its confidence interval."""

    value: float
    se: float
    low: float
    high: float

    @classmethod
    def normal(cls, value: float, se: float, level: float = 0.95) -> Estimate:
        z = float(_stats.norm.ppf(0.5 + level / 2))
        return cls(value, se, value - z * se, value + z * se)


def mean_estimate(y: FloatArray, level: float = 0.95) -> Estimate:
    """The mean of per-visitor values with its standard error ``s / sqrt(n)`` (NaN for n = 0;
    se 0 for n = 1)."""
    n = len(y)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan)
    se = float(np.std(y, ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return Estimate.normal(float(np.mean(y)), se, level)


def ratio_estimate(y: FloatArray, x: FloatArray, level: float = 0.95) -> Estimate:
    """``sum(y) / sum(x)`` over visitors with its delta-method standard error (NaN when
    ``sum(x)`` is 0)."""
    n = len(y)
    sx = float(np.sum(x))
    if n == 0 or sx == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan)
    ratio = float(np.sum(y)) / sx
    if n == 1:
        return Estimate.normal(ratio, 0.0, level)
    mx = sx / n
    cov = np.cov(np.vstack([y, x]), ddof=1)
    var = float(cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mx**2)
    if var <= 1e-12 * max(ratio**2, 1.0):  # y = R x for every visitor: rounding noise
        var = 0.0
    return Estimate.normal(ratio, math.sqrt(var), level)


@dataclass(frozen=True)
class Comparison:
    """Variant ``b`` against ``a`` (the control) on one metric."""

    delta: Estimate
    """b - a with its normal confidence interval."""
    relative: float
    """(b - a) / a (NaN when a is 0)."""
    p_fixed: float
    """Two-sided z-test p-value: valid at one pre-planned look only."""
    p_always_valid: float
    """mSPRT always-valid p-value (running minimum over the looks given)."""


def compare(a: Estimate, b: Estimate, level: float = 0.95) -> tuple[Estimate, float, float]:
    """(b - a with its CI, relative change, fixed-horizon z-test p-value)."""
    delta = b.value - a.value
    se = math.sqrt(a.se**2 + b.se**2)
    relative = delta / a.value if a.value else math.nan
    return Estimate.normal(delta, se, level), relative, z_test_p(delta, se)


def z_test_p(delta: float, se: float) -> float:
    """Two-sided normal p-value of ``delta`` with standard error ``se`` (1 when undefined)."""
    if not math.isfinite(delta) or not math.isfinite(se) or se <= 0:
        return 1.0
    return float(2 * _stats.norm.sf(abs(delta) / se))


def msprt_lambda(delta: float, var: float, tau2: float) -> float:
    """The mixture likelihood ratio of the normal-mixture SPRT (H0: no difference)."""
    if not (math.isfinite(delta) and math.isfinite(var)) or var <= 0 or tau2 <= 0:
        return 1.0
    exponent = tau2 * delta**2 / (2 * var * (var + tau2))
    return math.sqrt(var / (var + tau2)) * math.exp(min(exponent, 700.0))


def always_valid_p(deltas: Sequence[float], variances: Sequence[float], tau2: float) -> list[float]:
    """The always-valid p-value after each look: ``p_k = min(p_{k-1}, 1 / Lambda_k)``,
    ``p_0 = 1``."""
    p, out = 1.0, []
    for delta, var in zip(deltas, variances, strict=True):
        p = min(p, 1.0 / msprt_lambda(delta, var, tau2))
        out.append(p)
    return out


def msprt_p_matrix(delta: FloatArray, var: FloatArray, tau2: FloatArray | float) -> FloatArray:
    """Vectorised :func:`always_valid_p` over runs: ``delta`` and ``var`` are (runs, looks);
    returns the running always-valid p-values, same shape (simulations)."""
    var = np.where(var > 0, var, np.nan)
    exponent = np.minimum(tau2 * delta**2 / (2 * var * (var + tau2)), 700.0)
    lam = np.sqrt(var / (var + tau2)) * np.exp(exponent)
    inv = np.where(np.isfinite(lam), 1.0 / lam, 1.0)
    return np.minimum.accumulate(np.minimum(inv, 1.0), axis=-1)


def default_tau2(control_mean: float, relative_effect: float = 0.1) -> float:
    """The mixture's variance: the squared effect one expects, ``(relative_effect *
    control_mean)^2`` (a 10 % change by default); a control mean of 0 gives 1e-12 (the test
    then needs a large difference)."""
    return max((relative_effect * control_mean) ** 2, 1e-12)


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float

    @property
    def alarm(self) -> bool:
        """Whether the split differs from the weights beyond chance (p < 0.001)."""
        return self.p_value < SRM_ALPHA


def sample_ratio(counts: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Pearson's chi-square of ``counts`` against ``weights`` (normalised), k - 1 degrees of
    freedom. With fewer than 2 variants or no units: chi2 0, p 1."""
    total = sum(counts)
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    expected = tuple(float(total * x) for x in w)
    if len(counts) < 2 or total == 0:
        return SampleRatio(tuple(counts), expected, 0.0, 1.0)
    chi2 = float(sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True)))
    p = float(_stats.chi2.sf(chi2, len(counts) - 1))
    return SampleRatio(tuple(int(c) for c in counts), expected, chi2, p)


def sample_size_two_proportions(
    baseline: float, lift: float, *, alpha: float = 0.05, power: float = 0.8, relative: bool = True
) -> int:
    """Visitors per variant for a two-sided z-test of two proportions to detect ``baseline ->
    baseline * (1 + lift)`` (``relative``) or ``baseline + lift``, with size ``alpha`` and
    ``power``::

        n = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_{power} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2

    Raises:
        ValueError: a proportion outside (0, 1), no change, or alpha/power outside (0, 1).
    """
    p1 = baseline
    p2 = baseline * (1 + lift) if relative else baseline + lift
    if not (0 < p1 < 1 and 0 < p2 < 1):
        raise ValueError(f"proportions must be in (0, 1); got {p1:g} -> {p2:g}")
    if p1 == p2:
        raise ValueError("the lift must not be 0")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must be in (0, 1)")
    z_a = float(_stats.norm.ppf(1 - alpha / 2))
    z_b = float(_stats.norm.ppf(power))
    pbar = (p1 + p2) / 2
    root = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p2 - p1) ** 2)


def power_two_proportions(
    baseline: float, lift: float, n: int, *, alpha: float = 0.05, relative: bool = True
) -> float:
    """The power of the same test with ``n`` visitors per variant (inverse of
    :func:`sample_size_two_proportions`)."""
    p1 = baseline
    p2 = baseline * (1 + lift) if relative else baseline + lift
    z_a = float(_stats.norm.ppf(1 - alpha / 2))
    pbar = (p1 + p2) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    return float(_stats.norm.cdf((abs(p2 - p1) - z_a * se0) / se1))
