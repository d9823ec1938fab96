"""Join recommendation lists to held-out truth on integer codes: the evaluation hot path.

``build_lists(recs, truth, width)`` turns two long frames into

* a (users x width) matrix of item codes (each user's list, best first, -1 padded),
* the truth grouped by user (CSR: sorted unique item codes and their relevance), and
* a (users x width) matrix of matched truth rows (-1 where the item is not in the truth),

with ids factorised once (categorical columns, as :func:`tailor.evaluation.io.read_recs` returns
them, skip even that) and no Python loop over users: list positions come from the rank values
directly when they are 1..n per user, and the matching is a parallel numba kernel.

Stability: experimental.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.ids import normalise_ids
from tailor.errors import ConfigError, DataError
from tailor.evaluation._kernels import (
    dedupe_truth,
    fill_by_rank,
    group_by_user,
    ideal_gains,
    match_lists,
)
from tailor.evaluation.io import finite_numbers

RECS_NAME = "recommendations"
TRUTH_NAME = "truth"
BYTES_PER_CELL = 64
"""Memory per (user, list position) of an evaluation: the int32 item and match matrices plus the
float64 gain, ideal-gain and prefix-sum matrices the metrics build from them."""

MemoryCheck = Callable[[int, int], None]
"""``check(n_users, width)``, called before the (users x width) matrices are allocated."""


@dataclass(frozen=True, eq=False)
class Truth:
    """Held-out relevance grouped by user (CSR over the user codes of :class:`RankedLists`).

    Attributes:
        ptr: int64 pointer of length users + 1.
        items: item codes, sorted and unique within each user.
        relevance: float64 relevance of each row (a pair listed twice keeps its largest).
    """

    ptr: np.ndarray
    items: np.ndarray
    relevance: np.ndarray

    def n_relevant(self, relevance: np.ndarray | None = None) -> np.ndarray:
        """Per user, the number of rows with relevance > 0 (optionally of masked relevance)."""
        rel = self.relevance if relevance is None else relevance
        positive = np.concatenate([[0], np.cumsum(rel > 0)])
        return (positive[self.ptr[1:]] - positive[self.ptr[:-1]]).astype(np.float64)

    def user_of_row(self) -> np.ndarray:
        """The user code of each truth row."""
        return np.repeat(np.arange(len(self.ptr) - 1), np.diff(self.ptr))


@dataclass(frozen=True, eq=False)
class RankedLists:
    """Recommendation lists of the truth users, matched against their truth.

    Attributes:
        user_ids: ids of the users in the truth file (row order of every matrix).
        item_ids: the item vocabulary; item codes index it.
        lists: (users, width) int32 item codes, best first, -1 where a list is shorter.
        truth: the truth grouped by user.
        matches: (users, width) int32 index into ``truth`` rows, -1 where not relevant.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    lists: np.ndarray
    truth: Truth
    matches: np.ndarray

    @property
    def width(self) -> int:
        """The longest K the lists are kept for."""
        return int(self.lists.shape[1])

    def relevance_matrix(self, relevance: np.ndarray | None = None, width: int = 0) -> np.ndarray:
        """(users, width) relevance of the item at each position (0 = not relevant).

        Args:
            relevance: per truth row, replacing ``truth.relevance`` (e.g. gains, or zeros for
                rows outside a segment).
            width: the first positions only; 0 = all.
        """
        rel = self.truth.relevance if relevance is None else relevance
        padded = np.append(rel, 0.0)
        return padded[self.matches[:, : width or self.width]]  # -1 picks the appended 0

    def ideal(self, relevance: np.ndarray | None = None, width: int = 0) -> np.ndarray:
        """(users, width) each user's relevances sorted descending, zero-padded."""
        rel = self.truth.relevance if relevance is None else relevance
        return ideal_gains(self.truth.ptr, rel, width or self.width)


def id_codes(
    values: pd.Series, name: str | None = None, column: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Factorise an id column: (integer codes, -1 for missing; the ids of the codes as str).

    Categorical columns reuse their codes (no pass over the rows); other columns are hashed
    once. The ids follow the one id rule, :func:`tailor.data.ids.normalise_ids`, applied to the
    distinct values only: ``17850.0``, ``"17850.0"``, ``" 17850"`` and ``"17850"`` are the same
    id ``"17850"``, as in :class:`~tailor.data.vocab.Vocabulary`; a blank id is missing (code
    -1). Two codes may then name the same id; :func:`lookup` maps both to it.

    Raises:
        DataError: a float id with a fraction, naming ``name``, ``column`` and its row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = np.asarray(values.array.codes), values.cat.categories
    else:
        codes, uniques = pd.factorize(values)
    try:
        ids, blank = _as_text(uniques)
    except DataError as exc:
        rows = np.flatnonzero(codes == (exc.row or 0) - 1)
        row = int(rows[0]) + 1 if len(rows) else None
        raise DataError(exc.problem, file=name, column=column, row=row) from None
    if blank.any():
        codes = np.where(blank[np.maximum(codes, 0)] & (codes >= 0), -1, codes)
    return codes, ids


def _as_text(values: pd.Index | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ids by ``normalise_ids`` as an object array of ``str`` (None where blank) and
    the mask of the blank ones. An Index of strings (categories, factorised uniques) is
    normalised in its own (arrow) dtype: one conversion to objects, at the end."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "OU":
        values = values.astype(object)
    ids = normalise_ids(pd.Series(values, copy=False))
    return ids.to_numpy(dtype=object, na_value=None), ids.isna().to_numpy()


def lookup(uniques: np.ndarray, vocabulary: pd.Index) -> np.ndarray:
    """int32 map from codes over ``uniques`` to codes over ``vocabulary``.

    It has one extra last entry, -1, so that ``lookup[codes]`` sends the missing code -1 to -1.
    """
    return np.append(vocabulary.get_indexer(uniques), -1).astype(np.int32)


def require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise DataError naming the first required column ``frame`` lacks."""
    for col in columns:
        if col not in frame.columns:
            have = ", ".join(map(str, frame.columns[:20]))
            raise DataError(
                f"required column is missing (the table has: {have})", file=name, column=col
            )


def order_values(recs: pd.DataFrame, name: str = RECS_NAME) -> tuple[np.ndarray, bool]:
    """The values that order each list ascending, and whether they are given ranks.

    ``rank`` when present (integer ranks are used as they are), else ``-score`` (higher first).

    Raises:
        DataError: a rank or score is missing or not a finite number.
    """
    column = Columns.RANK if Columns.RANK in recs.columns else Columns.SCORE
    if column not in recs.columns:
        raise DataError("needs a 'rank' or a 'score' column to order each list", file=name)
    series = recs[column]
    if (
        column == Columns.RANK
        and pd.api.types.is_integer_dtype(series)
        and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype)
    ):
        return series.to_numpy(), True
    values = finite_numbers(series, file=name, column=column)
    return (values, True) if column == Columns.RANK else (-values, False)


def build_lists(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    width: int,
    *,
    relevance: str | None = Columns.RELEVANCE,
    extra_items: Sequence[np.ndarray] = (),
    check_memory: MemoryCheck | None = None,
) -> RankedLists:
    """Match every truth user's top-``width`` list to the user's truth.

    The matrices are kept only as wide as the longest list or truth of a truth user (at least 1):
    every position beyond that is empty for every user, so any K, however large, costs no more
    memory than the data itself (the metrics handle K beyond the width).

    Args:
        recs: user_id, item_id and rank or score; users absent from ``truth`` are ignored.
        truth: user_id, item_id and optionally a relevance column (default 1 per row).
        width: the largest K needed.
        relevance: the truth column with graded relevance; missing -> every row has relevance 1.
        extra_items: more item ids (the catalogue) to include in the item vocabulary.
        check_memory: called with (users, width) before allocating; default
            :func:`require_memory` for ``BYTES_PER_CELL`` per cell.

    Raises:
        DataError: a required column is missing, an id is missing, or a rank, score or relevance
            is not a finite number.
        ConfigError: the matrices would need more memory than the machine has available.
    """
    require(recs, (Columns.USER_ID, Columns.ITEM_ID), RECS_NAME)
    require(truth, (Columns.USER_ID, Columns.ITEM_ID), TRUTH_NAME)
    t_user, t_user_ids = id_codes(truth[Columns.USER_ID], TRUTH_NAME, Columns.USER_ID)
    t_item, t_item_ids = id_codes(truth[Columns.ITEM_ID], TRUTH_NAME, Columns.ITEM_ID)
    r_user, r_user_ids = id_codes(recs[Columns.USER_ID], RECS_NAME, Columns.USER_ID)
    r_item, r_item_ids = id_codes(recs[Columns.ITEM_ID], RECS_NAME, Columns.ITEM_ID)
    for codes, name, col in (
        (t_user, TRUTH_NAME, Columns.USER_ID),
        (t_item, TRUTH_NAME, Columns.ITEM_ID),
        (r_user, RECS_NAME, Columns.USER_ID),
        (r_item, RECS_NAME, Columns.ITEM_ID),
    ):
        _no_missing(codes, name, col)
    # only users that occur in the truth (a categorical may carry unused categories)
    users = pd.Index(t_user_ids[np.bincount(t_user, minlength=len(t_user_ids)) > 0]).unique()
    catalogue = [ids[~blank] for ids, blank in map(_as_text, extra_items)]
    items = pd.Index(np.concatenate([r_item_ids, t_item_ids, *catalogue]))
    items = items.unique()
    r_lookup = lookup(r_user_ids, users)
    t_user = lookup(t_user_ids, users)[t_user]
    width = max(1, min(width, max(_longest(r_lookup[r_user], len(users)), _longest(t_user, 0))))
    (check_memory or _default_memory_check)(len(users), width)
    lists = _fill_lists(
        (r_user, r_lookup),
        (r_item, lookup(r_item_ids, items)),
        order_values(recs),
        len(users),
        width,
    )
    rel = _relevance(truth, relevance)
    t_item = lookup(t_item_ids, items)[t_item]
    grouped = _group_truth(t_user, t_item, rel, len(users))
    matches = match_lists(lists, grouped.ptr, grouped.items)
    return RankedLists(
        users.to_numpy(dtype=object), items.to_numpy(dtype=object), lists, grouped, matches
    )


def _longest(user_codes: np.ndarray, n_users: int) -> int:
    """The most rows any user (code >= 0) has."""
    kept = user_codes[user_codes >= 0]
    return int(np.bincount(kept, minlength=n_users).max()) if len(kept) else 0


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(needed: int, what: str, advice: str) -> None:
    """Refuse, before allocating, a step that needs more memory than is available.

    Raises:
        ConfigError: ``needed`` bytes exceed what :func:`available_memory` reports.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise ConfigError(
            f"{what} needs about {_gb(needed)} of memory, more than the {_gb(available)} "
            f"available; {advice}"
        )


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def _default_memory_check(n_users: int, width: int) -> None:
    require_memory(
        n_users * width * BYTES_PER_CELL,
        f"evaluating lists of up to {width:,} items for {n_users:,} users",
        "evaluate shorter lists or fewer users",
    )


def _no_missing(codes: np.ndarray, name: str, column: str) -> None:
    if len(codes) and codes.min() < 0:
        row = int(np.flatnonzero(codes < 0)[0]) + 1
        raise DataError("id is missing", file=name, column=column, row=row)


def _relevance(truth: pd.DataFrame, column: str | None) -> np.ndarray:
    if column is None or column not in truth.columns:
        if column not in (None, Columns.RELEVANCE):
            raise DataError("relevance column is missing", file=TRUTH_NAME, column=column)
        return np.ones(len(truth))
    return finite_numbers(truth[column], file=TRUTH_NAME, column=column, what="relevance")


def _fill_lists(
    users: tuple[np.ndarray, np.ndarray],
    items: tuple[np.ndarray, np.ndarray],
    order: tuple[np.ndarray, bool],
    n_users: int,
    width: int,
) -> np.ndarray:
    """(n_users, width) item codes by list position; rows of users not in the truth are dropped.

    ``users``/``items`` are (codes, lookup) pairs: the code of row r is ``lookup[codes[r]]``.
    Ranks that are exactly 1..n per user are placed directly (one pass); anything else (scores,
    ties, gaps) is ordered by a stable sort, so ties keep file order.
    """
    lists = np.full((n_users, width), -1, np.int32)
    values, is_rank = order
    if is_rank and fill_by_rank(users[0], users[1], items[0], items[1], values, lists):
        return lists
    lists[:] = -1
    u = users[1][users[0]]
    keep = u >= 0
    u, it, key = u[keep], items[1][items[0][keep]], values[keep]
    seq = np.lexsort((np.arange(len(u)), key, u))
    u, it = u[seq], it[seq]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    positions = np.arange(len(u)) - np.repeat(starts, np.diff(np.r_[starts, len(u)]))
    top = positions < width
    lists[u[top], positions[top]] = it[top]
    return lists


def _group_truth(
    users: np.ndarray, items: np.ndarray, relevance: np.ndarray, n_users: int
) -> Truth:
    ptr, order = group_by_user(users, n_users)
    g_items = items[order]
    g_rel = relevance[order]
    keep, _ = dedupe_truth(ptr, g_items, g_rel)
    kept_ptr = np.concatenate([[0], np.cumsum(keep)])[ptr]
    return Truth(kept_ptr.astype(np.int64), g_items[keep], g_rel[keep])
