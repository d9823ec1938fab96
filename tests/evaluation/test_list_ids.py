"""Evaluation joins recommendations to truth by the one id rule (tailor.data.ids)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.errors import DataError
from tailor.evaluation import evaluate
from tailor.evaluation.lists import build_lists, id_codes


@pytest.mark.parametrize(
    ("values", "codes", "ids"),
    [
        # float ids (a column with blanks reads as float64) and their text lose the .0
        ([17850.0, 12.0, 17850.0], [0, 1, 0], ["17850", "12"]),
        (
            ["17850.0", " 17850", "17850", "0042", "85123A"],
            [0, 1, 2, 3, 4],
            ["17850", "17850", "17850", "0042", "85123A"],
        ),
        (["a", " ", "b"], [0, -1, 2], ["a", None, "b"]),  # blank: missing
        ([3, 4, 3], [0, 1, 0], ["3", "4"]),
    ],
)
def test_id_codes_follow_the_one_id_rule(
    values: list[object], codes: list[int], ids: list[str | None]
) -> None:
    got_codes, got_ids = id_codes(pd.Series(values))
    assert got_codes.tolist() == codes
    assert got_ids.tolist() == ids


def test_categorical_ids_follow_the_rule_too() -> None:
    column = pd.Series(["17850.0", "b", "17850.0", " "]).astype("category")
    codes, ids = id_codes(column)
    assert ids.tolist() == [None, "17850", "b"]  # categories sorted: " ", "17850.0", "b"
    assert codes.tolist() == [1, 2, 1, -1]


def test_text_17850_0_in_recs_matches_17850_in_truth() -> None:
    recs = pd.DataFrame(
        {
            "user_id": ["17850.0", "17850.0", "42"],
            "item_id": ["85123.0", " 71053", "85123"],
            "rank": [1, 2, 1],
        }
    )
    truth = pd.DataFrame({"user_id": [17850.0, 42.0], "item_id": ["71053", "85123.0"]})
    lists = build_lists(recs, truth, 2)
    assert lists.user_ids.tolist() == ["17850", "42"]
    named = [[lists.item_ids[c] if c >= 0 else None for c in row] for row in lists.lists]
    assert named == [["85123", "71053"], ["85123", None]]
    assert lists.matches.tolist() == [[-1, 0], [1, -1]]
    metrics = evaluate(recs, truth, (1, 2), ci=False, curve_k=0).metrics
    assert metrics["recall@2"] == 1.0
    assert metrics["hit_rate@1"] == 0.5  # 17850's first item is not in its truth


def test_blank_and_fractional_ids_name_file_column_and_row() -> None:
    recs = pd.DataFrame({"user_id": ["a", "a", " "], "item_id": ["x", "y", "x"], "rank": [1, 2, 1]})
    truth = pd.DataFrame({"user_id": ["a"], "item_id": ["x"]})
    with pytest.raises(DataError, match=r"file recommendations, column 'user_id', row 3: id is"):
        build_lists(recs, truth, 2)
    truth = pd.DataFrame({"user_id": [1.0, 2.0, 2.0, 2.5], "item_id": ["x"] * 4})
    with pytest.raises(
        DataError, match=r"file truth, column 'user_id', row 4: id 2.5 is not a whole number"
    ):
        build_lists(recs.iloc[:2], truth, 2)
    catalogue = np.array(["x", " ", "7.0"], dtype=object)  # a blank catalogue id is skipped
    lists = build_lists(recs.iloc[:2], pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}), 2,
                        extra_items=[catalogue])  # fmt: skip
    assert lists.item_ids.tolist() == ["x", "y", "7"]


def test_ranks_scores_and_relevance_must_be_finite_numbers() -> None:
    truth = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "grade": [1, "high"]})
    recs = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "score": [0.5, np.inf]})
    with pytest.raises(
        DataError, match=r"^file recommendations, column 'score', row 2: value inf is not a"
    ):
        build_lists(recs, truth, 2)
    recs = recs.assign(score=[0.5, "0.25"])  # numeric text is a number
    with pytest.raises(
        DataError, match=r"^file truth, column 'grade', row 2: relevance 'high' is not a finite"
    ):
        build_lists(recs, truth, 2, relevance="grade")
    lists = build_lists(recs, truth.assign(grade=[1, "3"]), 2, relevance="grade")
    assert lists.truth.relevance.tolist() == [1.0, 3.0]
    assert lists.relevance_matrix().tolist() == [[1.0, 3.0]]
