"""Properties on MovieLens 100K: Popularity's lists, evaluated by tailor and by ranx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from tailor.data.dataset import Dataset
from tailor.evaluation import evaluate
from tailor.models import Popularity

ML100K = Path(__file__).resolve().parents[2] / "../shared/data/ml-100k"
pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning")


def test_popularity_on_ml100k_matches_ranx_and_curves_are_consistent(
    require: Callable[[bool, str], None],
) -> None:
    require((ML100K / "u.data").exists(), f"{ML100K} (MovieLens 100K) is not available")
    ratings = pd.read_csv(
        ML100K / "u.data",
        sep="\t",
        names=["user_id", "item_id", "value", "t"],
        dtype={"user_id": str, "item_id": str},
    )
    ratings = ratings.sort_values(["user_id", "t"], kind="stable")
    last = ratings.groupby("user_id").cumcount(ascending=False) < 5  # last 5 ratings to test
    train, test = ratings[~last], ratings[last]
    model = Popularity().fit(Dataset.from_frame(train))
    recs = model.recommend(test["user_id"].unique(), 50).to_frame()
    truth = test.assign(relevance=(test["value"] >= 4).astype(int))
    result = evaluate(recs, truth, (10, 50), train=train, map_denominator="relevant", curve_k=50)
    met = result.metrics
    assert met["n_users"] + met["n_users_without_relevant"] == test["user_id"].nunique() == 943
    qrels = Qrels(
        {
            u: dict(zip(g.item_id, g.relevance, strict=True))
            for u, g in truth[truth.relevance > 0].groupby("user_id")
        }
    )
    run = Run(
        {
            u: dict(zip(g.item_id, -g["rank"].astype(float), strict=True))
            for u, g in recs[recs.user_id.isin(qrels.keys())].groupby("user_id")
        }
    )
    for name in ("ndcg@10", "recall@50", "map@10", "mrr@10", "precision@10"):
        assert met[name] == pytest.approx(ranx_evaluate(qrels, run, name), abs=1e-9), name
    curves = result.curves
    assert (np.diff(curves["recall"]) >= -1e-12).all() and (np.diff(curves["hit_rate"]) >= 0).all()
    assert curves.loc[9, "ndcg"] == pytest.approx(met["ndcg@10"], abs=1e-12)
    # popularity concentrates exposure: high Gini, low coverage, and head items dominate hits
    assert met["gini@10"] > 0.9 and met["coverage@10"] < 0.2
    seg = met["segments"]
    assert seg["popularity:head"]["recall@10"] > seg["popularity:tail"]["recall@10"]
