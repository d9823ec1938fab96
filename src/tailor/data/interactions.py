"""Interactions: an immutable, columnar log of (user_num, item_num, weight, timestamp)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailor.types import NumArray


@dataclass(frozen=True, slots=True, eq=False)
class Interactions:
    """Columnar interaction arrays over internal numbers.

    Attributes:
        user_nums: int32 row numbers from the users' Vocabulary.
        item_nums: int32 row numbers from the items' Vocabulary.
        weights: float32 strength of each interaction (rating, weighted event count...).
        timestamps: int64 seconds since the Unix epoch.

    Stability: stable.
    """

    user_nums: NumArray
    item_nums: NumArray
    weights: np.ndarray
    timestamps: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user_nums)
        if not (len(self.item_nums) == len(self.weights) == len(self.timestamps) == n):
            raise ValueError("interaction arrays must have equal lengths")

    @classmethod
    def from_arrays(
        cls,
        user_nums: np.ndarray,
        item_nums: np.ndarray,
        weights: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
    ) -> Interactions:
        """Build with dtype conversion; weights default to 1 and timestamps to 0."""
        n = len(user_nums)
        return cls(
            np.ascontiguousarray(user_nums, dtype=np.int32),
            np.ascontiguousarray(item_nums, dtype=np.int32),
            np.ones(n, np.float32)
            if weights is None
            else np.ascontiguousarray(weights, np.float32),
            np.zeros(n, np.int64)
            if timestamps is None
            else np.ascontiguousarray(timestamps, np.int64),
        )

    def __len__(self) -> int:
        return len(self.user_nums)

    def matrix(self, n_users: int, n_items: int, *, weights: bool = True) -> sp.csr_array:
        """Users x items CSR matrix; repeated pairs are summed (or 1 when ``weights=False``)."""
        data = self.weights if weights else np.ones(len(self), np.float32)
        mat = sp.csr_array(
            (data, (self.user_nums, self.item_nums)), shape=(n_users, n_items), dtype=np.float32
        )
        mat.sum_duplicates()
        if not weights:
            mat.data[:] = 1.0
        return mat
