"""evaluate_model: recommend for the test users of a split, with and without a fallback."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.data.split import Split
from tailor.evaluation import evaluate_model
from tailor.models import Popularity


def _split() -> Split:
    train = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3"],
            "item_id": ["a", "b", "a", "c", "a"],
            "timestamp": pd.to_datetime([1, 2, 3, 4, 5], unit="D"),
        }
    )
    test = pd.DataFrame(
        {
            "user_id": ["u1", "u3", "new"],
            "item_id": ["c", "b", "a"],
            "timestamp": pd.to_datetime([9, 9, 9], unit="D"),
            "user_segment": ["warm", "warm", "cold"],
            "item_segment": ["warm", "warm", "warm"],
        }
    )
    return Split(train=train, validation=None, test=test)


def test_unknown_users_count_zero_without_fallback() -> None:
    split = _split()
    model = Popularity().fit(Dataset.from_frame(split.train))
    # popularity: a (3 users), then b and c (1 each; b first by column order)
    result = evaluate_model(model, split, k=(1, 2), n=2)
    per = result.per_user.set_index("user_id")
    assert per.loc["u1", "hit_rate@1"] == 1.0  # u1 saw a and b, so c comes first
    assert per.loc["u3", "hit_rate@1"] == 1.0  # u3 saw a -> b first
    assert per.loc["new", "n_recs"] == 0 and per.loc["new", "recall@2"] == 0.0
    assert result.metrics["segments"]["user:cold"]["recall@2"] == 0.0
    assert result.metrics["recall@2"] == pytest.approx(2 / 3)


def test_fallback_answers_unknown_users() -> None:
    split = _split()
    model = Popularity().fit(Dataset.from_frame(split.train))
    result = evaluate_model(model, split, k=(1,), n=2, fallback=model)
    per = result.per_user.set_index("user_id")
    assert per.loc["new", "n_recs"] == 2 and per.loc["new", "hit_rate@1"] == 1.0  # top item a
    assert result.metrics["segments"]["user:cold"]["hit_rate@1"] == 1.0


def test_truth_filter_restricts_relevant_rows() -> None:
    split = _split()
    model = Popularity().fit(Dataset.from_frame(split.train))
    result = evaluate_model(
        model, split, k=(1,), n=2, truth_filter=lambda t: t[t["user_id"] != "new"]
    )
    assert result.metrics["n_users"] == 2
