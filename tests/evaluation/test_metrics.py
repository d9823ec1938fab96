"""Accuracy metrics on hand-computed planted cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailor.evaluation import metrics as m

L2 = math.log2


def test_ndcg_binary_by_hand() -> None:
    # relevant at positions 2 and 4 of a list; the user has 3 relevant items
    gains = np.array([[0.0, 1.0, 0.0, 1.0]])
    ideal = np.array([[1.0, 1.0, 1.0, 0.0]])
    dcg = 1 / L2(3) + 1 / L2(5)
    idcg = 1 + 1 / L2(3) + 1 / L2(4)
    assert m.ndcg(gains, ideal, 4)[0] == pytest.approx(dcg / idcg, abs=1e-12)
    # @2: only position 2 counts; the ideal has 2 relevant in the top 2
    assert m.ndcg(gains, ideal, 2)[0] == pytest.approx((1 / L2(3)) / (1 + 1 / L2(3)), abs=1e-12)


def test_ndcg_graded_linear_and_exponential() -> None:
    rel = np.array([[1.0, 0.0, 3.0]])
    ideal = np.array([[3.0, 2.0, 1.0]])
    lin = (1 + 3 / L2(4)) / (3 + 2 / L2(3) + 1 / L2(4))
    assert m.ndcg(rel, ideal, 3)[0] == pytest.approx(lin, abs=1e-12)
    g, gi = m.gain_values(rel, "exponential"), m.gain_values(ideal, "exponential")
    exp = (1 + 7 / L2(4)) / (7 + 3 / L2(3) + 1 / L2(4))
    assert m.ndcg(g, gi, 3)[0] == pytest.approx(exp, abs=1e-12)


def test_ndcg_perfect_list_and_empty_truth() -> None:
    assert m.ndcg(np.ones((1, 5)), np.ones((1, 5)), 5)[0] == pytest.approx(1.0)
    assert m.ndcg(np.zeros((1, 3)), np.zeros((1, 3)), 3)[0] == 0.0


def test_short_list_precision_divides_by_k() -> None:
    # a list of 2 items (padded with zero gain) with 1 hit: P@10 = 1/10, not 1/2
    hits = np.array([[1.0, 0.0] + [0.0] * 8])
    assert m.precision(hits, 10)[0] == pytest.approx(0.1)
    assert m.precision(hits, 1)[0] == pytest.approx(1.0)


def test_recall_hit_rate_rr() -> None:
    hits = np.array([[0, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1]], dtype=float)
    n_rel = np.array([4.0, 2.0, 2.0])
    assert m.recall(hits, n_rel, 5).tolist() == pytest.approx([0.5, 0.0, 1.0])
    assert m.recall(hits, n_rel, 3).tolist() == pytest.approx([0.25, 0.0, 0.5])
    assert m.hit_rate(hits, 2).tolist() == [0.0, 0.0, 1.0]
    assert m.hit_rate(hits, 3).tolist() == [1.0, 0.0, 1.0]
    assert m.reciprocal_rank(hits, 5).tolist() == pytest.approx([1 / 3, 0.0, 1.0])
    assert m.reciprocal_rank(hits, 2).tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_average_precision_both_denominators() -> None:
    hits = np.array([[1, 0, 1, 0]], dtype=float)
    n_rel = np.array([5.0])
    total = 1 / 1 + 2 / 3
    assert m.average_precision(hits, n_rel, 4, "min")[0] == pytest.approx(total / 4)
    assert m.average_precision(hits, n_rel, 4, "relevant")[0] == pytest.approx(total / 5)
    # with R <= K both agree
    few = np.array([2.0])
    assert m.average_precision(hits, few, 4, "min")[0] == pytest.approx(total / 2)
    assert m.average_precision(hits, few, 4, "relevant")[0] == pytest.approx(total / 2)


def test_no_recommendations_scores_zero_everywhere() -> None:
    zero = np.zeros((1, 10))
    n_rel = np.array([3.0])
    ideal = np.array([[1.0, 1.0, 1.0] + [0.0] * 7])
    assert m.ndcg(zero, ideal, 10)[0] == 0.0
    assert m.precision(zero, 10)[0] == 0.0
    assert m.recall(zero, n_rel, 10)[0] == 0.0
    assert m.average_precision(zero, n_rel, 10)[0] == 0.0
    assert m.reciprocal_rank(zero, 10)[0] == 0.0
    assert m.hit_rate(zero, 10)[0] == 0.0


def test_rmse_mae_by_hand() -> None:
    pred, true = np.array([3.0, 4.0, 1.0]), np.array([4.0, 4.0, 3.0])
    assert m.rmse(pred, true) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert m.mae(pred, true) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no ratings"):
        m.rmse(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="same length"):
        m.mae(pred, true[:2])


def test_accuracy_at_agrees_with_single_k_functions() -> None:
    rng = np.random.default_rng(5)
    rel = rng.integers(0, 3, size=(40, 15)).astype(float) * (rng.random((40, 15)) < 0.4)
    ideal = -np.sort(-np.concatenate([rel, np.ones((40, 3))], axis=1), axis=1)[:, :15]
    n_rel = (rel > 0).sum(1).astype(float) + 3
    hits = rel > 0
    for den in ("min", "relevant"):
        out = m.accuracy_at(rel, ideal, n_rel, [1, 4, 15, 20], den)  # type: ignore[arg-type]
        for k in (1, 4, 15, 20):
            np.testing.assert_allclose(out[f"ndcg@{k}"], m.ndcg(rel, ideal, k))
            np.testing.assert_allclose(out[f"precision@{k}"], m.precision(hits, k))
            np.testing.assert_allclose(out[f"recall@{k}"], m.recall(hits, n_rel, k))
            np.testing.assert_allclose(
                out[f"map@{k}"],
                m.average_precision(hits, n_rel, k, den),  # type: ignore[arg-type]
            )
            np.testing.assert_allclose(out[f"mrr@{k}"], m.reciprocal_rank(hits, k))
            np.testing.assert_allclose(out[f"hit_rate@{k}"], m.hit_rate(hits, k))
