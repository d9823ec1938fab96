"""Segment labels: one definition of cold, ties, natural order."""

from __future__ import annotations

import numpy as np

from tailor.data import segments as data_segments
from tailor.evaluation import segments
from tailor.evaluation.segments import popularity_buckets, segment_sort_key, warm_cold


def test_warm_and_cold_are_the_data_packages() -> None:
    assert (segments.WARM, segments.COLD) == (data_segments.WARM, data_segments.COLD)
    ids = np.array(["a", "b", "c"], dtype=object)
    assert warm_cold(ids, np.array(["b", "z"])).tolist() == ["cold", "warm", "cold"]


def test_tied_items_share_a_popularity_label() -> None:
    # four items of 5 interactions: none is more popular than another, so all start at share 0
    assert popularity_buckets(np.array([5, 5, 5, 5, 1.0])).tolist() == ["head"] * 4 + ["tail"]
    # 10, 6, 6, 3, 0: starts 0, 10/25, 10/25, 22/25 -> head, torso, torso, tail; unseen tail
    labels = popularity_buckets(np.array([10, 6, 6, 3, 0.0]))
    assert labels.tolist() == ["head", "torso", "torso", "tail", "tail"]
    # the order of the input does not change an item's label
    assert popularity_buckets(np.array([3, 6, 0, 10, 6.0])).tolist() == [
        "tail",
        "torso",
        "tail",
        "head",
        "torso",
    ]


def test_natural_order() -> None:
    names = [
        "popularity:tail",
        "activity:100+",
        "item:cold",
        "activity:5-19",
        "user:cold",
        "activity:0",
        "popularity:head",
        "activity:20-99",
        "user:warm",
        "activity:1-4",
        "item:warm",
        "popularity:torso",
    ]
    assert sorted(names, key=segment_sort_key) == [
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
