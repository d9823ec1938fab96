"""Content: planted catalogues with hand-derived cosines, new items scored from content alone,
the recommender contract, and a property on Online Retail's real catalogue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.models.content import Content, project_vectors
from tailor.models.registry import create_model
from tailor.testing import RecommenderContract
from tailor.testing.data import planted_frame

CATEGORY_ONLY = {"text_weight": 0.0, "price_weight": 0.0, "half_life_days": None}


def _frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "item_id": [i for _, i, _ in rows],
            "timestamp": pd.to_datetime([d for _, _, d in rows], unit="D"),
        }
    )


def _catalog(**columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": ["a", "b", "c", "d", "new"], **columns})


KNIT = ["knit", "knit", "cotton", "cotton", "knit"]


def test_category_profile_scores_by_hand() -> None:
    # A bought a twice and c once: profile (knit 2, cotton 1) / sqrt(5); unit one-hot items
    frame = _frame([("A", "a", 0), ("A", "a", 1), ("A", "c", 1), ("B", "d", 1)])
    data = Dataset.from_frame(frame, item_features=_catalog(category=KNIT))
    model = Content(**CATEGORY_ONLY).fit(data)
    scores = model.score(["A"] * 5, ["a", "b", "c", "d", "new"])
    knit, cotton = 2 / np.sqrt(5), 1 / np.sqrt(5)
    np.testing.assert_allclose(scores, [knit, knit, cotton, cotton, knit], rtol=1e-6)
    # the new item has no interaction at all and is listed from its category (tie: lower num)
    assert model.recommend(["A"], n=3).for_user("A") == ["b", "new", "d"]


def test_binary_counts_a_pair_once() -> None:
    frame = _frame([("A", "a", 0), ("A", "a", 1), ("A", "c", 1)])
    data = Dataset.from_frame(frame, item_features=_catalog(category=KNIT))
    scores = Content(**CATEGORY_ONLY, binary=True).fit(data).score(["A", "A"], ["b", "d"])
    np.testing.assert_allclose(scores, [1 / np.sqrt(2)] * 2, rtol=1e-6)


def test_recency_halves_an_older_interest() -> None:
    # knit one day before cotton, half-life one day: profile (0.5, 1) / sqrt(1.25)
    frame = _frame([("A", "a", 0), ("A", "c", 1)])
    data = Dataset.from_frame(frame, item_features=_catalog(category=KNIT))
    params = {**CATEGORY_ONLY, "half_life_days": 1.0}
    scores = Content(**params).fit(data).score(["A", "A"], ["b", "d"])
    np.testing.assert_allclose(scores, [0.5 / np.sqrt(1.25), 1 / np.sqrt(1.25)], rtol=1e-6)


def test_new_item_with_the_same_text_scores_one() -> None:
    titles = ["red wool scarf", "green silk tie", "blue cotton shirt", "tin can", "red wool scarf"]
    frame = _frame([("A", "a", 0), ("B", "b", 0), ("B", "c", 0), ("C", "d", 0)])
    data = Dataset.from_frame(frame, item_features=_catalog(title=titles))
    model = Content(min_df=1, ngram_max=1).fit(data)
    scores = model.score(["A"] * 4, ["new", "b", "c", "d"])
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.0, 0.0], atol=1e-6)
    assert "text:wool" in set(model.feature_names)


def test_score_history_matches_score_rows_and_checks_input() -> None:
    frame = _frame([("A", "a", 0), ("A", "a", 1), ("A", "c", 2)])
    data = Dataset.from_frame(frame, item_features=_catalog(category=KNIT))
    model = Content(category_weight=1.0, half_life_days=2.0).fit(data)
    u = model.users.number("A")
    np.testing.assert_allclose(
        model.score_history(*model.user_history(u)), model.score_rows(np.array([u]))[0], atol=1e-6
    )
    with pytest.raises(IndexError):
        model.score_history(np.array([99]))
    with pytest.raises(ValueError, match="weights"):
        model.score_history(np.array([0, 1]), np.array([1.0]))


def test_without_a_catalogue_every_score_is_no_evidence() -> None:
    model = Content().fit(planted_frame())
    assert model.item_vectors.shape[1] == 0
    assert not model.score_rows(np.arange(3)).any()
    assert Content.no_evidence_score == 0.0


def test_registered() -> None:
    assert isinstance(create_model("content", {"price_weight": 0.0}), Content)


def planted_catalog() -> pd.DataFrame:
    """The planted shop's items: group 0 woollens, group 1 kitchenware."""
    words = ["wool scarf", "wool hat", "wool gloves", "wool socks"]
    words += ["steel pan", "steel pot", "steel knife", "steel ladle"]
    return pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(8)],
            "title": words,
            "category": ["knit"] * 4 + ["kitchen"] * 4,
            "price": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )


class TestContentContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return Content(**kwargs)

    def data(self) -> Dataset:
        return Dataset.from_frame(planted_frame(), item_features=planted_catalog())

    def test_recommends_the_missing_item_of_the_own_group(self) -> None:
        model = self.fitted()
        for user in ("u0", "u7"):
            group = int(user[1:]) // 6
            top = model.recommend([user], n=1).for_user(user)[0]
            assert int(top[1:]) // 4 == group


def test_online_retail_new_items_are_scored_from_descriptions() -> None:
    """Real catalogue: items first sold in the last month score > 0 for most customers who
    bought one of them (their descriptions share words with earlier purchases)."""
    from tailor.data.sources.online_retail import BUNDLED

    raw = pd.read_parquet(BUNDLED, columns=["StockCode", "Description", "CustomerID",
                                            "InvoiceDate", "UnitPrice"])  # fmt: skip
    raw = raw[raw["CustomerID"].notna() & (raw["UnitPrice"] > 0)]
    raw = raw.assign(
        user_id=raw["CustomerID"].astype("int64").astype(str), item_id=raw["StockCode"]
    )
    cut = pd.Timestamp("2011-11-09")
    train, test = raw[raw["InvoiceDate"] < cut], raw[raw["InvoiceDate"] >= cut]
    catalog = raw.groupby("item_id", as_index=False).agg(
        title=("Description", "first"), price=("UnitPrice", "median")
    )
    frame = train.rename(columns={"InvoiceDate": "timestamp"})[["user_id", "item_id", "timestamp"]]
    model = Content().fit(Dataset.from_frame(frame, item_features=catalog))
    new_items = set(test["item_id"]) - set(train["item_id"])
    pairs = test[test["item_id"].isin(new_items) & test["user_id"].isin(set(train["user_id"]))]
    pairs = pairs[["user_id", "item_id"]].drop_duplicates()
    scores = model.score(pairs["user_id"].to_numpy(), pairs["item_id"].to_numpy())
    assert len(pairs) > 100 and np.isfinite(scores).all()
    assert (scores > 0).mean() > 0.8
    assert ((scores >= 0) & (scores <= 1 + 1e-6)).all()


def test_vectors_transfer_to_another_catalogue_by_feature_name() -> None:
    # shop A knows "wool", "scarf", "tin"; shop B's vocabulary is "wool", "hat", "scarf"
    frame_a = _frame([("A", "a", 0), ("B", "b", 0)])
    catalog_a = pd.DataFrame({"item_id": ["a", "b"], "title": ["wool scarf", "tin tin"]})
    model_a = Content(min_df=1, ngram_max=1).fit(
        Dataset.from_frame(frame_a, item_features=catalog_a)
    )
    target = np.array(["text:hat", "text:scarf", "text:wool"])
    moved = project_vectors(model_a.item_vectors, model_a.feature_names, target).toarray()
    # "wool scarf": two words with equal tf-idf -> 1/sqrt(2) each; "tin tin" has no match
    np.testing.assert_allclose(moved, [[0, 1 / np.sqrt(2), 1 / np.sqrt(2)], [0, 0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="names"):
        project_vectors(model_a.item_vectors, target[:1], target)
