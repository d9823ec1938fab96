"""Recommendation results: :class:`Recs` (long-format arrays: user_id, item_id, score, rank) and
:class:`RecsFrame`, the DataFrame that ``model.recommend`` returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailor.data.columns import Columns

UNKNOWN_USERS = "unknown_users"
"""Key of ``RecsFrame.attrs``: the requested users the model does not know (they have no rows)."""
HTML_ROWS = 20
"""Rows shown by the notebook display of a result."""


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

    def _repr_html_(self) -> str:
        """Notebook display: the size, then the first rows as a table."""
        users = len(np.unique(self.user_ids)) if len(self) else 0
        head = f"<p><b>Recs</b>: {len(self):,} rows for {users:,} users</p>"
        return head + _frame_html(self.to_frame())


class RecsFrame(pd.DataFrame):
    """What ``model.recommend`` returns: a plain pandas DataFrame with columns ``user_id``,
    ``item_id``, ``rank``, ``score`` (users in request order, ranks from 1), plus:

    - ``attrs["unknown_users"]`` (also ``.unknown_users``): the requested ids the model does not
      know, in request order, without duplicates. They get no rows (a warning says how many);
      answer them with a fallback, e.g. ``Popularity`` or :class:`tailor.pipeline.Pipeline`.
    - ``to_frame()`` and ``for_user(id)``, as on :class:`Recs`, so code written for the earlier
      return type keeps working.

    Operations on it (filters, merges) give ordinary DataFrames.

    Stability: stable.
    """

    @classmethod
    def from_recs(cls, recs: Recs, unknown_users: list[str] | None = None) -> RecsFrame:
        """The frame of ``recs``, with the unknown users recorded in ``attrs``."""
        frame = cls(recs.to_frame())
        frame.attrs[UNKNOWN_USERS] = list(unknown_users or [])
        return frame

    @property
    def unknown_users(self) -> list[str]:
        """Requested user ids the model does not know (no rows for them)."""
        return list(self.attrs.get(UNKNOWN_USERS, []))

    def to_frame(self) -> pd.DataFrame:
        """An ordinary DataFrame copy (attrs included)."""
        out = pd.DataFrame(self, copy=True)
        out.attrs = dict(self.attrs)
        return out

    def for_user(self, user_id: object) -> list[str]:
        """The item ids recommended to one user, best first."""
        rows = self[self[Columns.USER_ID].astype(str) == str(user_id)]
        return [str(i) for i in rows.sort_values(Columns.RANK, kind="stable")[Columns.ITEM_ID]]


def _frame_html(frame: pd.DataFrame) -> str:
    shown = frame.head(HTML_ROWS)
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}")
    more = len(frame) - len(shown)
    return body + (f"<p>... {more:,} more rows</p>" if more > 0 else "")
