"""``Pipeline.explain``: structured explanations of the lists the pipeline gives, from the
history each list was scored with; the explained scores are the listed ones."""

from __future__ import annotations

from typing import Any

import pytest

from tailor.data.dataset import Dataset
from tailor.models import ALS, EASE, ItemKNN, Popularity
from tailor.models.recency_ease import RecencyEASE
from tailor.pipeline import Pipeline, Query
from tailor.testing import planted_frame
from tailor.testing.serving import CATALOG

# planted_frame(): u0-u5 like i0-i3, u6-u11 like i4-i7; u0 bought i0 i2 i3 (not i1)


def _pipeline(model: Any) -> Pipeline:
    data = Dataset.from_frame(planted_frame(), items=CATALOG)
    return Pipeline.build(model.fit(data), Popularity().fit(data), catalog=CATALOG)


@pytest.mark.parametrize("model", [EASE(), ItemKNN(), RecencyEASE()], ids=lambda m: m.name)
def test_a_users_list_is_explained_by_their_own_purchases(model: Any) -> None:
    pipeline = _pipeline(model)
    answer = pipeline.recommend_user("u0", Query(n=3, exclude_seen=False))
    explained = pipeline.explain("u0", answer.items, top=5)
    assert len(explained) == 3
    for (item, score), e in zip(answer.items, explained, strict=True):
        assert e is not None and e.kind == "items"
        assert e.score == pytest.approx(score, rel=1e-5, abs=1e-6)
        assert {name for name, _ in e.contributions} <= {"i0", "i2", "i3"}
        assert e.item_num == pipeline.model.items.number(item)


def test_a_session_list_is_explained_by_the_session_items() -> None:
    pipeline = _pipeline(EASE())
    answer = pipeline.recommend_history("s1", ["i5", "i6"], Query(n=3))
    explained = pipeline.explain("s1", answer.items, context_ids=["i5", "i6", "unknown"])
    for (_, score), e in zip(answer.items, explained, strict=True):
        assert e is not None and e.score == pytest.approx(score, rel=1e-5, abs=1e-6)
        assert {name for name, _ in e.contributions} <= {"i5", "i6"}


def test_a_known_users_context_adds_to_their_own_history() -> None:
    pipeline = _pipeline(ItemKNN())
    answer = pipeline.recommend_history("u0", ["i5"], Query(n=4))
    explained = pipeline.explain("u0", answer.items, context_ids=["i5"], top=10)
    for (_, score), e in zip(answer.items, explained, strict=True):
        assert e is not None and e.score == pytest.approx(score, rel=1e-5, abs=1e-6)
    names = {name for e in explained if e is not None for name, _ in e.contributions}
    assert "i5" in names and names <= {"i0", "i2", "i3", "i5"}


def test_factor_models_explain_the_folded_in_score() -> None:
    pipeline = _pipeline(ALS(factors=4, iterations=3, seed=0))
    answer = pipeline.recommend_history("s1", ["i5"], Query(n=3))
    explained = pipeline.explain("s1", answer.items, context_ids=["i5"])
    for (_, score), e in zip(answer.items, explained, strict=True):
        assert e is not None and e.contributions[0][0] == "i5"
        assert e.score == pytest.approx(score, rel=1e-4, abs=1e-6)


def test_a_factor_models_user_list_is_explained_at_its_listed_score() -> None:
    pipeline = _pipeline(ALS(factors=4, iterations=3, seed=0))
    answer = pipeline.recommend_user("u0", Query(n=3))
    for (_, score), e in zip(answer.items, pipeline.explain("u0", answer.items), strict=True):
        assert e is not None and e.score == pytest.approx(score, rel=1e-5, abs=1e-6)
        assert {name for name, _ in e.contributions} <= {"i0", "i2", "i3"}


def test_nothing_explains_popular_answers_or_a_popularity_model() -> None:
    pipeline = _pipeline(EASE())
    cold = pipeline.recommend_user("stranger", Query(n=3))
    assert pipeline.explain("stranger", cold.items) == [None, None, None]
    assert pipeline.explain("u0", [("not-an-item", 1.0)]) == [None]
    popularity = _pipeline(Popularity())
    listed = popularity.recommend_user("u0", Query(n=2)).items
    assert popularity.explain("u0", listed) == [None, None]
    assert Pipeline().explain("u0", [("i0", 1.0)]) == [None]


def test_items_a_feature_model_refuses_are_left_unexplained() -> None:
    """A model's own explain may refuse items it does not score (a ranker's non-candidates,
    filled in from the popular list): those get None, the others their explanation."""
    from tailor.data.vocab import Vocabulary
    from tailor.models import Explanation
    from tailor.pipeline.explanations import explain_items

    class Ranker:
        name = "ranker"
        items = Vocabulary(["a", "b", "c"])

        def explain(self, user_num: int, item_nums: Any, top: int = 3) -> list[Explanation]:
            if 2 in list(item_nums):
                raise ValueError("items ['c'] are not candidates")
            return [Explanation(int(i), 0.5, (("f", 1.0),), "shap", 1.5) for i in item_nums]

    explained = explain_items(Ranker(), 0, ["b", "c", "a"])  # type: ignore[arg-type]
    assert [None if e is None else e.item_num for e in explained] == [1, None, 0]
