"""Recs: a long-format recommendation result (user_id, item_id, score, rank)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailor.data.columns import Columns


@dataclass(frozen=True, slots=True, eq=False)
class Recs:
    """Ranked recommendations, one row per (user, item), ranks starting at 1 within each user.

    Stability: stable.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray

    @classmethod
    def empty(cls) -> Recs:
        """A result with no rows."""
        e = np.array([], dtype=str)
        return cls(e, e, np.array([], np.float32), np.array([], np.int32))

    def __len__(self) -> int:
        return len(self.user_ids)

    def to_frame(self) -> pd.DataFrame:
        """As a DataFrame with columns user_id, item_id, rank, score."""
        return pd.DataFrame(
            {
                Columns.USER_ID: self.user_ids,
                Columns.ITEM_ID: self.item_ids,
                Columns.RANK: self.ranks,
                Columns.SCORE: self.scores,
            }
        )

    def for_user(self, user_id: object) -> list[str]:
        """The item ids recommended to one user, best first."""
        mask = self.user_ids == str(user_id)
        order = np.argsort(self.ranks[mask], kind="stable")
        return [str(i) for i in self.item_ids[mask][order]]
