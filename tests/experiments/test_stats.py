"""The statistics: exact values on hand-computed cases, and simulations of peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailor.experiments.stats import (
    always_valid_p,
    compare,
    mean_estimate,
    msprt_lambda,
    msprt_p_matrix,
    power_two_proportions,
    ratio_estimate,
    sample_ratio,
    sample_size_two_proportions,
    z_test_p,
)


def test_ratio_estimate_is_the_delta_method_by_hand() -> None:
    # clicks [1, 0, 2] over lists [1, 1, 2]: R = 3/4; s_y^2 = 1, s_x^2 = 1/3, s_xy = 1/2,
    # mean(x) = 4/3: Var = (1 - 2 * 0.75 * 0.5 + 0.75^2 / 3) / (3 * 16/9) = 0.08203125
    est = ratio_estimate(np.array([1.0, 0.0, 2.0]), np.array([1.0, 1.0, 2.0]))
    assert est.value == 0.75
    assert est.se == pytest.approx(math.sqrt(0.08203125), rel=1e-12)
    assert est.low == pytest.approx(0.75 - 1.959963984540054 * math.sqrt(0.08203125))
    assert math.isnan(ratio_estimate(np.zeros(2), np.zeros(2)).value)


def test_mean_estimate_and_the_difference() -> None:
    a = mean_estimate(np.array([1.0, 0.0, 0.0]))  # 1/3, s^2 = 1/3, se = 1/3
    b = mean_estimate(np.array([1.0, 1.0, 0.0, 1.0]))  # 3/4, s^2 = 1/4, se = 1/4
    assert (a.value, a.se) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert (b.value, b.se) == (0.75, 0.25)
    delta, relative, p = compare(a, b)
    assert delta.value == pytest.approx(0.75 - 1 / 3)
    assert delta.se == pytest.approx(math.sqrt(1 / 9 + 1 / 16))  # 5/12
    assert relative == pytest.approx(1.25)  # (3/4 - 1/3) / (1/3)
    assert p == pytest.approx(2 * 0.15865525393145707)  # |z| = (5/12) / (5/12) = 1
    assert z_test_p(1.0, 0.0) == 1.0


def test_msprt_lambda_by_hand() -> None:
    # V = 1, tau^2 = 3: sqrt(1/4) * exp(3 * 4 / (2 * 1 * 4)) = 0.5 * e^1.5
    assert msprt_lambda(2.0, 1.0, 3.0) == pytest.approx(0.5 * math.exp(1.5), rel=1e-12)
    assert msprt_lambda(0.0, 1.0, 3.0) == 0.5  # no difference: evidence for H0
    assert msprt_lambda(1.0, 0.0, 3.0) == 1.0  # no variance yet: no evidence
    # the p-value never rises again: min over looks of 1 / Lambda
    ps = always_valid_p([2.0, 0.0, 3.0], [1.0, 1.0, 1.0], 3.0)
    first = 1 / (0.5 * math.exp(1.5))
    assert ps[:2] == [pytest.approx(first), pytest.approx(first)]
    assert ps[2] == pytest.approx(1 / (0.5 * math.exp(3 * 9 / 8)))


def test_srm_chi_square_by_hand() -> None:
    # 3 vs 2 against 50/50: (0.5^2 / 2.5) * 2 = 0.2 on 1 df, p = 0.6547
    srm = sample_ratio([3, 2], [1, 1])
    assert srm.chi2 == pytest.approx(0.2)
    assert srm.p_value == pytest.approx(0.6547208460185772, rel=1e-9)
    assert not srm.alarm
    # 5,300 vs 4,700 against 50/50: chi2 = 36, p ~ 2e-9: the alarm
    bad = sample_ratio([5300, 4700], [0.5, 0.5])
    assert bad.chi2 == pytest.approx(36.0) and bad.alarm
    # against the configured 1:3 weights the same kind of count is fine
    assert not sample_ratio([2510, 7490], [1, 3]).alarm


def test_sample_size_matches_the_textbook_formula() -> None:
    # p1 = 0.05, p2 = 0.055, pbar = 0.0525: (1.959964 * 0.315416 + 0.841621 * 0.315397)^2
    # / 0.005^2 = 31,233.4 -> 31,234 per variant
    assert sample_size_two_proportions(0.05, 0.1) == 31234
    assert sample_size_two_proportions(0.05, 0.005, relative=False) == 31234
    assert power_two_proportions(0.05, 0.1, 31234) == pytest.approx(0.8, abs=1e-4)
    with pytest.raises(ValueError, match="lift must not be 0"):
        sample_size_two_proportions(0.05, 0.0)
    with pytest.raises(ValueError, match=r"proportions must be in \(0, 1\)"):
        sample_size_two_proportions(0.6, 1.0)


RUNS, LOOKS, PER_LOOK = 200, 20, 100
ALPHA = 0.05


def _peeking(p_a: float, p_b: float, per_look: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run and look: (always-valid p, fixed-horizon z-test p) of conversion b - a."""
    rng = np.random.default_rng(seed)
    a = rng.binomial(per_look, p_a, size=(RUNS, LOOKS)).cumsum(axis=1)
    b = rng.binomial(per_look, p_b, size=(RUNS, LOOKS)).cumsum(axis=1)
    n = per_look * np.arange(1, LOOKS + 1)
    ra, rb = a / n, b / n
    var = ra * (1 - ra) / n + rb * (1 - rb) / n
    delta = rb - ra
    tau2 = (0.2 * p_a) ** 2  # the mixture: a 20 % change expected
    valid = msprt_p_matrix(delta, var, tau2)
    from scipy import stats

    naive = 2 * stats.norm.sf(np.abs(delta) / np.sqrt(var))
    return valid, naive


def test_peeking_at_20_looks_keeps_the_always_valid_rate_but_not_the_naive_one() -> None:
    valid, naive = _peeking(0.1, 0.1, PER_LOOK, seed=7)
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)  # 3 binomial sd over 200 runs
    always_valid_rate = float(np.mean(valid.min(axis=1) < ALPHA))
    naive_rate = float(np.mean((naive < ALPHA).any(axis=1)))
    assert always_valid_rate <= ALPHA + slack
    # stopping at the first naive p < 0.05 of 20 looks: about a quarter of A/A tests "win"
    assert naive_rate > ALPHA + slack
    assert naive_rate > 3 * max(always_valid_rate, 0.01)
    # one fixed look at the end is fine for the naive test too (what it is for)
    assert float(np.mean(naive[:, -1] < ALPHA)) <= ALPHA + slack


def test_a_real_lift_is_detected_by_the_sequential_test() -> None:
    valid, _ = _peeking(0.10, 0.12, 500, seed=11)  # 10,000 visitors per arm at the end
    detected = valid.min(axis=1) < ALPHA
    assert float(np.mean(detected)) >= 0.9
    # and it stops early for most runs: the median first look below alpha is before the end
    first = np.argmax(valid < ALPHA, axis=1)[detected]
    assert float(np.median(first)) < LOOKS - 1
