"""Numba kernels of the evaluation hot path: grouping truth by user and matching lists to it.

Each kernel runs in parallel over users; none allocates per user. The reference semantics are the
plain-Python loops in ``tests/evaluation/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def group_by_user(user_codes: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of rows by user code: returns (CSR pointer of length n_users + 1, order).

    ``order[ptr[u]:ptr[u + 1]]`` are the row indices of user ``u`` in their original order.
    """
    counts = np.zeros(n_users + 1, np.int64)
    for u in user_codes:
        counts[u + 1] += 1
    ptr = np.cumsum(counts)
    fill = ptr[:-1].copy()
    order = np.empty(len(user_codes), np.int64)
    for row in range(len(user_codes)):
        u = user_codes[row]
        order[fill[u]] = row
        fill[u] += 1
    return ptr, order


@njit(cache=True, parallel=True)
def dedupe_truth(
    ptr: np.ndarray, items: np.ndarray, relevance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Within each user's slice, sort by item and keep one row per item with its largest relevance.

    ``items``/``relevance`` are modified in place (sorted by item within each user); the kept rows
    are flagged in the returned mask, and the second result is each user's count of kept rows.
    """
    keep = np.zeros(len(items), np.bool_)
    n_kept = np.zeros(len(ptr) - 1, np.int64)
    for u in prange(len(ptr) - 1):
        lo, hi = ptr[u], ptr[u + 1]
        if hi == lo:
            continue
        order = np.argsort(items[lo:hi], kind="mergesort")
        items[lo:hi] = items[lo:hi][order]
        relevance[lo:hi] = relevance[lo:hi][order]
        last = lo
        keep[lo] = True
        n_kept[u] = 1
        for r in range(lo + 1, hi):
            if items[r] == items[last]:
                relevance[last] = max(relevance[last], relevance[r])
            else:
                last = r
                keep[r] = True
                n_kept[u] += 1
    return keep, n_kept


@njit(cache=True, parallel=True)
def match_lists(lists: np.ndarray, ptr: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For every list position, the index of the matching truth row, or -1.

    Args:
        lists: (users, K) item codes, -1 where a list is shorter than K.
        ptr: CSR pointer of the truth rows per user (length users + 1).
        items: truth item codes, sorted and unique within each user's slice.

    Returns:
        (users, K) int32 truth-row indices. An item repeated in one list matches only at its
        first position, so a list never earns credit twice for one relevant item.
    """
    n_users, width = lists.shape
    out = np.empty((n_users, width), np.int32)
    for u in prange(n_users):
        out[u, :] = -1
        lo, hi = ptr[u], ptr[u + 1]
        if hi == lo:
            continue
        first, last = items[lo], items[hi - 1]
        for j in range(width):
            item = lists[u, j]
            if item < first or item > last:
                continue
            left, right = lo, hi  # binary search in the user's sorted truth items
            while left < right:
                mid = (left + right) >> 1
                if items[mid] < item:
                    left = mid + 1
                else:
                    right = mid
            if left < hi and items[left] == item:
                repeated = False
                for prev in range(j):
                    if out[u, prev] == left:
                        repeated = True
                        break
                if not repeated:
                    out[u, j] = left
    return out


@njit(cache=True, parallel=True)
def ideal_gains(ptr: np.ndarray, relevance: np.ndarray, width: int) -> np.ndarray:
    """(users, width) matrix of each user's relevances sorted descending, zero-padded."""
    n_users = len(ptr) - 1
    out = np.zeros((n_users, width), np.float64)
    longest = 0
    for u in range(n_users):
        longest = max(longest, ptr[u + 1] - ptr[u])
    n_blocks = 64
    chunk = (n_users + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        ranked = np.empty(longest)  # one buffer per block: no allocation per user
        for u in range(b * chunk, min((b + 1) * chunk, n_users)):
            n = _sorted_desc(relevance[ptr[u] : ptr[u + 1]], ranked)
            for j in range(min(width, n)):
                out[u, j] = ranked[j]
    return out


@njit(cache=True)
def fill_by_rank(
    user_codes: np.ndarray,
    user_lookup: np.ndarray,
    item_codes: np.ndarray,
    item_lookup: np.ndarray,
    ranks: np.ndarray,
    lists: np.ndarray,
) -> bool:
    """Write item ``item_lookup[item_codes[r]]`` at ``lists[user_lookup[user_codes[r]], rank - 1]``.

    Rows whose user maps to -1 (not in the truth) and ranks beyond the width are skipped. Returns
    False, leaving ``lists`` partly written, when the ranks are not exactly 1..n for some user (a
    rank below 1, a repeated rank, or a gap); the caller then orders the rows by sorting.
    """
    width = lists.shape[1]
    for row in range(len(ranks)):
        u = user_lookup[user_codes[row]]
        if u < 0:
            continue
        rank = ranks[row]
        if rank < 1:
            return False
        if rank > width:
            continue
        pos = np.int64(rank) - 1
        if lists[u, pos] >= 0:
            return False
        lists[u, pos] = item_lookup[item_codes[row]]
    for u in range(lists.shape[0]):
        for j in range(1, width):
            if lists[u, j] >= 0 and lists[u, j - 1] < 0:
                return False
    return True


@njit(cache=True, parallel=True)
def curve_sums(
    matches: np.ndarray, ptr: np.ndarray, gains: np.ndarray, map_min: bool
) -> np.ndarray:
    """Sums over users of NDCG, precision, recall, AP, RR and hit@K for every K = 1..width.

    Args:
        matches: (users, width) truth-row index of each position, -1 if not relevant.
        ptr: CSR pointer of the truth rows per user.
        gains: gain of each truth row (0 = not relevant); users without a positive gain
            contribute nothing.
        map_min: AP denominator min(R, K) (True) or R (False).

    Returns:
        (6, width) array: rows ndcg, precision, recall, map, mrr, hit_rate; column K - 1.
        The definitions are those of :mod:`tailor.evaluation.metrics`.
    """
    n_users, width = matches.shape
    n_blocks = 64
    partial = np.zeros((n_blocks, 6, width))
    discount = 1.0 / np.log2(np.arange(width) + 2.0)
    longest = 0
    for u in range(n_users):
        longest = max(longest, ptr[u + 1] - ptr[u])
    for b in prange(n_blocks):
        acc = partial[b]
        ideal = np.empty(longest)  # one buffer per block: no allocation per user
        chunk = (n_users + n_blocks - 1) // n_blocks
        for u in range(b * chunk, min((b + 1) * chunk, n_users)):
            n_ideal = _sorted_desc(gains[ptr[u] : ptr[u + 1]], ideal)
            n_rel = 0.0
            for i in range(n_ideal):
                if ideal[i] > 0:
                    n_rel += 1.0
            if n_rel == 0:
                continue
            hits = 0.0
            dcg = 0.0
            idcg = 0.0
            ap = 0.0
            rr = 0.0
            for j in range(width):
                disc = discount[j]
                if j < n_ideal:
                    idcg += ideal[j] * disc
                row = matches[u, j]
                if row >= 0 and gains[row] > 0:
                    hits += 1.0
                    dcg += gains[row] * disc
                    ap += hits / (j + 1.0)
                    if rr == 0.0:
                        rr = 1.0 / (j + 1.0)
                k = j + 1.0
                if idcg > 0:
                    acc[0, j] += dcg / idcg
                acc[1, j] += hits / k
                acc[2, j] += hits / n_rel
                acc[3, j] += ap / (min(n_rel, k) if map_min else n_rel)
                acc[4, j] += rr
                acc[5, j] += 1.0 if hits > 0 else 0.0
    return partial.sum(axis=0)


@njit(cache=True)
def _sorted_desc(values: np.ndarray, out: np.ndarray) -> int:
    """Insertion-sort ``values`` descending into ``out`` (short per-user slices); returns count."""
    n = len(values)
    for i in range(n):
        v = values[i]
        j = i
        while j > 0 and out[j - 1] < v:
            out[j] = out[j - 1]
            j -= 1
        out[j] = v
    return n
