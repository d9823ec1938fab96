"""Beyond-accuracy metrics on hand-computed planted cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tailor.evaluation import beyond

# three users' lists over items 0..4; -1 = shorter list
LISTS = np.array([[0, 1, 2], [1, 3, -1], [-1, -1, -1]])


def test_coverage_counts_catalogue_items_only() -> None:
    catalog = np.array([True, True, True, True, True, False])
    assert beyond.catalog_coverage(LISTS, 3, catalog) == pytest.approx(4 / 5)
    assert beyond.catalog_coverage(LISTS, 1, catalog) == pytest.approx(2 / 5)
    assert beyond.catalog_coverage(LISTS, 3, np.zeros(6, bool)) == 0.0


def test_gini_by_hand() -> None:
    # exposure@3 over 5 catalogue items: [1, 2, 1, 1, 0] -> sorted 0,1,1,1,2
    catalog = np.ones(5, bool)
    expected = (-4 * 0 - 2 * 1 + 0 * 1 + 2 * 1 + 4 * 2) / (5 * 5)
    assert beyond.exposure_gini(LISTS, 3, catalog) == pytest.approx(expected)
    assert beyond.gini(np.array([3.0, 3.0, 3.0])) == 0.0
    assert beyond.gini(np.array([0.0, 0.0, 6.0])) == pytest.approx(2 / 3)
    assert beyond.gini(np.zeros(4)) == 0.0


def test_novelty_and_average_popularity() -> None:
    popularity = np.array([4.0, 2.0, 1.0, 0.0, 8.0])  # training users per item, of 8 users
    info = beyond.self_information(popularity, 8)
    assert info.tolist() == pytest.approx([1.0, 2.0, 3.0, 3.0, 0.0])  # unseen counts as once
    nov = beyond.novelty(LISTS, 3, info)
    assert nov[:2].tolist() == pytest.approx([(1 + 2 + 3) / 3, (2 + 3) / 2])
    assert math.isnan(nov[2])  # no recommendations: undefined, excluded from the mean
    arp = beyond.average_popularity(LISTS, 2, popularity)
    assert arp[:2].tolist() == pytest.approx([3.0, 1.0])


def test_intra_list_diversity_from_one_hot_and_multi_valued_features() -> None:
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "genres": ["x|y", "x", "z", None]})
    feats = beyond.feature_matrix(
        items, np.array(["a", "b", "c", "d", "e"], dtype=object), ["genres"]
    )
    # cos(a,b) = 1/sqrt(2), cos(a,c) = cos(b,c) = 0; d and e have no features
    lists = np.array([[0, 1, 2], [0, 1, -1], [2, 3, 4], [0, 0, -1]])
    ild = beyond.intra_list_diversity(lists, 3, feats)
    assert ild[0] == pytest.approx(1 - (1 / math.sqrt(2)) / 3)
    assert ild[1] == pytest.approx(1 - 1 / math.sqrt(2))
    assert math.isnan(ild[2])  # only one item with features
    assert ild[3] == pytest.approx(0.0)  # the same item twice is fully similar
