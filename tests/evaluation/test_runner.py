"""evaluate(): the edge cases stated in the docs, segments, JSON keys, id handling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.errors import DataError
from tailor.evaluation import evaluate

L2 = math.log2


def _recs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "zz"],
            "item_id": ["x", "y", "z", "y", "w", "x", "x"],
            "rank": [1, 2, 3, 2, 1, 1, 1],
        }
    )


def _truth() -> pd.DataFrame:
    # a: y (twice: relevance 1 and 4 -> 4) and q; b: w; d: x (no list); e: only relevance 0
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "d", "a", "e"],
            "item_id": ["y", "q", "w", "x", "y", "x"],
            "relevance": [1, 2, 3, 1, 4, 0],
            "user_segment": ["warm", "warm", "warm", "cold", "warm", "warm"],
            "item_segment": ["warm", "cold", "cold", "warm", "warm", "warm"],
        }
    )


def test_planted_values_and_user_accounting() -> None:
    result = evaluate(_recs(), _truth(), (1, 3), ci=False, curve_k=0)
    met = result.metrics
    assert met["n_users"] == 3  # a, b, d; e has no relevant item; c and zz are not in truth
    assert met["n_users_without_relevant"] == 1
    per = result.per_user.set_index("user_id")
    assert per.loc["a", "ndcg@3"] == pytest.approx((4 / L2(3)) / (4 + 2 / L2(3)))
    assert per.loc["a", "map@3"] == pytest.approx(0.5 / 2)
    assert per.loc["b", "ndcg@1"] == 1.0
    assert per.loc["d", "n_recs"] == 0 and per.loc["d", "recall@3"] == 0.0  # counts with 0
    assert met["recall@3"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert met["precision@3"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert met["hit_rate@1"] == pytest.approx(1 / 3)
    assert met["coverage@3"] == pytest.approx(4 / 5)  # x, y, z, w of the 5 known items


def test_scores_give_ranks_and_ties_keep_file_order() -> None:
    by_rank = evaluate(_recs(), _truth(), 3, ci=False, curve_k=0).per_user
    by_score = evaluate(
        _recs().assign(score=lambda f: -f["rank"]).drop(columns="rank"),
        _truth(),
        3,
        ci=False,
        curve_k=0,
    ).per_user
    pd.testing.assert_frame_equal(by_rank, by_score)
    tied = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "score": [1.0, 1.0]})
    per = evaluate(tied, _truth(), 1, ci=False, curve_k=0, segments=False).per_user
    assert per.set_index("user_id").loc["a", "hit_rate@1"] == 0.0  # x (first in file) ranks 1


def test_rank_gaps_and_repeated_items() -> None:
    gappy = pd.DataFrame(
        {"user_id": ["a", "a", "a"], "item_id": ["y", "y", "q"], "rank": [3, 7, 9]}
    )
    per = evaluate(gappy, _truth(), 3, ci=False, curve_k=0, segments=False).per_user
    row = per.set_index("user_id").loc["a"]
    # positions 1, 2, 3 = y, y, q: the repeated y is relevant once
    assert row["precision@3"] == pytest.approx(2 / 3)
    assert row["recall@3"] == pytest.approx(1.0)


def test_segments_users_and_items() -> None:
    result = evaluate(_recs(), _truth(), 3, ci=False, curve_k=0)
    seg = result.metrics["segments"]
    assert seg["user:cold"]["users"] == 1 and seg["user:cold"]["recall@3"] == 0.0
    assert seg["user:warm"]["users"] == 2
    assert seg["user:warm"]["recall@3"] == pytest.approx((0.5 + 1) / 2)
    # cold items: a's q (not listed) and b's w (rank 1)
    assert seg["item:cold"]["users"] == 2
    assert seg["item:cold"]["recall@3"] == pytest.approx(0.5)
    assert seg["item:warm"]["users"] == 2  # a (y) and d (x)
    assert seg["item:warm"]["recall@3"] == pytest.approx(0.5)


def test_train_gives_activity_popularity_and_beyond_metrics() -> None:
    train = pd.DataFrame(
        {"user_id": ["a"] * 6 + ["b", "q"], "item_id": ["x"] * 5 + ["y", "y", "x"]}
    )
    result = evaluate(
        _recs(),
        _truth().drop(columns=["user_segment", "item_segment"]),
        3,
        train=train,
        ci=False,
        curve_k=0,
    )
    seg = result.metrics["segments"]
    assert seg["activity:0"]["users"] == 1  # d
    assert seg["activity:1-4"]["users"] == 1  # b
    assert seg["activity:5-19"]["users"] == 1  # a
    assert seg["user:cold"]["users"] == 1  # from train membership: d
    # x holds 6 of 8 training rows -> head; y starts at share 6/8 < 0.8 -> torso; q, w unseen
    assert seg["popularity:head"]["users"] == 1  # d (x)
    assert seg["popularity:torso"]["users"] == 1  # a (y)
    assert seg["popularity:tail"]["users"] == 2  # a (q), b (w)
    assert seg["popularity:tail"]["recall@3"] == pytest.approx(0.5)
    assert result.metrics["novelty@3"] > 0
    assert result.metrics["coverage@3"] == pytest.approx(1.0)  # catalogue = train items x, y


def test_confidence_intervals_and_json(tmp_path: Path) -> None:
    result = evaluate(_recs(), _truth(), (5, 10), curve_k=20)
    low, high = result.metrics["ci"]["ndcg@10"]
    assert low <= result.metrics["ndcg@10"] <= high
    result.to_json(tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    for key in (
        "ndcg@10",
        "precision@10",
        "recall@10",
        "map@10",
        "mrr@10",
        "hit_rate@10",
        "coverage@10",
        "n_users",
        "n_users_without_relevant",
        "segments",
        "ci",
    ):
        assert key in data
    assert len(result.curves) == 20
    assert result.curves.loc[9, "ndcg"] == pytest.approx(result.metrics["ndcg@10"])


def test_ids_as_numbers_categoricals_and_text_agree() -> None:
    recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10.0, 11.0, 10.0], "rank": [1, 2, 1]})
    truth = pd.DataFrame({"user_id": ["1", "2"], "item_id": ["11", "10"]})
    base = evaluate(recs, truth, 2, ci=False, curve_k=0).metrics
    assert base["recall@2"] == 1.0
    cat = recs.astype({"user_id": "category", "item_id": "category"})
    assert evaluate(cat, truth, 2, ci=False, curve_k=0).metrics["ndcg@2"] == base["ndcg@2"]


def test_bad_input_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match=r"column 'rank'.*row 2"):
        evaluate(_recs().assign(rank=[1, np.nan, 3, 1, 2, 1, 1]), _truth(), 3)
    with pytest.raises(DataError, match="'rank' or a 'score'"):
        evaluate(_recs().drop(columns="rank"), _truth(), 3)
    with pytest.raises(DataError, match="column 'item_id'"):
        evaluate(_recs(), _truth().drop(columns="item_id"), 3)
    with pytest.raises(ValueError, match="positive"):
        evaluate(_recs(), _truth(), 0)


# ---------------------------------------------------------------------------------------------
# issue 10: one definition of cold, natural order, intervals per segment, K beyond the lists
def _activity_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Training rows: a 6 (x), b 2 (y), c 25 (x), d 120 (z); e is new. Popularity: z 120 (head),
    x 31 (starts at 120/153 < 0.8: torso), y 2 (tail); item n never seen (cold, tail).
    Everyone gets the list z, x, y; truth: a y, b x, c n, d x, e z. The truth's tags say
    everything is warm, which the training data contradicts for e and n."""
    train = pd.DataFrame(
        {
            "user_id": ["a"] * 6 + ["b"] * 2 + ["c"] * 25 + ["d"] * 120,
            "item_id": ["x"] * 6 + ["y"] * 2 + ["x"] * 25 + ["z"] * 120,
        }
    )
    users = list("abcde")
    recs = pd.DataFrame(
        {"user_id": np.repeat(users, 3), "item_id": list("zxy") * 5, "rank": [1, 2, 3] * 5}
    )
    truth = pd.DataFrame(
        {
            "user_id": users,
            "item_id": ["y", "x", "n", "x", "z"],
            "user_segment": ["warm"] * 5,
            "item_segment": ["warm"] * 5,
        }
    )
    return recs, truth, train


def test_one_cold_definition_and_natural_segment_order() -> None:
    recs, truth, train = _activity_case()
    seg = evaluate(recs, truth, 3, train=train, curve_k=0).metrics["segments"]
    assert list(seg) == [
        "user:warm",
        "user:cold",
        "activity:0",
        "activity:1-4",
        "activity:5-19",
        "activity:20-99",
        "activity:100+",
        "item:warm",
        "item:cold",
        "popularity:head",
        "popularity:torso",
        "popularity:tail",
    ]
    # cold = no training interaction, whatever the truth's tags say: user:cold is activity:0
    assert seg["user:cold"]["users"] == seg["activity:0"]["users"] == 1  # e
    assert seg["user:cold"]["recall@3"] == seg["activity:0"]["recall@3"] == 1.0
    assert seg["user:warm"]["users"] == 4
    assert seg["user:warm"]["recall@3"] == pytest.approx(0.75)  # c's n is not listed
    assert seg["user:warm"]["ndcg@3"] == pytest.approx((1 / L2(4) + 2 / L2(3) + 0) / 4)
    assert [seg[f"activity:{b}"]["users"] for b in ("1-4", "5-19", "20-99", "100+")] == [1] * 4
    # item:cold is n (never seen), inside popularity:tail with y
    assert seg["item:cold"]["users"] == 1 and seg["item:cold"]["recall@3"] == 0.0
    assert seg["item:warm"]["users"] == 4 and seg["item:warm"]["recall@3"] == 1.0
    assert seg["popularity:head"]["users"] == 1  # e (z)
    assert seg["popularity:torso"]["users"] == 2  # b, d (x)
    assert seg["popularity:tail"]["users"] == 2  # a (y), c (n)
    assert seg["popularity:tail"]["recall@3"] == pytest.approx(0.5)
    # without training data the truth's split tags are the definition
    tagged = evaluate(recs, truth, 3, curve_k=0).metrics["segments"]
    assert list(tagged) == ["user:warm", "item:warm"]


def test_segments_carry_confidence_intervals() -> None:
    recs, truth, train = _activity_case()
    seg = evaluate(recs, truth, 3, train=train, curve_k=0).metrics["segments"]
    warm = seg["user:warm"]["ci"]
    assert warm["method"] == "bootstrap" and warm["level"] == 0.95
    low, high = warm["recall@3"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    tail_low, tail_high = seg["popularity:tail"]["ci"]["recall@3"]
    assert tail_low == 0.0 and tail_high == 1.0  # two users, 0 and 1
    assert all(math.isnan(v) for v in seg["user:cold"]["ci"]["recall@3"])  # one user: none
    no_ci = evaluate(recs, truth, 3, train=train, curve_k=0, ci=False).metrics
    assert "ci" not in no_ci and "ci" not in no_ci["segments"]["user:warm"]


def test_k_longer_than_every_list_is_marked_and_warned() -> None:
    recs, truth, train = _activity_case()
    metrics = evaluate(recs, truth, (1, 3, 5), train=train, curve_k=0, ci=False).metrics
    assert metrics["settings"]["longest_list"] == 3
    assert metrics["settings"]["k_beyond_lists"] == [5]
    assert metrics["warnings"] == [
        "K=5 is longer than the longest recommendation list (3 items): the @5 metrics are those "
        "of the 3-item lists (recall, NDCG, MAP, MRR and hit rate equal @3; precision divides "
        "by 5); recommend at least 5 items to measure @5"
    ]
    assert metrics["recall@5"] == metrics["recall@3"] == 0.8
    assert metrics["precision@5"] == pytest.approx(metrics["precision@3"] * 3 / 5)
    fine = evaluate(recs, truth, (1, 3), train=train, curve_k=0, ci=False).metrics
    assert fine["settings"]["k_beyond_lists"] == [] and fine["warnings"] == []
