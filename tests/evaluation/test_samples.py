"""Sample lists for the report: a few users' lists next to their truth, with titles."""

from __future__ import annotations

import math

import pandas as pd

from tailor.evaluation.samples import sample_lists


def test_sample_lists_exact() -> None:
    recs = pd.DataFrame(
        {
            "user_id": ["1", "1", "1", "2", "2"],
            "item_id": ["a", "b", "c", "c", "d"],
            "score": [0.5, 0.9, 0.1, 0.3, 0.8],  # 1: b, a, c; 2: d, c
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": ["1", "1", "2", "2"],
            "item_id": ["c", "z", "d", "e"],
            "relevance": [1, 2, 1, 0],  # e is not relevant
        }
    )
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["A", "B", "C", "D"]})
    samples = sample_lists(recs, truth, ["2", "1"], items=items, n_users=5, length=2)
    assert [s.user_id for s in samples] == ["1", "2"]
    one, two = samples
    assert one.recs.to_dict("list") == {
        "rank": [1, 2],
        "item_id": ["b", "a"],
        "title": ["B", "A"],
        "relevant": [False, False],
    }
    assert (one.n_recs, one.n_truth) == (3, 2)
    assert one.truth["item_id"].tolist() == ["c", "z"]  # c is listed (rank 3), z is not
    assert one.truth["title"].tolist() == ["C", ""]  # z is not in the catalogue
    assert one.truth["rank"].iloc[0] == 3 and math.isnan(one.truth["rank"].iloc[1])
    assert two.recs["relevant"].tolist() == [True, False]
    assert two.truth.to_dict("list") == {"item_id": ["d"], "title": ["D"], "rank": [1.0]}
    # seeded: the same users each time; fewer asked, fewer shown
    assert [s.user_id for s in sample_lists(recs, truth, ["1", "2"], n_users=1)] == [
        sample_lists(recs, truth, ["1", "2"], n_users=1)[0].user_id
    ]
    assert sample_lists(recs, truth, [], items=items) == []


def test_categorical_ids_give_the_same_samples() -> None:
    recs = pd.DataFrame({"user_id": ["1", "1", "2"], "item_id": ["a", "b", "a"], "rank": [1, 2, 1]})
    truth = pd.DataFrame({"user_id": ["1", "2"], "item_id": ["b", "c"]})
    plain = sample_lists(recs, truth, ["1", "2"])
    coded = sample_lists(recs.astype("category"), truth.astype("category"), ["1", "2"])
    for a, b in zip(plain, coded, strict=True):
        assert a.user_id == b.user_id and a.recs.equals(b.recs) and a.truth.equals(b.truth)
