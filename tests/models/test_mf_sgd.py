from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError, DataError
from tailor.models import SGDMF, FitOptions, SGDMFConfig, create_model
from tailor.models import _mf_kernels as kernels
from tailor.models.mf_sgd import RATING_PARAMS
from tailor.testing import RecommenderContract, planted_frame
from tailor.testing.data import random_frame

ML100K = Path(__file__).resolve().parents[2] / "../shared/data/ml-100k/u.data"
BPR: dict[str, Any] = {"loss": "bpr", "embedding_size": 8, "epochs": 40, "learning_rate": 0.05,
       "regularization": 0.01, "init_std": 0.1}  # fmt: skip


class TestSGDMFContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return SGDMF(**{**BPR, **kwargs})


class TestSGDMFRatingContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return SGDMF(**{**RATING_PARAMS, "embedding_size": 4, "epochs": 10, **kwargs})

    def pair_scores(self, model: Any, rows: np.ndarray) -> np.ndarray:
        return np.clip(rows, *model.rating_range)  # score predicts ratings: clipped


# ---- planted outputs ---------------------------------------------------------------------
def test_planted_top_item_is_the_missing_group_item() -> None:
    model = SGDMF(**BPR, seed=3).fit(Dataset.from_frame(planted_frame()))
    users = [f"u{k}" for k in range(12)]
    top = model.recommend(users, n=1)
    for k, user in enumerate(users):
        group = 0 if k < 6 else 4
        assert top.for_user(user) == [f"i{group + 1 + k % 3}"]


@pytest.mark.parametrize(("loss", "share"), [("bpr", 0.95), ("warp", 0.8)])
def test_ranking_losses_recommend_within_the_taste_group(loss: str, share: float) -> None:
    # chance level: about 5 unseen own-group items among 17 unseen items
    model = SGDMF(**{**BPR, "loss": loss, "negatives": 8}, seed=0)
    recs = model.fit(Dataset.from_frame(_groups_frame())).recommend(
        [f"u{k}" for k in range(40)], n=3
    )
    frame = recs.to_frame()
    group = np.where(frame["user_id"].str[1:].astype(int) < 20, "A", "B")
    assert len(frame) == 120
    assert (frame["item_id"].str[0] == group).mean() >= share


def _explicit_frame() -> pd.DataFrame:
    # r_ui = 3 + a_u + c_i + x_u y_i: exactly representable with biases and one factor
    a, c = [0.5, -0.5, 0.0, 1.0], [0.0, 0.5, -1.0, 0.5]
    x, y = [1.0, -1.0, 0.5, 0.0], [0.5, -0.5, 1.0, 0.0]
    rows = [(f"u{u}", f"i{i}", 3 + a[u] + c[i] + x[u] * y[i]) for u in range(4) for i in range(4)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "value"])


def test_explicit_ratings_are_fitted_closely() -> None:
    frame = _explicit_frame()
    model = SGDMF(loss="rmse", embedding_size=2, epochs=400, learning_rate=0.05, lr_decay=1.0,
                  regularization=0.0, bias_regularization=0.0, init_std=0.1, seed=0)  # fmt: skip
    model.fit(Dataset.from_frame(frame))
    pred = model.score(frame["user_id"], frame["item_id"])
    assert model.global_mean[0] == pytest.approx(frame["value"].mean())
    assert float(np.sqrt(np.mean((pred - frame["value"]) ** 2))) < 0.02
    assert model.history[-1]["train_rmse"] < 0.02
    assert model.history[0]["train_rmse"] > 0.5


def test_predictions_are_clipped_to_the_rating_range() -> None:
    frame = _explicit_frame()
    model = SGDMF(**{**RATING_PARAMS, "epochs": 5}, seed=0).fit(Dataset.from_frame(frame))
    model.item_bias[:] = 100.0
    assert model.score(["u0", "u1"], ["i0", "i1"]).tolist() == [4.5, 4.5]
    assert model.rating_range.tolist() == [0.5, 4.5]


def test_similar_items_stay_in_the_group() -> None:
    model = SGDMF(**{**BPR, "seed": 1}).fit(Dataset.from_frame(planted_frame()))
    sims = model.similar_items(["i0", "i5", "nope"], n=3)
    assert set(sims.for_user("i0")) == {"i1", "i2", "i3"}
    assert set(sims.for_user("i5")) == {"i4", "i6", "i7"}
    assert sims.for_user("nope") == []


# ---- kernels vs a slow reference ---------------------------------------------------------
def _ref_rmse(ex: dict[str, Any], p: dict[str, np.ndarray], mu: float, lr: float, reg: float,
              breg: float) -> float:  # fmt: skip
    total = 0.0
    f32 = np.float32
    for idx in ex["order"]:
        u, i, w = ex["users"][idx], ex["items"][idx], ex["weights"][idx]
        pu, qi = p["P"][u].copy(), p["Q"][i].copy()
        err = ex["ratings"][idx] - (f32(mu) + p["bu"][u] + p["bi"][i] + pu @ qi)
        total += float(w * err * err)
        g = w * err
        p["bu"][u] += f32(lr) * (g - f32(breg) * p["bu"][u])
        p["P"][u] = pu + f32(lr) * (g * qi - f32(reg) * pu)
        if p["trainable"][i]:
            p["bi"][i] += f32(lr) * (g - f32(breg) * p["bi"][i])
            p["Q"][i] = qi + f32(lr) * (g * pu - f32(reg) * qi)
    return total


def _ref_pair_step(p: dict[str, np.ndarray], u: int, i: int, j: int, g: float, lr: float,
                   reg: float, breg: float) -> None:  # fmt: skip
    f32 = np.float32
    pu, qi, qj = p["P"][u].copy(), p["Q"][i].copy(), p["Q"][j].copy()
    p["P"][u] = pu + f32(lr) * (f32(g) * (qi - qj) - f32(reg) * pu)
    if p["trainable"][i]:
        p["bi"][i] += f32(lr) * (f32(g) - f32(breg) * p["bi"][i])
        p["Q"][i] = qi + f32(lr) * (f32(g) * pu - f32(reg) * qi)
    if p["trainable"][j]:
        p["bi"][j] += f32(lr) * (-f32(g) - f32(breg) * p["bi"][j])
        p["Q"][j] = qj + f32(lr) * (-f32(g) * pu - f32(reg) * qj)


def _ref_pairwise(ex: dict[str, Any], p: dict[str, np.ndarray], loss: str, lr: float, reg: float,
                  breg: float) -> tuple[float, int]:  # fmt: skip
    total, count = 0.0, 0
    n_items = len(p["bi"])
    harmonic = np.cumsum(1.0 / np.arange(1, n_items + 1))
    for idx in ex["order"]:
        u, i, w = ex["users"][idx], ex["items"][idx], float(ex["weights"][idx])
        seen = set(ex["seen"][u])
        s_i = float(p["bi"][i] + p["P"][u] @ p["Q"][i])
        trials = 0
        for j in ex["negatives"][idx]:
            if j in seen:
                continue
            trials += 1
            s_j = float(p["bi"][j] + p["P"][u] @ p["Q"][j])
            if loss == "bpr":
                x = float(p["bi"][i] + p["P"][u] @ p["Q"][i]) - s_j
                total += w * math.log1p(math.exp(-x))
                g = w / (1.0 + math.exp(x))
            elif s_j > s_i - 1.0:
                g = w * harmonic[max((n_items - 1) // trials, 1) - 1]
                total += g * (1.0 - s_i + s_j)
            else:
                continue
            count += 1
            _ref_pair_step(p, u, i, int(j), g, lr, reg, breg)
            if loss == "warp":
                break
    return total, count


def _kernel_inputs(seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_users, n_items, n, k = 6, 9, 40, 4
    users = rng.integers(0, n_users, n).astype(np.int32)
    items = rng.integers(0, n_items, n).astype(np.int32)
    seen_sets = [sorted(set(items[users == u].tolist())) for u in range(n_users)]
    ex = {
        "users": users,
        "items": items,
        "ratings": rng.integers(1, 6, n).astype(np.float32),
        "weights": rng.uniform(0.2, 1.0, n).astype(np.float32),
        "order": rng.permutation(n).astype(np.int64),
        "negatives": rng.integers(0, n_items, (n, 4)).astype(np.int32),
        "seen": seen_sets,
        "indptr": np.cumsum([0] + [len(s) for s in seen_sets]).astype(np.int32),
        "indices": np.array([i for s in seen_sets for i in s], np.int32),
    }
    params = {
        "P": rng.normal(0, 0.3, (n_users, k)).astype(np.float32),
        "Q": rng.normal(0, 0.3, (n_items, k)).astype(np.float32),
        "bu": rng.normal(0, 0.1, n_users).astype(np.float32),
        "bi": rng.normal(0, 0.1, n_items).astype(np.float32),
        "trainable": np.arange(n_items) % 3 != 0,
    }
    return ex, params


def _assert_params_close(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for key in ("P", "Q", "bu", "bi"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_rmse_kernel_matches_reference() -> None:
    ex, params = _kernel_inputs(0)
    ref = {k: v.copy() for k, v in params.items()}
    expected = _ref_rmse(ex, ref, 3.0, 0.05, 0.1, 0.02)
    total = kernels.rmse_epoch(
        ex["users"], ex["items"], ex["ratings"], ex["weights"], ex["order"], params["P"],
        params["Q"], params["bu"], params["bi"], params["trainable"], 3.0, 0.05, 0.1, 0.02,
    )  # fmt: skip
    assert total == pytest.approx(expected, rel=1e-5)
    _assert_params_close(params, ref)
    frozen = ~params["trainable"]
    assert np.array_equal(params["Q"][frozen], _kernel_inputs(0)[1]["Q"][frozen])


@pytest.mark.parametrize("loss", ["bpr", "warp"])
def test_pairwise_kernels_match_reference(loss: str) -> None:
    ex, params = _kernel_inputs(1)
    ref = {k: v.copy() for k, v in params.items()}
    expected = _ref_pairwise(ex, ref, loss, 0.05, 0.1, 0.02)
    head = (ex["users"], ex["items"], ex["weights"], ex["order"], ex["negatives"], ex["indptr"],
            ex["indices"])  # fmt: skip
    tail = (params["P"], params["Q"], params["bi"], params["trainable"], 0.05, 0.1, 0.02)
    if loss == "bpr":
        total, count = kernels.bpr_epoch(*head, *tail)
    else:
        harmonic = np.cumsum(1.0 / np.arange(1, 10)).astype(np.float32)
        total, count = kernels.warp_epoch(*head, harmonic, *tail)
    assert count == expected[1] > 0
    assert total == pytest.approx(expected[0], rel=1e-5)
    _assert_params_close(params, ref)


def test_is_seen_binary_search() -> None:
    indptr, indices = np.array([0, 3, 3, 4]), np.array([1, 4, 7, 0])
    got = [[kernels.is_seen(indptr, indices, u, j) for j in range(8)] for u in range(3)]
    assert got[0] == [j in (1, 4, 7) for j in range(8)]
    assert got[1] == [False] * 8
    assert got[2] == [j == 0 for j in range(8)]


# ---- hyperparameters, seeds, persistence ---------------------------------------------------
def _validation_split() -> tuple[Dataset, pd.DataFrame]:
    """Ratings = 3 + user bias + item bias + N(0, 1) noise, rounded to 1..5; 700 train, 200 val."""
    rng = np.random.default_rng(3)
    u, i = rng.integers(0, 40, 900), rng.integers(0, 30, 900)
    a, c = rng.normal(0, 0.8, 40), rng.normal(0, 0.8, 30)
    ratings = np.clip(np.round(3 + a[u] + c[i] + rng.normal(0, 1.0, 900)), 1, 5)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in u],
            "item_id": [f"i{k}" for k in i],
            "value": ratings,
            "timestamp": pd.to_datetime(rng.integers(0, 10**8, 900), unit="s"),
        }
    )
    return Dataset.from_frame(frame.iloc[:700]), frame.iloc[700:]


SENSITIVITY: dict[str, tuple[dict[str, Any], Any]] = {
    # name: (base parameters, changed value)
    "loss": ({}, "bpr"),
    "embedding_size": ({}, 6),
    "epochs": ({}, 7),
    "learning_rate": ({}, 0.02),
    "lr_decay": ({}, 0.8),
    "regularization": ({}, 0.2),
    "bias_regularization": ({}, 0.5),
    "init_std": ({}, 0.3),
    "negatives": ({"loss": "bpr"}, 2),
    "early_stopping_patience": ({"learning_rate": 0.1, "regularization": 0.0}, 1),
    "validation_metric": (
        {"learning_rate": 0.1, "regularization": 0.0, "early_stopping_patience": 1},
        "ndcg@10",
    ),
    "recency_half_life_days": ({}, 100.0),
    "seed": ({}, 99),
}


def _fitted_params(params: dict[str, Any]) -> dict[str, np.ndarray]:
    data, val = _validation_split()
    model = SGDMF(**{**RATING_PARAMS, "embedding_size": 4, "epochs": 10, "seed": 0, **params})
    return model.fit(data, FitOptions(validation=Dataset.from_frame(val))).state_arrays()


@pytest.mark.parametrize("name", sorted(SENSITIVITY))
def test_every_hyperparameter_changes_the_model(name: str) -> None:
    base, changed = SENSITIVITY[name]
    a = _fitted_params(base)
    b = _fitted_params({**base, name: changed})
    assert any(not np.array_equal(a[k], b[k]) for k in a), name


def test_fold_in_epochs_changes_the_fold_in() -> None:
    data = Dataset.from_frame(planted_frame())
    new = pd.DataFrame({"user_id": ["n", "n"], "item_id": ["i4", "i5"], "value": [1.0, 1.0]})
    a = SGDMF(**BPR, seed=0).fit(data).partial_fit(new)
    b = SGDMF(**BPR, seed=0, fold_in_epochs=3).fit(data).partial_fit(new)
    assert not np.array_equal(a.user_factors[-1], b.user_factors[-1])


def test_sensitivity_covers_every_hyperparameter() -> None:
    assert set(SGDMFConfig.model_fields) == {*SENSITIVITY, "fold_in_epochs"}


def test_same_seed_same_factors_bit_for_bit() -> None:
    data = Dataset.from_frame(random_frame())
    for loss in ("rmse", "bpr", "warp"):
        a = SGDMF(loss=loss, epochs=5, seed=11).fit(data).state_arrays()
        b = SGDMF(loss=loss, epochs=5, seed=11).fit(data).state_arrays()
        assert all(np.array_equal(a[k], b[k]) for k in a), loss
    c = SGDMF(epochs=5, seed=1).fit(data, FitOptions(rng=11)).state_arrays()
    d = SGDMF(epochs=5, seed=11).fit(data).state_arrays()
    assert np.array_equal(c["user_factors"], d["user_factors"])


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = SGDMF(epochs=5, seed=0).fit(Dataset.from_frame(random_frame()))
    model.save(tmp_path / "m")
    loaded = SGDMF.load(tmp_path / "m")
    for key, arr in model.state_arrays().items():
        assert np.array_equal(loaded.state_arrays()[key], arr), key
        assert loaded.state_arrays()[key].dtype == arr.dtype
    users, items = ["u1", "u2", "zz"], ["i3", "i4", "i5"]
    np.testing.assert_array_equal(model.score(users, items), loaded.score(users, items))
    assert create_model("mf-sgd", {"loss": "warp"}).config.loss == "warp"


# ---- early stopping ----------------------------------------------------------------------
def test_early_stopping_restores_the_best_epoch() -> None:
    # noisy ratings, 16 unregularised factors: validation RMSE falls, then rises (overfit)
    data, val = _validation_split()
    seen: list[tuple[int, dict[str, float]]] = []
    model = SGDMF(loss="rmse", embedding_size=16, epochs=60, learning_rate=0.02, lr_decay=1.0,
                  regularization=0.0, init_std=0.1, early_stopping_patience=3, seed=0)  # fmt: skip
    model.fit(data, FitOptions(validation=val, on_epoch=lambda e, m: seen.append((e, dict(m)))))
    curve = [h["validation_rmse"] for h in model.history]
    best = int(np.argmin(curve)) + 1
    assert 1 < best < 20 and model.best_epoch == best
    assert len(model.history) == best + 3 < 60
    assert [e for e, _ in seen] == list(range(1, best + 4))
    assert seen[-1][1] == model.history[-1]
    pred = model.score(val["user_id"], val["item_id"])
    ok = np.isfinite(pred)
    restored = float(np.sqrt(np.mean((val["value"].to_numpy()[ok] - pred[ok]) ** 2)))
    assert restored == pytest.approx(curve[best - 1], rel=1e-5)
    assert restored < curve[-1]


def test_ranking_validation_metric_is_recorded() -> None:
    frame = planted_frame()
    val = frame.groupby("user_id").tail(1)
    train = frame.drop(val.index)
    model = SGDMF(**BPR, seed=0, validation_metric="recall@20")
    model.fit(Dataset.from_frame(train), FitOptions(validation=Dataset.from_frame(val)))
    recalls = [h["validation_recall@20"] for h in model.history]
    assert recalls[-1] == 1.0  # 8 items: every held-out item is in the top 20
    ndcg = SGDMF(**BPR, seed=0).fit(Dataset.from_frame(train), FitOptions(validation=val))
    assert ndcg.history[-1]["validation_ndcg@10"] > ndcg.history[0]["validation_ndcg@10"]


def test_patience_without_validation_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="validation"):
        SGDMF(early_stopping_patience=2).fit(Dataset.from_frame(planted_frame()))


# ---- partial_fit -------------------------------------------------------------------------
def _groups_frame(n_users: int = 40, n_items: int = 12, seed: int = 0) -> pd.DataFrame:
    """Users 0..n/2-1 like items A0..; the others like B0..; each sees ~60 % of its group."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = "A" if u < n_users // 2 else "B"
        for i in range(n_items):
            if rng.random() < 0.6:
                rows.append((f"u{u}", f"{group}{i}", 1.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "value"])


def test_partial_fit_personalises_a_new_user_and_leaves_others_alone() -> None:
    model = SGDMF(**{**BPR, "epochs": 30}, seed=5).fit(Dataset.from_frame(_groups_frame()))
    before = model.state_arrays()
    others = [f"u{k}" for k in range(40) if k != 3]
    recs_before = model.recommend(others, n=10).to_frame()
    new = pd.DataFrame(
        {
            "user_id": ["newbie"] * 4 + ["u3"],
            "item_id": ["B0", "B1", "B2", "Bnew", "A11"],
            "value": 1.0,
        }
    )
    model.partial_fit(new)
    assert len(model.users) == 41 and len(model.items) == 25
    assert model.items.id_of([24])[0] == "Bnew"
    top = model.recommend(["newbie"], n=5).for_user("newbie")
    assert all(i.startswith("B") for i in top) and not {"B0", "B1", "B2", "Bnew"} & set(top)
    untouched = np.array([model.users.number(u) for u in others if u != "u3"])
    assert np.array_equal(model.user_factors[untouched], before["user_factors"][untouched])
    assert np.array_equal(model.item_factors[:24], before["item_factors"])
    assert np.array_equal(model.item_bias[:24], before["item_bias"])
    u3 = model.users.number("u3")
    assert not np.array_equal(model.user_factors[u3], before["user_factors"][u3])
    assert model.seen[[u3]].toarray()[0, model.items.number("A11")] == 1.0
    recs_after = model.recommend(others, n=10).to_frame()
    pairs = lambda r: set(zip(r["user_id"], r["item_id"], strict=True))  # noqa: E731
    overlap = len(pairs(recs_before) & pairs(recs_after)) / len(recs_before)
    assert overlap >= 0.9


def test_partial_fit_learns_a_new_users_bias_for_ratings() -> None:
    model = SGDMF(**{**RATING_PARAMS, "epochs": 5}, seed=0).fit(Dataset.from_frame(random_frame()))
    new = pd.DataFrame({"user_id": ["fan"] * 5, "item_id": [f"i{k}" for k in range(5)],
                        "value": 5.0})  # fmt: skip
    model.partial_fit(new)
    assert model.user_bias[model.users.number("fan")] > 0.3


def test_partial_fit_extends_vocabularies_and_seen() -> None:
    model = SGDMF(**BPR, seed=0).fit(Dataset.from_frame(planted_frame()))
    model.partial_fit(pd.DataFrame({"user_id": ["u0", "x"], "item_id": ["i1", "y"]}))
    assert model.users.number("x") == 12 and model.items.number("y") == 8
    assert model.seen.shape == (13, 9) and model.seen.nnz == 36 + 2  # u0-i1 is new
    assert model.seen[[12]].toarray()[0].tolist() == [0.0] * 8 + [1.0]
    k = model.config.embedding_size
    assert model.user_factors.shape == (13, k) and model.item_bias.shape == (9,)
    with pytest.raises(DataError, match="item_id"):
        model.partial_fit(pd.DataFrame({"user_id": ["a"]}))


# ---- real data ---------------------------------------------------------------------------
def test_movielens_rmse_beats_a_bound(require: Callable[[bool, str], None]) -> None:
    require(ML100K.is_file(), f"{ML100K} (MovieLens 100K) is not available")
    ratings = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "value", "timestamp"])
    rng = np.random.default_rng(0)
    test = np.zeros(len(ratings), bool)
    test[rng.permutation(len(ratings))[: len(ratings) // 5]] = True
    train, held = ratings[~test], ratings[test]
    model = SGDMF(**{**RATING_PARAMS, "epochs": 15}, seed=0).fit(Dataset.from_frame(train))
    pred = model.score(held["user_id"], held["item_id"])
    ok = np.isfinite(pred)
    assert ok.mean() > 0.99
    rmse = float(np.sqrt(np.mean((held["value"].to_numpy()[ok] - pred[ok]) ** 2)))
    baseline = float(np.sqrt(np.mean((held["value"] - train["value"].mean()) ** 2)))
    assert rmse < 0.95 < baseline


def test_defaults_rank_and_the_rating_settings_fit_ratings() -> None:
    assert SGDMFConfig().loss == "warp"  # top-N by default (chosen by bench/accuracy/defaults.py)
    rating = SGDMF(**RATING_PARAMS).config
    assert rating.loss == "rmse" and rating.watched_metric == "rmse"


def test_pipeline_config_lists_every_option_with_its_default() -> None:
    path = Path(__file__).resolve().parents[2] / "configs/pipelines/mf-sgd.toml"
    text = path.read_text()
    config = tomllib.loads(text)
    assert config["model"] == "mf-sgd"
    assert SGDMFConfig.model_validate(config["config"]) == SGDMFConfig()
    for name in SGDMFConfig.model_fields:
        assert f"{name} = " in text, name
