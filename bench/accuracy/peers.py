"""Thin adapters over the peer libraries (installed by setup_peers.sh, never tailor deps).

Each fits on the binary users x items matrix of the training frame (every interaction a positive)
and scores every training item; :func:`models.rank_rows` applies the shared candidate rule.
Surprise predicts ratings (:func:`surprise_predict`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from models import ScoringModel, TrainData


class ImplicitALS(ScoringModel):
    """implicit's AlternatingLeastSquares (Hu, Koren, Volinsky 2008), confidence 1 + alpha."""

    name, library = "implicit ALS", "implicit"

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self.data = data
        model = AlternatingLeastSquares(
            factors=params["factors"],
            regularization=params["regularization"],
            alpha=params["alpha"],
            iterations=params["iterations"],
            random_state=seed,
        )
        self._fit_factors(model, data)

    def _fit_factors(self, model: Any, data: TrainData) -> None:
        """Fit an ``implicit`` model quietly and keep its factors."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(_csr(data), show_progress=False)
        self.user_factors, self.item_factors = model.user_factors, model.item_factors

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors[rows] @ self.item_factors.T


class ImplicitBPR(ImplicitALS):
    """implicit's BayesianPersonalizedRanking (Rendle et al. 2009)."""

    name, library = "implicit BPR", "implicit"

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self.data = data
        model = BayesianPersonalizedRanking(
            factors=params["factors"],
            learning_rate=params["learning_rate"],
            regularization=params["regularization"],
            iterations=params["iterations"],
            random_state=seed,
        )
        self._fit_factors(model, data)


class LightFMWARP(ScoringModel):
    """LightFM with the WARP loss (Weston et al. 2011), no side features."""

    name, library = "LightFM WARP", "lightfm"

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        from lightfm import LightFM

        self.data = data
        model = LightFM(
            no_components=params["factors"],
            loss="warp",
            learning_rate=params["learning_rate"],
            item_alpha=params["regularization"],
            user_alpha=params["regularization"],
            max_sampled=params.get("max_sampled", 10),
            random_state=seed,
        )
        coo = data.matrix.tocoo()
        # LightFM's Cython wants a coo_matrix with int32 indices
        matrix = sp.coo_matrix(
            (coo.data, (coo.row.astype(np.int32), coo.col.astype(np.int32))), shape=coo.shape
        )
        model.fit(matrix, epochs=params["epochs"], num_threads=2)
        _, u_emb = model.get_user_representations()
        i_bias, i_emb = model.get_item_representations()
        self.user_emb = u_emb.astype(np.float32)
        self.item_emb = i_emb.astype(np.float32)
        self.item_bias = i_bias.astype(np.float32)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        # the user bias is constant within a row and cannot change a ranking
        return self.user_emb[rows] @ self.item_emb.T + self.item_bias[None, :]


class LensKitImplicitMF(ScoringModel):
    """LensKit's ImplicitMFScorer (ALS with confidence weight), user embeddings from training."""

    name, library = "LensKit ImplicitMF", "lenskit"

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        from lenskit.als import ImplicitMFScorer
        from lenskit.training import TrainingOptions

        self.data = data
        model = ImplicitMFScorer(
            embedding_size=params["factors"],
            regularization=params["regularization"],
            weight=params["weight"],
            epochs=params["epochs"],
        )
        model.train(_lenskit_dataset(data), TrainingOptions(rng=seed))
        # LensKit numbers users/items itself: align its embeddings with our indexes
        self.user_emb = model.user_embeddings[model.users.numbers(data.users.to_numpy())]
        self.item_emb = model.item_embeddings[model.items.numbers(data.items.to_numpy())]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.user_emb[rows] @ self.item_emb.T


class LensKitItemKNN(ScoringModel):
    """LensKit's ItemKNNScorer for implicit feedback (summed similarities of top neighbours)."""

    name, library = "LensKit ItemKNN", "lenskit"

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        from lenskit.knn import ItemKNNScorer
        from lenskit.training import TrainingOptions

        self.data = data
        self.model = ItemKNNScorer(
            max_nbrs=params["max_nbrs"], min_sim=params["min_sim"], feedback="implicit"
        )
        self.model.train(_lenskit_dataset(data), TrainingOptions(rng=seed))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        from lenskit.data import ItemList, RecQuery

        mat = self.data.matrix
        targets = ItemList(item_ids=self.data.items.to_numpy())
        out = np.empty((len(rows), len(self.data.items)), np.float32)
        # LensKit scores one user per call (its pipeline's contract)
        for k, row in enumerate(rows):
            history = self.data.items[mat.indices[mat.indptr[row] : mat.indptr[row + 1]]]
            query = RecQuery(user_id=self.data.users[row], user_items=ItemList(item_ids=history))
            out[k] = self.model(query, targets).scores()
        return out


def _csr(data: TrainData) -> Any:
    return sp.csr_matrix(data.matrix)


def _lenskit_dataset(data: TrainData) -> Any:
    from lenskit.data import from_interactions_df

    pairs = pd.DataFrame(
        {
            "user_id": data.users[data.matrix.nonzero()[0]].to_numpy(),
            "item_id": data.items[data.matrix.nonzero()[1]].to_numpy(),
        }
    )
    return from_interactions_df(pairs, user_col="user_id", item_col="item_id")


def surprise_predict(
    kind: str, train: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any], seed: int
) -> np.ndarray:
    """Fit Surprise ``SVD`` or ``SVDpp`` on train ratings; predicted ratings for test pairs."""
    from surprise import SVD, Dataset, Reader, SVDpp

    reader = Reader(rating_scale=(1, 5))
    trainset = Dataset.load_from_df(
        train[["user_id", "item_id", "value"]], reader
    ).build_full_trainset()
    algo = (SVD if kind == "SVD" else SVDpp)(
        n_factors=params["factors"],
        n_epochs=params["epochs"],
        lr_all=params["learning_rate"],
        reg_all=params["regularization"],
        random_state=seed,
    )
    algo.fit(trainset)
    return np.array(
        [algo.predict(u, i).est for u, i in zip(test["user_id"], test["item_id"], strict=True)]
    )
