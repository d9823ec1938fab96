"""Per-user top-N metrics and paired significance tests of the accuracy benchmark.

Definitions (binary relevance; ``R_u`` the user's relevant items, ``L_u`` the ranked list):

- NDCG@k = DCG@k / IDCG@k, DCG@k = sum over ranks r <= k of rel(r) / log2(r + 1), and IDCG@k the
  DCG of an ideal list with min(|R_u|, k) relevant items first.
- Recall@k = |L_u[:k] ∩ R_u| / |R_u|.
- Precision@k = |L_u[:k] ∩ R_u| / k (a list shorter than k still divides by k).
- Coverage@k = distinct items in all top-k lists / number of candidate items.

Every user of the truth frame counts; a user without recommendations scores 0. The benchmark
computes them with ``tailor.evaluation`` (:func:`evaluate`); :func:`per_user` is an independent
pandas version of the same definitions, used to cross-check it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

METRICS = ("ndcg@10", "recall@20", "precision@10")


def per_user(recs: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per-user NDCG@10, Recall@20, Precision@10 for every user in ``truth``, indexed by user_id."""
    n_rel = truth.groupby("user_id").size().rename("n_rel")
    hits = recs[recs["rank"] <= 20].merge(truth[["user_id", "item_id"]], on=["user_id", "item_id"])
    ranks = hits["rank"].to_numpy()
    hits = hits.assign(
        gain=np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0),
        top10=ranks <= 10,
    )
    agg = hits.groupby("user_id").agg(
        dcg=("gain", "sum"), h10=("top10", "sum"), h20=("rank", "size")
    )
    out = pd.DataFrame(n_rel).join(agg).fillna(0.0)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, 12)))
    idcg = discounts[np.minimum(out["n_rel"].to_numpy(), 10).astype(int) - 1]
    return pd.DataFrame(
        {
            "ndcg@10": out["dcg"].to_numpy() / idcg,
            "recall@20": out["h20"].to_numpy() / out["n_rel"].to_numpy(),
            "precision@10": out["h10"].to_numpy() / 10.0,
        },
        index=out.index,
    )


def coverage(recs: pd.DataFrame, n_candidates: int, k: int = 10) -> float:
    """Share of the candidate items that appear in at least one top-``k`` list."""
    return float(recs.loc[recs["rank"] <= k, "item_id"].nunique() / max(n_candidates, 1))


def evaluate(recs: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per-user metrics computed by ``tailor.evaluation`` (the same definitions as above).

    Falls back to :func:`per_user` when tailor's evaluation module is not importable.
    """
    try:
        from tailor.evaluation.lists import build_lists
        from tailor.evaluation.metrics import ndcg, precision, recall
    except ImportError:
        return per_user(recs, truth)
    lists = build_lists(recs, truth[["user_id", "item_id"]], 20)
    gains = lists.relevance_matrix()
    hits = gains > 0
    return pd.DataFrame(
        {
            "ndcg@10": ndcg(gains, lists.ideal(), 10),
            "recall@20": recall(hits, lists.truth.n_relevant(), 20),
            "precision@10": precision(hits, 10),
        },
        index=pd.Index(lists.user_ids.astype(str), name="user_id"),
    )


def summary(table: pd.DataFrame) -> dict[str, float]:
    """Means of the per-user metrics."""
    return {name: float(table[name].mean()) for name in METRICS}


def paired_tests(ours: pd.Series, theirs: pd.Series) -> dict[str, Any]:
    """Paired t-test and Wilcoxon signed-rank test of per-user scores (same users, same order).

    Returns the means, the relative improvement of ``ours`` over ``theirs`` and both p-values
    (two-sided).
    """
    a, b = ours.align(theirs, join="inner")
    diff = a.to_numpy() - b.to_numpy()
    t = stats.ttest_rel(a.to_numpy(), b.to_numpy())
    nonzero = diff[diff != 0]
    w = stats.wilcoxon(nonzero) if len(nonzero) else None
    return {
        "users": len(diff),
        "ours": float(a.mean()),
        "theirs": float(b.mean()),
        "relative_gain": float(a.mean() / b.mean() - 1.0) if b.mean() > 0 else float("inf"),
        "t_pvalue": float(t.pvalue),
        "wilcoxon_pvalue": float(w.pvalue) if w is not None else 1.0,
    }
