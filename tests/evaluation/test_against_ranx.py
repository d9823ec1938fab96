"""Every ranking metric against ranx on randomised data, to 1e-9.

ranx's definitions (checked in its source, ranx/metrics/*.py, version 0.3.x): ``ndcg`` uses the
linear (Järvelin) gain, ``ndcg_burges`` the exponential one; relevance >= 1 is relevant
(``rel_lvl=1``); ``map@k`` divides by the number of relevant items R (tailor's
``map_denominator="relevant"``; tailor's default divides by min(R, K), checked here through the
identity AP_min = AP_R * R / min(R, K)); precision@k divides by k even for shorter lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from tailor.evaluation import evaluate

pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning")


def _random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_users, n_items = 60, 40
    recs, truth = [], []
    for u in range(n_users):
        length = int(rng.integers(0, 25))  # some users get no list, many shorter than K
        items = rng.choice(n_items, size=length, replace=False)
        scores = rng.permutation(length) + rng.random(length) * 0.5  # distinct
        recs += [(f"u{u}", f"i{i}", s) for i, s in zip(items, scores, strict=True)]
        n_rel = int(rng.integers(1, 15))
        rel_items = rng.choice(n_items, size=n_rel, replace=False)
        grades = rng.integers(1, 4, size=n_rel)
        truth += [(f"u{u}", f"i{i}", int(g)) for i, g in zip(rel_items, grades, strict=True)]
    return (
        pd.DataFrame(recs, columns=["user_id", "item_id", "score"]),
        pd.DataFrame(truth, columns=["user_id", "item_id", "relevance"]),
    )


def _ranx_scores(
    recs: pd.DataFrame, truth: pd.DataFrame, metric: str, users: list[str]
) -> np.ndarray:
    qrels = Qrels(
        {
            u: dict(zip(g.item_id, g.relevance.astype(int), strict=True))
            for u, g in truth.groupby("user_id")
        }
    )
    run_dict = {
        u: dict(zip(g.item_id, g.score.astype(float), strict=True))
        for u, g in recs.groupby("user_id")
    }
    with_recs = [u for u in users if u in run_dict]
    run = Run({u: run_dict[u] for u in with_recs})
    sub_qrels = Qrels({u: qrels.qrels[u] for u in with_recs})
    values = ranx_evaluate(sub_qrels, run, metric, return_mean=False, make_comparable=False)
    scores = dict(zip(run.keys(), np.atleast_1d(values), strict=True))  # ranx sorts by id
    return np.array([scores.get(u, 0.0) for u in users])  # no list scores 0 in both


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 10, 20])
def test_every_ranking_metric_matches_ranx(seed: int, k: int) -> None:
    recs, truth = _random_case(seed)
    ours = evaluate(
        recs, truth, k, map_denominator="relevant", segments=False, ci=False, curve_k=0
    ).per_user
    burges = evaluate(
        recs, truth, k, gain="exponential", segments=False, ci=False, curve_k=0
    ).per_user
    default = evaluate(recs, truth, k, segments=False, ci=False, curve_k=0).per_user
    users = ours["user_id"].tolist()
    pairs = {
        f"ndcg@{k}": (ours, f"ndcg@{k}"),
        f"ndcg_burges@{k}": (burges, f"ndcg@{k}"),
        f"precision@{k}": (ours, f"precision@{k}"),
        f"recall@{k}": (ours, f"recall@{k}"),
        f"map@{k}": (ours, f"map@{k}"),
        f"mrr@{k}": (ours, f"mrr@{k}"),
        f"hit_rate@{k}": (ours, f"hit_rate@{k}"),
    }
    for ranx_name, (frame, column) in pairs.items():
        expected = _ranx_scores(recs, truth, ranx_name, users)
        np.testing.assert_allclose(
            frame[column].to_numpy(), expected, atol=1e-9, rtol=0, err_msg=ranx_name
        )
    # tailor's default MAP divides by min(R, K) instead of R
    n_rel = default["n_relevant"].to_numpy(float)
    np.testing.assert_allclose(
        default[f"map@{k}"].to_numpy(),
        ours[f"map@{k}"].to_numpy() * n_rel / np.minimum(n_rel, k),
        atol=1e-9,
    )


def test_curves_match_ranx_at_every_k() -> None:
    recs, truth = _random_case(7)
    result = evaluate(
        recs, truth, 10, map_denominator="relevant", segments=False, ci=False, curve_k=30
    )
    users = result.per_user["user_id"].tolist()
    for k in (1, 3, 17, 30):
        row = result.curves.iloc[k - 1]
        for name in ("ndcg", "precision", "recall", "map", "mrr", "hit_rate"):
            expected = _ranx_scores(recs, truth, f"{name}@{k}", users).mean()
            assert row[name] == pytest.approx(expected, abs=1e-9), (name, k)
