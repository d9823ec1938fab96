"""SHAP explanations of the feature models through the capability, the pipeline and the report:
each explanation's values sum to the prediction minus the base value, and the prediction is the
score the model lists (issue 14's done criterion, for every SupportsExplain model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tailor.data.dataset import Dataset
from tailor.evaluation.importance import global_importance
from tailor.models import Popularity, SupportsExplain, create_model
from tailor.pipeline import Pipeline, Query
from tailor.testing import planted_frame

EVERY = 10_000
FEATURE_MODELS = {
    "ranker": {
        "label_days": 10.0,
        "label_windows": 1,
        "min_data_in_leaf": 1,
        "max_rounds": 30,
        "submodels": {"als": {"factors": 2, "regularization": 0.1, "iterations": 10}},
        "seed": 0,
    },
    "wide-deep": {"embedding_size": 8, "hidden": [16], "epochs": 3, "batch_size": 8, "seed": 0},
}


@pytest.fixture(scope="module", params=sorted(FEATURE_MODELS))
def fitted(request: pytest.FixtureRequest) -> Iterator[Any]:
    pytest.importorskip("shap")
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster on a shared machine
    name = request.param
    yield create_model(name, FEATURE_MODELS[name]).fit(Dataset.from_frame(planted_frame()))
    torch.set_num_threads(before)


def test_shap_values_sum_to_the_prediction_minus_the_base_value(fitted: Any) -> None:
    assert isinstance(fitted, SupportsExplain)
    rows = fitted.score_rows(np.arange(len(fitted.users)))
    for user in (0, 7):
        items = np.flatnonzero(np.isfinite(rows[user]))[:5]
        for e in fitted.explain(user, items, top=EVERY):
            assert e.kind == "shap"
            values = sum(value for _, value in e.contributions)
            assert values == pytest.approx(e.score - e.base_value, abs=1e-5)
            assert e.score == pytest.approx(float(rows[user, e.item_num]), abs=1e-4)


def test_the_pipeline_explains_a_served_list_with_shap(fitted: Any) -> None:
    data = Dataset.from_frame(planted_frame())
    pipeline = Pipeline.build(fitted, Popularity().fit(data))
    listed = pipeline.recommend_user("u0", Query(n=3))
    explained = pipeline.explain("u0", listed.items, top=EVERY)
    model_items = len(listed.items) - listed.backfilled
    for (_, score), e in zip(listed.items[:model_items], explained, strict=False):
        assert e is not None and e.kind == "shap"
        assert e.score == pytest.approx(score, abs=1e-4)
        assert e.base_value + sum(v for _, v in e.contributions) == pytest.approx(e.score)


def test_report_importances_are_mean_absolute_shap_per_feature(fitted: Any) -> None:
    users = ["u0", "u7"]  # a few: DeepExplainer is slow on a shared machine
    importance = global_importance(fitted, users, n=2)
    assert importance is not None and importance.kind == "shap"
    by_hand: dict[str, float] = {}
    pairs = 0
    listed = fitted.recommend(users, 2)
    for user, group in listed.groupby("user_id", sort=False):
        nums = fitted.items.numbers(group["item_id"].tolist())
        for e in fitted.explain(fitted.users.number(user), np.asarray(nums), EVERY):
            pairs += 1
            for name, value in e.contributions:
                by_hand[name] = by_hand.get(name, 0.0) + abs(value)
    assert importance.n_pairs == pairs
    table = importance.table.set_index("name")["mean_abs"]
    for name, total in by_hand.items():
        if name in table.index:
            assert table[name] == pytest.approx(total / pairs)
    assert table.is_monotonic_decreasing
