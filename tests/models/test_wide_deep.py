"""Wide & Deep: the contract, planted answers (taste groups, category preference, content cold
start), ONNX vs torch eager, SHAP additivity and fold-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from tailor.data.dataset import Dataset  # noqa: E402
from tailor.models import FitOptions  # noqa: E402
from tailor.models.explain import SupportsExplain  # noqa: E402
from tailor.models.wide_deep import WideDeep  # noqa: E402
from tailor.testing import RecommenderContract, planted_frame  # noqa: E402

SMALL: dict[str, Any] = {"embedding_size": 8, "hidden": (16,), "epochs": 25, "batch_size": 8,
         "learning_rate": 0.03, "negatives": 4, "dropout": 0.2, "fold_in_epochs": 10}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # tiny tensors: one thread is faster than two fighting over a shared machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestWideDeepContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return WideDeep(**{**SMALL, **kwargs})


# ---- a planted shop with side features ------------------------------------------------------
def shop() -> Dataset:
    """Garden buyers a0..a7 each bought three of the five garden items g0..g4; kitchen buyers
    b0..b7 three of the kitchen items k0..k4 (rotating, so every item is bought). Countries
    alternate UK, FR in both groups: a user's taste is in their history, not their country.
    The catalogue also holds g-new (garden) and k-new (kitchen), bought by nobody: only their
    category, price and title tell them apart."""
    rows = []
    for group, prefix in (("a", "g"), ("b", "k")):
        for u in range(8):
            rows += [(f"{group}{u}", f"{prefix}{(u + j) % 5}", 1.0) for j in range(3)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "value"])
    items = pd.DataFrame(
        {
            "item_id": [*(f"g{i}" for i in range(5)), *(f"k{i}" for i in range(5)),
                        "g-new", "k-new"],
            "category": ["garden"] * 5 + ["kitchen"] * 5 + ["garden", "kitchen"],
            "price": [2.0, 3.0, 4.0, 5.0, 6.0, 20.0, 21.0, 22.0, 23.0, 24.0, 4.5, 22.5],
            "title": [*(f"garden tool {w}" for w in "abcde"),
                      *(f"kitchen mug {w}" for w in "abcde"), "garden trowel", "kitchen bowl"],
        }
    )  # fmt: skip
    users = pd.DataFrame({"user_id": [f"{g}{u}" for g in "ab" for u in range(8)],
                          "country": ["UK", "FR"] * 8})  # fmt: skip
    return Dataset.from_frame(frame, item_features=items, user_features=users)


def _scores(model: WideDeep, user: str, items: list[str]) -> np.ndarray:
    return model.score([user] * len(items), items)


@pytest.fixture(scope="module")
def fitted_shop() -> WideDeep:
    return WideDeep(**{**SMALL, "epochs": 30}, seed=5).fit(shop())


def test_planted_taste_groups_get_their_missing_item() -> None:
    # each user of planted_frame has seen three of their group's four items: the fourth first
    model = WideDeep(**{**SMALL, "epochs": 60, "batch_size": 4}, seed=3).fit(planted_frame())
    users = [f"u{k}" for k in range(12)]
    top = model.recommend(users, n=1)
    for k, user in enumerate(users):
        group = 0 if k < 6 else 4
        assert top.for_user(user) == [f"i{group + 1 + k % 3}"]


def test_side_features_are_encoded(fitted_shop: WideDeep) -> None:
    model = fitted_shop
    # fields: country (user), category, price bucket (item); code 0 = missing
    assert model.code_names[: model.field_cards[0]].tolist() == ["", "UK", "FR"]
    g_new, k_new = model.items.numbers(["g-new", "k-new"])
    assert model.item_codes[g_new, 0] == 1 and model.item_codes[k_new, 0] == 2
    assert model.item_codes[g_new, 1] < model.item_codes[k_new, 1]  # cheaper bucket
    assert set(model.text_vocab) >= {"garden", "kitchen", "trowel", "bowl"}
    assert model.item_emb[g_new].tolist() == [0.0] * 8  # never trained: content only


def test_new_items_are_ranked_by_their_category(fitted_shop: WideDeep) -> None:
    model = fitted_shop
    for k in range(8):
        garden = _scores(model, f"a{k}", ["g-new", "k-new"])
        kitchen = _scores(model, f"b{k}", ["g-new", "k-new"])
        assert garden[0] > garden[1] and kitchen[1] > kitchen[0]
    assert model.recommend(["a0"], n=3).for_user("a0")[:3].count("k-new") == 0


def test_items_folded_in_take_their_content(fitted_shop: WideDeep) -> None:
    model = WideDeep(**{**SMALL, "epochs": 30}, seed=5).fit(shop())
    before = model.score_rows(np.arange(len(model.users)))
    batch = pd.DataFrame({"user_id": ["c0", "c0"], "item_id": ["g1", "g-late"], "value": 1.0})
    late = pd.DataFrame(
        {"item_id": ["g-late", "k-late"], "category": ["garden", "kitchen"],
         "price": [3.5, 21.5], "title": ["garden rake", "kitchen pan"]}
    )  # fmt: skip
    model.partial_fit(batch, item_features=late)
    assert "k-late" not in model.items  # joins only through an interaction
    g_late = model.items.number("g-late")
    assert model.item_codes[g_late].tolist() == model.item_codes[model.items.number("g2")].tolist()
    terms = model.text_vocab[model.item_text[[g_late]].indices]
    assert terms.tolist() == ["garden"]  # "rake" is not in the fitted vocabulary
    after = model.score_rows(np.arange(len(before)))
    np.testing.assert_array_equal(after[:, : before.shape[1]], before)
    garden_users = [model.users.number(f"a{k}") for k in range(8)]
    kitchen_users = [model.users.number(f"b{k}") for k in range(8)]
    assert after[garden_users, g_late].mean() > after[kitchen_users, g_late].mean()
    newbie = model.recommend(["c0"], n=4).for_user("c0")
    assert sum(item.startswith("g") for item in newbie) >= 3  # the garden buyer's fold-in


# ---- inference, explanations ---------------------------------------------------------------
def test_onnx_scores_equal_torch_eager(fitted_shop: WideDeep) -> None:
    model = fitted_shop
    assert model.inference == "onnx"
    users = np.arange(len(model.users))
    onnx = model.score_rows(users)
    eager = model.set_inference("torch").score_rows(users)
    model.set_inference("onnx")
    np.testing.assert_allclose(onnx, eager, rtol=0, atol=1e-5)
    assert np.ptp(onnx) > 0.1  # not a constant model


def test_shap_contributions_add_up_to_the_score(fitted_shop: WideDeep) -> None:
    model = fitted_shop
    assert isinstance(model, SupportsExplain)
    names = model.feature_groups()
    assert names == ["user", "country", "item", "category", "price", "text", "item bias",
                     "country x category", "country x price"]  # fmt: skip
    user = model.users.number("a3")
    items = model.items.numbers(["g-new", "k-new", "g0", "k4"])
    scores = model.score_rows(np.array([user]))[0, items]
    every = model.explain(user, items, top=len(names))
    for explanation, item, score in zip(every, items, scores, strict=True):
        assert explanation.kind == "shap" and explanation.item_num == item
        assert explanation.score == pytest.approx(float(score), abs=1e-6)
        total = explanation.base_value + sum(v for _, v in explanation.contributions)
        assert total == pytest.approx(float(score), abs=1e-4)  # additivity
    top = model.explain(user, items, top=3)
    for short, full in zip(top, every, strict=True):
        assert short.contributions == full.contributions[:3]
        values = [abs(v) for _, v in short.contributions]
        assert values == sorted(values, reverse=True)
    # a wide term adds straight to the score: its SHAP value is its value minus the
    # background's mean; g-new and k-new were never bought (id bias 0): both get -mean
    g_new, k_new = (dict(e.contributions) for e in every[:2])
    assert g_new["item bias"] == pytest.approx(k_new["item bias"], abs=1e-7)
    g0 = dict(every[2].contributions)["item bias"]
    assert g0 - g_new["item bias"] == pytest.approx(float(model.item_bias[items[2]]), abs=1e-5)


# ---- training: early stopping, per-epoch metrics, devices, hyperparameters ----------------------
def test_early_stopping_keeps_the_best_epoch() -> None:
    data = shop()
    frame = data.to_frame()
    val = frame.groupby("user_id").tail(1)
    train = frame.drop(val.index)
    train_data = Dataset.from_frame(train, item_features=_features(data), user_features=None)
    seen: list[tuple[int, float]] = []
    params = {**SMALL, "epochs": 12, "early_stopping_patience": 2, "seed": 1}
    model = WideDeep(**params).fit(
        train_data,
        FitOptions(validation=val, on_epoch=lambda e, m: seen.append((e, m["validation_ndcg@10"]))),
    )
    values = [v for _, v in seen]
    assert [e for e, _ in seen] == list(range(1, len(seen) + 1))
    assert model.best_epoch == 1 + int(np.argmax(values))
    assert len(seen) == 12 or len(seen) - model.best_epoch == 2
    # training is deterministic and validation draws no randomness: the kept parameters are
    # those of a fit that stops at the best epoch
    again = WideDeep(**{**params, "epochs": model.best_epoch, "early_stopping_patience": None})
    again.fit(train_data)
    np.testing.assert_array_equal(again.deep_weights, model.deep_weights)


def _features(data: Dataset) -> pd.DataFrame:
    assert data.item_features is not None
    return data.item_features.reset_index()


def test_cuda_refused_without_a_device() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from tailor.errors import ConfigError

    with pytest.raises(ConfigError, match="no CUDA device"):
        WideDeep(**SMALL, device="cuda").fit(planted_frame())


CHANGES: dict[str, Any] = {
    "embedding_size": 4, "hidden": (8, 4), "dropout": 0.5, "id_dropout": 0.0,
    "learning_rate": 0.01, "weight_decay": 0.1, "epochs": 3, "batch_size": 5, "negatives": 2,
    "item_columns": (), "user_columns": (), "price_column": None, "price_buckets": 2,
    "text_column": None, "text_features": 3,
}  # fmt: skip
"""Every hyperparameter but seed, device (float rounding only), early_stopping_patience (tested
above) and fold_in_epochs (below), each set away from the base fit's value."""


def test_every_hyperparameter_changes_the_scores() -> None:
    assert set(CHANGES) | {"seed", "device", "early_stopping_patience", "fold_in_epochs"} == set(
        WideDeep.config_class.model_fields
    )
    base = {**SMALL, "epochs": 2, "seed": 0}
    data = shop()
    reference = WideDeep(**base).fit(data).score_rows(np.arange(data.n_users))
    for key, value in CHANGES.items():
        scores = WideDeep(**{**base, key: value}).fit(data).score_rows(np.arange(data.n_users))
        assert scores.shape != reference.shape or not np.allclose(scores, reference), key
    batch = pd.DataFrame({"user_id": ["c0"], "item_id": ["g1"]})
    folds = [WideDeep(**{**base, "fold_in_epochs": e}).fit(data).partial_fit(batch) for e in (1, 5)]
    c0 = [m.score_rows(np.array([m.users.number("c0")])) for m in folds]
    assert not np.allclose(*c0)
