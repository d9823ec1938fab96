"""A few users' recommendation lists next to their held-out truth, with product titles: what a
person reads in report.html to see what the numbers mean.

Stability: experimental.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.random import make_rng

SAMPLE_USERS = 5
"""Users shown by default."""
SAMPLE_LENGTH = 10
"""List positions and truth items shown per user by default."""


@dataclass(frozen=True)
class SampleList:
    """One user's list and truth.

    Attributes:
        user_id: the user.
        recs: ``rank, item_id, title, relevant`` (the first positions of the list, best first).
        truth: ``item_id, title, rank`` (the user's relevant held-out items; ``rank`` is the
            position in the whole list, NaN when not listed), listed items first.
        n_recs: length of the user's whole list.
        n_truth: number of relevant held-out items.
    """

    user_id: str
    recs: pd.DataFrame
    truth: pd.DataFrame
    n_recs: int
    n_truth: int


def sample_lists(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    users: Sequence[str] | np.ndarray,
    *,
    items: pd.DataFrame | None = None,
    n_users: int = SAMPLE_USERS,
    length: int = SAMPLE_LENGTH,
    relevance: str | None = Columns.RELEVANCE,
    seed: int = 0,
) -> list[SampleList]:
    """``n_users`` of ``users`` drawn at random (seeded), each with the first ``length``
    positions of their list and up to ``length`` of their relevant truth items.

    Args:
        recs: ``user_id, item_id`` and ``rank`` or ``score`` (as for
            :func:`~tailor.evaluation.runner.evaluate`: ties keep file order).
        truth: ``user_id, item_id`` and optionally the relevance column (rows <= 0 are left out).
        users: the users to draw from (e.g. ``result.per_user.user_id``: the evaluated ones).
        items: the catalogue; its ``title`` column names the products when present.
        n_users: how many users.
        length: positions and truth items shown per user.
        relevance: the truth's relevance column (1 per row when absent).
        seed: seed of the draw.
    """
    pool = np.asarray(pd.unique(np.asarray(users, dtype=object).astype(str)))
    if len(pool) == 0 or n_users <= 0:
        return []
    chosen = np.sort(make_rng(seed).choice(pool, size=min(n_users, len(pool)), replace=False))
    lists = _ordered(recs, chosen)
    held = truth.loc[_among(truth[Columns.USER_ID], chosen)]
    held = held.assign(
        **{Columns.USER_ID: held[Columns.USER_ID].astype(str)},
        **{Columns.ITEM_ID: held[Columns.ITEM_ID].astype(str)},
    )
    if relevance is not None and relevance in held.columns:
        held = held.loc[pd.to_numeric(held[relevance]).to_numpy(np.float64) > 0]
    titles = _titles(items)
    out = []
    for user in chosen:
        mine = lists.loc[lists[Columns.USER_ID] == user]
        wanted = set(held.loc[held[Columns.USER_ID] == user, Columns.ITEM_ID])
        position = dict(zip(mine[Columns.ITEM_ID], mine[Columns.RANK], strict=True))
        head = mine.head(length)
        shown = pd.DataFrame(
            {
                Columns.RANK: head[Columns.RANK].to_numpy(),
                Columns.ITEM_ID: head[Columns.ITEM_ID].to_numpy(),
                Columns.TITLE: [titles.get(i, "") for i in head[Columns.ITEM_ID]],
                "relevant": [i in wanted for i in head[Columns.ITEM_ID]],
            }
        )
        ranks = [position.get(i, np.nan) for i in sorted(wanted)]
        expected = pd.DataFrame(
            {
                Columns.ITEM_ID: sorted(wanted),
                Columns.TITLE: [titles.get(i, "") for i in sorted(wanted)],
                Columns.RANK: np.asarray(ranks, dtype=np.float64),
            }
        )
        expected = expected.sort_values(Columns.RANK, kind="stable", na_position="last")
        out.append(
            SampleList(
                user_id=str(user),
                recs=shown,
                truth=expected.head(length).reset_index(drop=True),
                n_recs=len(mine),
                n_truth=len(wanted),
            )
        )
    return out


def _ordered(recs: pd.DataFrame, users: np.ndarray) -> pd.DataFrame:
    """The chosen users' rows, ids as text, each list best first with ranks 1..n."""
    rows = recs.loc[_among(recs[Columns.USER_ID], users)]
    frame = pd.DataFrame(
        {
            Columns.USER_ID: rows[Columns.USER_ID].astype(str).to_numpy(),
            Columns.ITEM_ID: rows[Columns.ITEM_ID].astype(str).to_numpy(),
            "order": (
                pd.to_numeric(rows[Columns.RANK]).to_numpy(np.float64)
                if Columns.RANK in rows.columns
                else -pd.to_numeric(rows[Columns.SCORE]).to_numpy(np.float64)
            ),
        }
    )
    frame = frame.sort_values([Columns.USER_ID, "order"], kind="stable")
    frame[Columns.RANK] = frame.groupby(Columns.USER_ID).cumcount() + 1
    return frame.drop(columns="order").reset_index(drop=True)


def _among(ids: pd.Series, chosen: np.ndarray) -> np.ndarray:
    """Which rows have an id in ``chosen``, without turning every row of a categorical (a
    Parquet file's) column into text."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        wanted = np.flatnonzero(pd.Index(ids.cat.categories.astype(str)).isin(chosen))
        return np.isin(np.asarray(ids.cat.codes), wanted)
    return np.asarray(ids.astype(str).isin(chosen), dtype=bool)


def _titles(items: pd.DataFrame | None) -> dict[str, str]:
    if items is None or Columns.TITLE not in items.columns or Columns.ITEM_ID not in items.columns:
        return {}
    pairs = items[[Columns.ITEM_ID, Columns.TITLE]].dropna().drop_duplicates(Columns.ITEM_ID)
    ids, names = pairs[Columns.ITEM_ID].astype(str), pairs[Columns.TITLE].astype(str)
    return dict(zip(ids, names, strict=True))
