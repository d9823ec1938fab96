from __future__ import annotations

from collections.abc import Callable
from math import log, sqrt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models import ItemKNN, SupportsSimilarItems, create_model
from tailor.models import knn as knn_module
from tailor.models._sparse_kernels import csr_times_csr, csr_times_dense
from tailor.testing import RecommenderContract
from tailor.testing.data import random_frame

ML100K = Path(__file__).resolve().parents[2] / "../shared/data/ml-100k"
Toy = Callable[..., pd.DataFrame]


class TestItemKNNContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return ItemKNN(**kwargs)


PLAIN: dict[str, Any] = {"k": 100, "shrink": 0.0, "weighting": "none"}
"""Plain cosine over all neighbours: the hand-worked scores below start from it (the defaults,
chosen by the benchmark, keep 16 BM25-weighted neighbours with shrink 70)."""


def _fit(frame: pd.DataFrame, **params: Any) -> ItemKNN:
    return ItemKNN(**{**PLAIN, **params}).fit(Dataset.from_frame(frame))


def _scores(model: ItemKNN, pairs: list[tuple[str, str]]) -> list[float]:
    return model.score([u for u, _ in pairs], [i for _, i in pairs]).tolist()


# cosine similarities of the toy matrix (see conftest.py): s_ab = 2/sqrt(2*3), ...
S_AB, S_AC, S_BC, S_CD = 2 / sqrt(6), 1 / sqrt(6), 2 / 3, 1 / sqrt(3)


def test_cosine_scores_by_hand(toy: Toy) -> None:
    model = _fit(toy())
    # A has a, b: c = s_ac + s_bc; C has b, c: a = s_ba + s_ca, d = s_cd; D has c, d: b = s_cb
    got = _scores(model, [("A", "c"), ("A", "d"), ("C", "a"), ("C", "d"), ("D", "b"), ("D", "a")])
    assert got == pytest.approx([S_AC + S_BC, 0.0, S_AB + S_AC, S_CD, S_BC, S_AC], abs=1e-6)
    recs = model.recommend(["C", "D"], n=2).to_frame()
    assert recs[["user_id", "item_id", "rank"]].values.tolist() == [
        ["C", "a", 1],
        ["C", "d", 2],
        ["D", "b", 1],
        ["D", "a", 2],
    ]


def test_k_keeps_only_nearest_neighbours(toy: Toy) -> None:
    # k=1: a -> b, b -> a, c -> b, d -> c
    model = _fit(toy(), k=1)
    got = _scores(model, [("A", "c"), ("C", "a"), ("D", "b"), ("B", "d")])
    assert got == pytest.approx([0.0, S_AB, S_BC, 0.0], abs=1e-6)


def test_shrink_damps_similarities(toy: Toy) -> None:
    model = _fit(toy(), shrink=1.0)
    got = _scores(model, [("C", "a")])
    assert got == pytest.approx([2 / (sqrt(6) + 1) + 1 / (sqrt(6) + 1)], abs=1e-6)


def test_asymmetric_cosine_alpha_one_is_conditional_probability(toy: Toy) -> None:
    # alpha = 1: s_ij = |U_i & U_j| / |U_i|; C (b, c) scores a with 2/3 + 1/3
    model = _fit(toy(), similarity="asymmetric_cosine", alpha=1.0)
    assert _scores(model, [("C", "a"), ("A", "c")]) == pytest.approx([1.0, 1 / 2 + 2 / 3])


def test_dot_similarity_is_the_co_occurrence_count(toy: Toy) -> None:
    model = _fit(toy(), similarity="dot", shrink=1.0)
    # C (b, c) scores a with (ab + ac) / (1 + shrink) = (2 + 1) / 2
    assert _scores(model, [("C", "a")]) == pytest.approx([1.5])


def test_tfidf_weighting_by_hand(toy: Toy) -> None:
    # each user's entries become idf_u = log(4 / n_u): l2 for A, C, D (2 items), l3 for B (3)
    l2, l3 = log(2), log(4 / 3)
    model = _fit(toy(), weighting="tfidf")
    s_ab = (l2**2 + l3**2) / (sqrt(l2**2 + l3**2) * sqrt(2 * l2**2 + l3**2))
    s_ac = l3**2 / (sqrt(l2**2 + l3**2) * sqrt(l3**2 + 2 * l2**2))
    assert _scores(model, [("C", "a")]) == pytest.approx([s_ab + s_ac], rel=1e-5)


def test_recency_half_life_weights_the_profile(toy: Toy) -> None:
    days = [10.0] * 9
    days[5] = 5.0  # C's interaction with b is one half-life older than the newest one
    model = _fit(toy(days), recency_half_life_days=5.0)
    assert _scores(model, [("C", "a")]) == pytest.approx([0.5 * S_AB + S_AC], abs=1e-6)


def test_recency_is_measured_from_each_users_newest_interaction(toy: Toy) -> None:
    days = [10.0] * 7 + [-5000.0, -5000.0]  # D was last active 5,010 days before the others
    model = _fit(toy(days), recency_half_life_days=1.0)
    assert _scores(model, [("D", "b")]) == pytest.approx([S_BC], abs=1e-6)  # no underflow to 0


def test_similar_items(toy: Toy) -> None:
    model = _fit(toy())
    assert isinstance(model, SupportsSimilarItems)
    sims = model.similar_items(["a", "unknown", "d"], n=3).to_frame()
    assert sims[["user_id", "item_id", "rank"]].values.tolist() == [
        ["a", "b", 1],
        ["a", "c", 2],
        ["d", "c", 1],
    ]
    assert sims["score"].tolist() == pytest.approx([S_AB, S_AC, S_CD], abs=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"k": 2},
        {"similarity": "asymmetric_cosine", "alpha": 0.8},
        {"shrink": 5.0},
        {"weighting": "tfidf"},
        {"weighting": "bm25"},
        {"similarity": "dot"},
        {"similarity": "dot", "weighting": "bm25", "bm25_k1": 3.0},
        {"similarity": "dot", "weighting": "bm25", "bm25_b": 0.1},
        {"binary": False},
        {"recency_half_life_days": 30.0},
    ],
)
def test_each_hyperparameter_changes_the_scores(params: dict[str, Any]) -> None:
    data = Dataset.from_frame(random_frame(seed=3))
    bm25 = "bm25_k1" in params or "bm25_b" in params
    base = {"similarity": "dot", "weighting": "bm25"} if bm25 else {}
    users = np.arange(data.n_users)
    before = ItemKNN(**{**PLAIN, **base}).fit(data).score_rows(users)
    after = ItemKNN(**{**PLAIN, **params}).fit(data).score_rows(users)
    assert not np.allclose(before, after)


def _dense_reference(x: np.ndarray, k: int) -> np.ndarray:
    norms = np.sqrt((x**2).sum(axis=0))
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    out = np.zeros_like(sim)
    for i, row in enumerate(sim):
        top = np.argsort(-row, kind="stable")[:k]
        out[i, top] = row[top]
    return out


def test_blocked_similarity_matches_dense_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = sp.random(50, 30, density=0.2, random_state=1, dtype=np.float32).tocsr()
    x.data[:] = rng.integers(1, 4, x.nnz)
    expected = _dense_reference(x.toarray().astype(np.float64), k=5)
    monkeypatch.setattr(knn_module, "BLOCK_ENTRIES", 7 * 30)  # seven item rows per block
    got = knn_module.item_similarity(sp.csr_array(x), k=5, alpha=0.5, shrink=0.0)
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-5, atol=1e-7)
    assert (np.diff(got.indptr) <= 5).all()


def test_kernels_match_scipy() -> None:
    x = sp.random(40, 25, density=0.2, random_state=2, dtype=np.float32).tocsr()
    w = sp.random(25, 25, density=0.3, random_state=3, dtype=np.float32).tocsr()
    dense = w.toarray()
    expected = (x @ w).toarray()
    got_sparse = csr_times_csr(x.indptr, x.indices, x.data, w.indptr, w.indices, w.data, 25)
    np.testing.assert_allclose(got_sparse, expected, rtol=1e-5, atol=1e-6)
    got_dense = csr_times_dense(x.indptr, x.indices, x.data, dense)
    np.testing.assert_allclose(got_dense, expected, rtol=1e-5, atol=1e-6)


def test_registered_and_validated() -> None:
    assert isinstance(create_model("itemknn", {"k": 5}), ItemKNN)
    with pytest.raises(
        ConfigError, match=r"model 'itemknn': k: Input should be greater than or equal to 1"
    ):
        create_model("itemknn", {"k": 0})


def test_movielens_star_wars_neighbours_are_its_sequels(
    require: Callable[[bool, str], None],
) -> None:
    require(ML100K.is_dir(), f"{ML100K} (MovieLens 100K) is not available")
    frame = pd.read_csv(
        ML100K / "u.data", sep="\t", names=["user_id", "item_id", "value", "timestamp"]
    )
    model = ItemKNN(**{**PLAIN, "k": 50}).fit(Dataset.from_frame(frame))
    # item 50 is Star Wars (1977); 172 and 181 are The Empire Strikes Back and Return of the Jedi
    assert {"172", "181"} <= set(model.similar_items(["50"], n=5).for_user("50"))
    assert (np.diff(model.similarity.indptr) <= 50).all()
