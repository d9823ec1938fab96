"""Paired significance and confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tailor.evaluation import compare, confidence_interval
from tailor.evaluation.significance import (
    MAX_BOOTSTRAP_USERS,
    bootstrap_means,
    confidence_intervals,
)


def _frames(shift: float, n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    a = rng.random(n)
    b = np.clip(a + shift + rng.normal(0, 0.05, n), 0, 1)
    users = [f"u{i}" for i in range(n)]
    return (
        pd.DataFrame({"user_id": users, "ndcg@10": a}),
        pd.DataFrame({"user_id": users[::-1], "ndcg@10": b[::-1]}),  # order must not matter
    )


def test_compare_matches_scipy_and_detects_a_real_difference() -> None:
    a, b = _frames(0.05)
    res = compare(a, b, "ndcg@10")
    x, y = a["ndcg@10"].to_numpy(), b["ndcg@10"].to_numpy()[::-1]
    assert res.users == 300
    assert res.difference == pytest.approx((y - x).mean())
    assert res.t_pvalue == pytest.approx(stats.ttest_rel(y, x).pvalue)
    assert res.wilcoxon_pvalue == pytest.approx(stats.wilcoxon(y - x).pvalue)
    assert res.significant and res.ci_low > 0


def test_compare_no_difference_is_not_significant() -> None:
    # B is A plus zero-mean noise (seed 0): the same distribution, drawn twice and paired. A
    # compare() that drops the pairing or tests the wrong thing calls this different.
    a, b = _frames(0.0)
    res = compare(a, b, "ndcg@10")
    assert res.users == 300 and abs(res.difference) < 0.01
    assert res.t_pvalue > 0.05 and res.wilcoxon_pvalue > 0.05 and not res.significant
    assert res.ci_low < 0.0 < res.ci_high


def test_compare_uses_only_shared_users() -> None:
    a, b = _frames(0.05)
    assert compare(a.iloc[:100], b, "ndcg@10").users == 100


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small = rng.random(100)
    low, high, method = confidence_interval(small)
    assert method == "bootstrap" and low < small.mean() < high
    big = rng.random(MAX_BOOTSTRAP_USERS + 1)
    low2, high2, method2 = confidence_interval(big)
    assert method2 == "normal" and high2 - low2 < high - low
    means = bootstrap_means(np.array([1.0, np.nan, 3.0]), resamples=50)
    assert np.nanmin(means) >= 1.0 and np.nanmax(means) <= 3.0


def test_intervals_of_many_columns_equal_one_by_one() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((250, 4))
    values[::7, 3] = np.nan  # a column with missing values goes through its own users
    low, high, method = confidence_intervals(values, rng=5)
    assert method == "bootstrap"
    for col in range(4):
        one = confidence_interval(values[:, col], rng=5)
        assert (low[col], high[col]) == pytest.approx(one[:2], abs=1e-12)
    big = rng.random((MAX_BOOTSTRAP_USERS + 1, 2))
    low, high, method = confidence_intervals(big)
    assert method == "normal"
    assert (low[1], high[1]) == pytest.approx(confidence_interval(big[:, 1])[:2], abs=1e-12)
    assert confidence_intervals(np.zeros((1, 3)))[2] == "none"
    assert np.isnan(confidence_intervals(np.zeros((0, 2)))[0]).all()
