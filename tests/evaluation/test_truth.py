from __future__ import annotations

import pandas as pd

from tailor.evaluation.truth import unseen_only


def test_unseen_only_keeps_first_row_of_each_new_pair() -> None:
    test = pd.DataFrame(
        {"user_id": ["1", "1", "2", "1", "2"], "item_id": ["a", "b", "a", "b", "c"], "x": range(5)}
    )
    history = pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "c"]})
    out = unseen_only(test, history)
    assert out.values.tolist() == [["1", "b", 1], ["2", "a", 2]]


def test_unseen_only_with_empty_history_dedupes_pairs() -> None:
    test = pd.DataFrame({"user_id": ["1", "1"], "item_id": ["a", "a"]})
    empty = pd.DataFrame({"user_id": pd.Series([], dtype=str), "item_id": pd.Series([], dtype=str)})
    assert unseen_only(test, empty).values.tolist() == [["1", "a"]]
