"""One interface over every model of the benchmark, tailor's and the peers'.

A :class:`TopN` model is fitted on a training frame and answers top-``n`` lists for given users.
The candidate rule is the same for all: every item seen in the training frame, minus the user's
own training items when ``exclude_seen`` (full ranking, no sampling). tailor's models apply it in
``recommend``; the peers return dense score rows that :func:`rank_rows` masks and ranks with
tailor's own ``top_n`` (same tie rule: lower item number first).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.models.base import top_n
from tailor.models.registry import create_model

BLOCK = 1024
"""Users ranked per block: bounds memory at BLOCK x n_items floats."""


@dataclass
class TrainData:
    """A training frame with its id indexes and binary users x items matrix (built once)."""

    frame: pd.DataFrame
    users: pd.Index
    items: pd.Index
    matrix: sp.csr_array
    _dataset: Dataset | None = field(default=None, repr=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TrainData:
        """Index users and items in order of first appearance (as tailor's Vocabulary does)."""
        users = pd.Index(pd.unique(frame["user_id"].astype(str)))
        items = pd.Index(pd.unique(frame["item_id"].astype(str)))
        rows = users.get_indexer(frame["user_id"].astype(str))
        cols = items.get_indexer(frame["item_id"].astype(str))
        mat = sp.csr_array(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items))
        )
        mat.sum_duplicates()
        mat.data[:] = 1.0
        return cls(frame, users, items, mat)

    @property
    def dataset(self) -> Dataset:
        """tailor's Dataset of the frame (weights = ``value``: ratings or quantities)."""
        if self._dataset is None:
            self._dataset = Dataset.from_frame(self.frame)
        return self._dataset


class TopN(ABC):
    """A model under test: ``fit`` then ``recommend``."""

    name: str
    library: str

    @abstractmethod
    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        """Fit with hyperparameters ``params``."""

    @abstractmethod
    def recommend(self, users: np.ndarray, n: int, *, exclude_seen: bool) -> pd.DataFrame:
        """Top-``n`` lists (user_id, item_id, rank, score) for the known ``users``."""


class TailorModel(TopN):
    """Any model of tailor's registry, through its own ``recommend``."""

    library = "tailor"

    def __init__(self, registry_name: str, fixed: dict[str, Any] | None = None) -> None:
        self.name = f"tailor {registry_name}"
        self.registry_name = registry_name
        self.fixed = fixed or {}
        self.model: Any = None

    def fit(self, data: TrainData, params: dict[str, Any], seed: int) -> None:
        self.model = create_model(self.registry_name, {**self.fixed, **params, "seed": seed})
        self.model.fit(data.dataset)

    def recommend(self, users: np.ndarray, n: int, *, exclude_seen: bool) -> pd.DataFrame:
        recs = self.model.recommend(users, n=n, exclude_seen=exclude_seen)  # a DataFrame
        return pd.DataFrame(recs[["user_id", "item_id", "rank", "score"]])


class ScoringModel(TopN):
    """A peer that scores all training items for a block of user rows."""

    data: TrainData

    @abstractmethod
    def scores(self, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows), n_items) scores over ``data.items``."""

    def recommend(self, users: np.ndarray, n: int, *, exclude_seen: bool) -> pd.DataFrame:
        rows = self.data.users.get_indexer(np.asarray(users).astype(str))
        rows = rows[rows >= 0]
        return rank_rows(self.data, rows, self.scores, n, exclude_seen=exclude_seen)


def rank_rows(
    data: TrainData, rows: np.ndarray, score: Any, n: int, *, exclude_seen: bool
) -> pd.DataFrame:
    """Mask (non-finite scores; the user's training items) and take the top ``n`` per row."""
    parts = []
    for start in range(0, len(rows), BLOCK):
        block = rows[start : start + BLOCK]
        s = np.array(score(block), dtype=np.float32, copy=True)
        s[~np.isfinite(s)] = -np.inf
        if exclude_seen:
            sub = data.matrix[block]
            s[np.repeat(np.arange(len(block)), np.diff(sub.indptr)), sub.indices] = -np.inf
        idx, vals = top_n(s, n)
        width = idx.shape[1]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(data.users[block].to_numpy(), width),
                    "item_id": data.items[idx.ravel()].to_numpy(),
                    "rank": np.tile(np.arange(1, width + 1), len(block)),
                    "score": vals.ravel(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["user_id", "item_id", "rank", "score"])
    out = pd.concat(parts, ignore_index=True)
    return out[np.isfinite(out["score"].to_numpy())].reset_index(drop=True)
