"""Ad-hoc histories (a session's recent items, a cart) scored by a fitted model:
``SupportsHistory.score_history``.

A history is item numbers in the order they happened, oldest first, with optional weights (event
weights, or decay factors the caller chose). The item-item models build the profile row their
``fit`` builds for a user (:func:`history_row`, :func:`positional_row`) and score it like a row of
their own; the factor models fold a user vector in from the item factors
(:func:`fold_in_vector`, one regularised least-squares solve) and score it like a learned one.
"""

from __future__ import annotations

import threading
import weakref
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp


def check_history(
    item_nums: np.ndarray, weights: np.ndarray | None, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """The history as int64 item numbers and float64 weights (1 each when None).

    Raises:
        IndexError: an item number outside ``0 .. n_items - 1``.
        ValueError: ``weights`` of another length, or not finite.
    """
    nums = np.asarray(item_nums, dtype=np.int64).reshape(-1)
    if len(nums) and (nums.min() < 0 or nums.max() >= n_items):
        raise IndexError(f"item numbers must be in 0..{n_items - 1}")
    if weights is None:
        return nums, np.ones(len(nums))
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != len(nums):
        raise ValueError(f"weights has {len(w)} entries for {len(nums)} items")
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite")
    return nums, w


def csr_row(matrix: sp.csr_array, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Column numbers (int64) and values (float64) of one row of a CSR matrix.

    Raises:
        IndexError: ``row`` outside ``0 .. n_rows - 1``.
    """
    if not 0 <= row < matrix.shape[0]:
        raise IndexError(f"user numbers must be in 0..{matrix.shape[0] - 1}")
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[lo:hi].astype(np.int64), matrix.data[lo:hi].astype(np.float64)


def history_row(
    item_nums: np.ndarray, weights: np.ndarray | None, n_items: int, *, binary: bool
) -> sp.csr_array:
    """A 1 x ``n_items`` float32 profile row with the rules of
    :func:`~tailor.models._matrices.interaction_matrix`: ``binary``: the largest weight of each
    distinct item (1 without weights); otherwise the summed weights."""
    nums, w = check_history(item_nums, weights, n_items)
    if binary and len(nums):
        best = np.full(n_items, -np.inf)
        np.maximum.at(best, nums, w)
        cols = np.unique(nums)
        vals = best[cols]
    else:
        cols, inverse = np.unique(nums, return_inverse=True)
        vals = np.bincount(inverse, weights=w, minlength=len(cols))
    row = sp.csr_array(
        (vals.astype(np.float32), cols, np.array([0, len(cols)])), shape=(1, n_items)
    )
    return row


def positional_row(
    item_nums: np.ndarray, n_items: int, half_life: float | None, floor: float
) -> sp.csr_array:
    r"""A 1 x ``n_items`` positional profile row: distinct items ranked from the newest
    (``k = 0``: the last entry of ``item_nums``; an item's position is its last occurrence), each
    weighing :math:`f + (1 - f)\,2^{-k/h}` (1 without a half-life), as RecencyEASE's profiles."""
    nums, _ = check_history(item_nums, None, n_items)
    last = {int(i): p for p, i in enumerate(nums.tolist())}  # later occurrences win
    newest_first = sorted(last, key=lambda i: -last[i])
    cols = np.array(newest_first, dtype=np.int64)
    if half_life is None:
        vals = np.ones(len(cols))
    else:
        vals = floor + (1.0 - floor) * np.exp2(-np.arange(len(cols)) / half_life)
    order = np.argsort(cols)
    return sp.csr_array(
        (vals[order].astype(np.float32), cols[order], np.array([0, len(cols)])),
        shape=(1, n_items),
    )


def fold_in_vector(
    item_factors: np.ndarray,
    item_nums: np.ndarray,
    confidence: np.ndarray,
    regularization: float,
) -> np.ndarray:
    r"""The user vector :math:`x` that an implicit-feedback ALS user step gives a history.

    Minimises :math:`\sum_i c_i (p_i - x^\top q_i)^2 + \lambda \lVert x\rVert^2` over every item,
    with preference :math:`p_i = 1` and confidence :math:`c_i` (``confidence``) for the history's
    items and :math:`p_i = 0`, :math:`c_i = 1` for the others:

    .. math:: x = (Y^\top Y + \lambda I + \textstyle\sum_{i \in H} (c_i - 1) q_i q_i^\top)^{-1}
              \textstyle\sum_{i \in H} c_i q_i

    (Hu, Koren & Volinsky 2008; implicit's ``recalculate_user`` solves the same system). Computed
    in float64; a singular system (:math:`\lambda = 0`) gets the least-squares solution.

    Args:
        item_factors: (n_items, k) item factors :math:`Y`.
        item_nums: distinct item numbers of the history.
        confidence: :math:`c_i` of each, aligned with ``item_nums``.
        regularization: :math:`\lambda`.

    Returns:
        float32 (k,) vector.
    """
    k = item_factors.shape[1]
    yh = np.asarray(item_factors[np.asarray(item_nums, dtype=np.int64)], dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    lhs = gram(item_factors) + regularization * np.eye(k) + (yh * (c - 1.0)[:, None]).T @ yh
    rhs = c @ yh
    try:
        x = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        x = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    out: np.ndarray = x.astype(np.float32)
    return out


_GRAMS: dict[int, tuple[weakref.ref[np.ndarray], np.ndarray]] = {}
"""id(item factors) -> (a weak reference to them, their float64 Gram matrix)."""
_GRAMS_LOCK = threading.Lock()


def gram(factors: np.ndarray) -> np.ndarray:
    r""":math:`Y^\top Y` in float64, computed once per factor array (read-only; O(n k^2), the
    costly part of a fold-in over a large catalogue). Models replace their factor arrays when
    they change (``fit``, ``partial_fit``, ``load_state``), never write into them afterwards,
    so the array's identity keys the cache; an entry goes with its array."""
    key = id(factors)
    hit = _GRAMS.get(key)
    if hit is not None and hit[0]() is factors:
        return hit[1]
    y = np.asarray(factors, dtype=np.float64)
    value = y.T @ y
    value.flags.writeable = False

    def forget(_: object, key: int = key) -> None:
        with _GRAMS_LOCK:
            entry = _GRAMS.get(key)
            if entry is not None and entry[0]() is None:
                del _GRAMS[key]

    with _GRAMS_LOCK:
        _GRAMS[key] = (weakref.ref(factors, forget), value)
    return value


def distinct_weights(
    item_nums: np.ndarray, weights: np.ndarray | None, n_items: int, *, binary: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct item numbers of a history (sorted) and their values by :func:`history_row`'s
    rules."""
    row = history_row(item_nums, weights, n_items, binary=binary)
    return row.indices.astype(np.int64), row.data.astype(np.float64)


class _Factors(Protocol):
    """What :func:`fold_in_scores` reads of a factor model (``SupportsFactors``)."""

    @property
    def user_factors(self) -> np.ndarray: ...

    @property
    def item_factors(self) -> np.ndarray: ...

    def factor_offsets(self) -> tuple[np.ndarray, np.ndarray]: ...


FoldMethod = Literal["least_squares", "ranking"]


def ranking_vector(
    item_factors: np.ndarray, user_factors: np.ndarray, item_nums: np.ndarray, r: np.ndarray
) -> np.ndarray:
    r"""The user vector a ranking loss (BPR, WARP) starts to learn for a history:
    :math:`x \propto \sum_{i \in H} r_i (q_i - \bar q)`, the direction of the pairwise loss's
    gradient at :math:`x = 0` with negatives drawn uniformly from the catalogue
    (:math:`\bar q`: the mean item vector), scaled to the median norm of the learned user
    vectors (:func:`typical_norm`), the scale the item biases were fitted against. Zero for an
    empty history.

    A least-squares fold (:func:`fold_in_vector`) suits ALS, whose objective it is; on factors
    learned by a ranking loss its 0/1 targets put the vector on another scale than the biases
    (popular items win) and on planted taste groups it ranked the wrong group's items, where this
    direction agrees with ``partial_fit``'s SGD fold-in.
    """
    y = np.asarray(item_factors, dtype=np.float64)
    nums = np.asarray(item_nums, dtype=np.int64)
    x = r @ y[nums] - r.sum() * y.mean(axis=0) if len(nums) else np.zeros(y.shape[1])
    norm = float(np.linalg.norm(x))
    if norm > 0 and len(user_factors):
        x *= typical_norm(user_factors) / norm
    out: np.ndarray = x.astype(np.float32)
    return out


NORM_SAMPLE = 10_000
"""Users whose vector norms give :func:`typical_norm` (evenly spaced rows above this many)."""


def typical_norm(user_factors: np.ndarray) -> float:
    """The median norm of the learned user vectors; over :data:`NORM_SAMPLE` evenly spaced
    users when there are more (deterministic, and a request's cost does not grow with them)."""
    rows = user_factors
    if len(rows) > NORM_SAMPLE:
        rows = rows[np.linspace(0, len(rows) - 1, NORM_SAMPLE).astype(np.int64)]
    return float(np.median(np.linalg.norm(np.asarray(rows, dtype=np.float64), axis=1)))


def fold_in_scores(
    model: _Factors,
    item_nums: np.ndarray,
    weights: np.ndarray | None,
    *,
    method: FoldMethod,
    regularization: float = 0.0,
    alpha: float = 1.0,
    binary: bool = True,
    constant_columns: int = 0,
) -> np.ndarray:
    r"""``score_history`` of a factor model (``SupportsFactors``): a user vector folded in from
    the history, scored as the model scores a learned one.

    The history's distinct items carry :math:`r_i`: 1 (``binary``) or the summed ``weights``.
    ``method``: ``least_squares`` solves the implicit-ALS user step (:func:`fold_in_vector`,
    confidence :math:`\alpha r_i`, :math:`\lambda` = ``regularization``); ``ranking`` takes
    :func:`ranking_vector`. The last ``constant_columns`` factor columns hold a value every user
    has as 1 (BPR's item bias column): they are not folded, and the item's value there is added
    to its score. Scores: :math:`x^\top q_i + b_i` with :math:`b_i` the item part of
    ``factor_offsets()`` (the user part is left out: a new user has none).

    Returns:
        float32 (n_items,) scores.
    """
    factors = model.item_factors
    n_items, width = factors.shape
    nums, r = distinct_weights(item_nums, weights, n_items, binary=binary)
    k = width - constant_columns
    part = factors[:, :k] if constant_columns else factors  # the array itself keys gram()
    if method == "least_squares":
        x = fold_in_vector(part, nums, alpha * r, regularization)
    else:
        x = ranking_vector(part, model.user_factors[:, :k], nums, r)
    scores: np.ndarray = part @ x
    if constant_columns:
        scores += factors[:, k:].sum(axis=1)
    scores += model.factor_offsets()[1]
    return scores.astype(np.float32, copy=False)
