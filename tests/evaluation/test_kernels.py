"""The numba kernels of tailor.evaluation._kernels against plain-Python loops.

Each kernel gets a small planted case with hand-written expectations and random cases checked
against a reference loop written from its docstring, without numba.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailor.evaluation import _kernels as k
from tailor.evaluation import metrics as m

SEEDS = range(5)


# ---- reference loops ---------------------------------------------------------------------------


def ref_group_by_user(codes: list[int], n_users: int) -> tuple[list[int], list[int]]:
    ptr, order = [0], []
    for u in range(n_users):
        rows = [r for r, c in enumerate(codes) if c == u]
        order += rows
        ptr.append(len(order))
    return ptr, order


def ref_dedupe(
    ptr: list[int], items: list[int], rel: list[float]
) -> tuple[list[int], list[float], list[bool], list[int]]:
    """Sorted items and relevances, the kept mask and per-user kept counts."""
    out_items, out_rel, keep, n_kept = [], [], [], []
    for u in range(len(ptr) - 1):
        rows = sorted(range(ptr[u], ptr[u + 1]), key=lambda r: items[r])  # stable
        s_items, s_rel = [items[r] for r in rows], [rel[r] for r in rows]
        first_of: dict[int, int] = {}
        flags = []
        for j, item in enumerate(s_items):
            if item in first_of:
                flags.append(False)
                kept = first_of[item]
                s_rel[kept] = max(s_rel[kept], s_rel[j])
            else:
                first_of[item] = j
                flags.append(True)
        out_items += s_items
        out_rel += s_rel
        keep += flags
        n_kept.append(sum(flags))
    return out_items, out_rel, keep, n_kept


def ref_match(lists: list[list[int]], ptr: list[int], items: list[int]) -> list[list[int]]:
    out = []
    for u, row in enumerate(lists):
        truth = {items[r]: r for r in range(ptr[u], ptr[u + 1])}
        matched: list[int] = []
        for item in row:
            r = truth.get(item, -1) if item >= 0 else -1
            matched.append(-1 if r in matched else r)
        out.append(matched)
    return out


def ref_ideal(ptr: list[int], rel: list[float], width: int) -> list[list[float]]:
    out = []
    for u in range(len(ptr) - 1):
        top = sorted(rel[ptr[u] : ptr[u + 1]], reverse=True)[:width]
        out.append(top + [0.0] * (width - len(top)))
    return out


def ref_fill(
    user_codes: list[int],
    user_lookup: list[int],
    item_codes: list[int],
    item_lookup: list[int],
    ranks: list[int],
    shape: tuple[int, int],
) -> tuple[bool, list[list[int]]]:
    """Whether the in-truth users' ranks within the width are each exactly 1..n, and the lists."""
    n_users, width = shape
    placed: dict[int, dict[int, int]] = {}
    for uc, ic, rank in zip(user_codes, item_codes, ranks, strict=True):
        u = user_lookup[uc]
        if u < 0:
            continue
        if rank < 1:
            return False, []
        if rank > width:
            continue
        if rank in placed.setdefault(u, {}):
            return False, []
        placed[u][rank] = item_lookup[ic]
    lists = [[-1] * width for _ in range(n_users)]
    for u, by_rank in placed.items():
        if sorted(by_rank) != list(range(1, len(by_rank) + 1)):
            return False, []
        for rank, item in by_rank.items():
            lists[u][rank - 1] = item
    return True, lists


def ref_curve_sums(
    matches: list[list[int]], ptr: list[int], gains: list[float], map_min: bool
) -> list[list[float]]:
    """Each metric@K straight from its definition, per user and K, summed over users."""
    width = len(matches[0]) if matches else 0
    sums = [[0.0] * width for _ in range(6)]
    for u, row in enumerate(matches):
        own = gains[ptr[u] : ptr[u + 1]]
        n_rel = sum(1 for g in own if g > 0)
        if n_rel == 0:
            continue
        ideal = sorted(own, reverse=True)
        for kk in range(1, width + 1):
            got = [gains[r] if r >= 0 and gains[r] > 0 else 0.0 for r in row[:kk]]
            hit_at = [j for j, g in enumerate(got) if g > 0]
            dcg = sum(g / math.log2(j + 2) for j, g in enumerate(got))
            idcg = sum(g / math.log2(j + 2) for j, g in enumerate(ideal[:kk]))
            ap = sum((n + 1) / (j + 1) for n, j in enumerate(hit_at))
            values = [
                dcg / idcg if idcg > 0 else 0.0,
                len(hit_at) / kk,
                len(hit_at) / n_rel,
                ap / (min(n_rel, kk) if map_min else n_rel),
                1.0 / (hit_at[0] + 1) if hit_at else 0.0,
                1.0 if hit_at else 0.0,
            ]
            for metric, value in enumerate(values):
                sums[metric][kk - 1] += value
    return sums


# ---- random inputs -----------------------------------------------------------------------------


def random_truth(rng: np.random.Generator, n_users: int, n_items: int) -> tuple[np.ndarray, ...]:
    """A CSR truth with sorted unique items per user (some users empty) and gains in {0,1,2,3}."""
    ptr, items, gains = [0], [], []
    for _ in range(n_users):
        n = int(rng.integers(0, min(6, n_items) + 1))
        own = np.sort(rng.choice(n_items, size=n, replace=False))
        items += own.tolist()
        gains += rng.integers(0, 4, size=n).astype(float).tolist()
        ptr.append(len(items))
    return np.array(ptr, np.int64), np.array(items, np.int32), np.array(gains, np.float64)


def random_lists(rng: np.random.Generator, n_users: int, n_items: int, width: int) -> np.ndarray:
    """Item codes per position, with repeats and -1 padding at the end of some lists."""
    lists = rng.integers(0, n_items, size=(n_users, width)).astype(np.int32)
    lengths = rng.integers(0, width + 1, size=n_users)
    lists[np.arange(width)[None, :] >= lengths[:, None]] = -1
    return lists


# ---- group_by_user -----------------------------------------------------------------------------


def test_group_by_user_planted() -> None:
    ptr, order = k.group_by_user(np.array([2, 0, 2, 3, 0, 2], np.int64), 5)
    assert ptr.tolist() == [0, 2, 2, 5, 6, 6]  # user 1 and user 4 have no rows
    assert order.tolist() == [1, 4, 0, 2, 5, 3]  # each user's rows in their original order


@pytest.mark.parametrize("seed", SEEDS)
def test_group_by_user_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users = int(rng.integers(1, 12))
    codes = rng.integers(0, n_users, size=int(rng.integers(0, 60))).astype(np.int64)
    ptr, order = k.group_by_user(codes, n_users)
    assert (ptr.tolist(), order.tolist()) == ref_group_by_user(codes.tolist(), n_users)


# ---- dedupe_truth ------------------------------------------------------------------------------


def test_dedupe_truth_planted() -> None:
    ptr = np.array([0, 4, 4, 6], np.int64)
    items = np.array([7, 3, 7, 5, 2, 2], np.int32)
    rel = np.array([1.0, 2.0, 3.0, 0.0, 0.0, 0.0])
    keep, n_kept = k.dedupe_truth(ptr, items, rel)
    assert items.tolist() == [3, 5, 7, 7, 2, 2]  # sorted by item within each user, in place
    assert keep.tolist() == [True, True, True, False, True, False]
    assert rel[keep].tolist() == [2.0, 0.0, 3.0, 0.0]  # item 7 keeps the larger relevance
    assert n_kept.tolist() == [3, 0, 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_dedupe_truth_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users = int(rng.integers(1, 10))
    ptr = np.r_[0, np.cumsum(rng.integers(0, 8, size=n_users))].astype(np.int64)
    items = rng.integers(0, 6, size=ptr[-1]).astype(np.int32)  # few items: many duplicates
    rel = rng.integers(0, 4, size=ptr[-1]).astype(np.float64)
    expected = ref_dedupe(ptr.tolist(), items.tolist(), rel.tolist())
    keep, n_kept = k.dedupe_truth(ptr, items, rel)
    assert (items.tolist(), rel.tolist(), keep.tolist(), n_kept.tolist()) == expected


# ---- match_lists -------------------------------------------------------------------------------


def test_match_lists_planted() -> None:
    ptr = np.array([0, 3, 3, 5], np.int64)
    items = np.array([2, 5, 9, 1, 4], np.int32)  # user 0: 2 5 9; user 1: none; user 2: 1 4
    lists = np.array([[5, 0, 5, 9, 10], [2, 5, -1, -1, -1], [4, 1, 3, 4, -1]], np.int32)
    out = k.match_lists(lists, ptr, items)
    assert out.dtype == np.int32
    assert out.tolist() == [
        [1, -1, -1, 2, -1],  # the repeated 5 earns nothing; 0 and 10 are outside [2, 9]
        [-1, -1, -1, -1, -1],  # no truth: nothing matches
        [4, 3, -1, -1, -1],  # rows index the whole truth arrays, not the user's slice
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_match_lists_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, width = int(rng.integers(1, 15)), 12, int(rng.integers(1, 9))
    ptr, items, _ = random_truth(rng, n_users, n_items)
    lists = random_lists(rng, n_users, n_items, width)
    out = k.match_lists(lists, ptr, items)
    assert out.tolist() == ref_match(lists.tolist(), ptr.tolist(), items.tolist())


# ---- ideal_gains -------------------------------------------------------------------------------


def test_ideal_gains_planted() -> None:
    ptr = np.array([0, 4, 4, 5], np.int64)
    rel = np.array([1.0, 3.0, 0.0, 2.0, 5.0])
    assert k.ideal_gains(ptr, rel, 3).tolist() == [[3.0, 2.0, 1.0], [0.0] * 3, [5.0, 0.0, 0.0]]
    assert k.ideal_gains(ptr, rel, 6)[0].tolist() == [3.0, 2.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", SEEDS)
def test_ideal_gains_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users = int(rng.integers(1, 200))  # more users than the kernel's 64 blocks
    ptr = np.r_[0, np.cumsum(rng.integers(0, 9, size=n_users))].astype(np.int64)
    rel = rng.integers(0, 5, size=ptr[-1]).astype(np.float64)
    width = int(rng.integers(1, 10))
    out = k.ideal_gains(ptr, rel, width)
    assert out.tolist() == ref_ideal(ptr.tolist(), rel.tolist(), width)


# ---- fill_by_rank ------------------------------------------------------------------------------


def _fill(
    user_codes: list[int], item_codes: list[int], ranks: list[int], shape: tuple[int, int]
) -> tuple[bool, list[list[int]]]:
    # user code 0 -> list row 1, 1 -> not in the truth, 2 -> row 0; item code c -> item 10 + c
    user_lookup = np.array([1, -1, 0, -1], np.int32)
    item_lookup = np.array([*range(10, 20), -1], np.int32)
    lists = np.full(shape, -1, np.int32)
    ok = k.fill_by_rank(
        np.array(user_codes, np.int64),
        user_lookup,
        np.array(item_codes, np.int64),
        item_lookup,
        np.array(ranks, np.int64),
        lists,
    )
    return bool(ok), lists.tolist()


def test_fill_by_rank_planted() -> None:
    ok, lists = _fill([0, 2, 0, 1, 0, 2], [3, 4, 5, 6, 7, 8], [2, 1, 1, 1, 9, 2], (2, 3))
    assert ok  # user code 1 (not in the truth) and rank 9 (beyond the width) are left out
    assert lists == [[14, 18, -1], [15, 13, -1]]
    assert not _fill([0, 0], [1, 2], [1, 1], (2, 3))[0]  # a repeated rank
    assert not _fill([0], [1], [0], (2, 3))[0]  # a rank below 1
    assert not _fill([0, 0], [1, 2], [1, 3], (2, 3))[0]  # a gap: rank 2 missing
    assert _fill([1, 1], [1, 2], [1, 1], (2, 3))[0]  # repeats of a user not in the truth: fine


@pytest.mark.parametrize("seed", range(20))
def test_fill_by_rank_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 5))
    user_codes, ranks = [], []
    for code in range(4):  # each user: ranks 1..n in a random order, sometimes broken
        n = int(rng.integers(0, 6))
        own = rng.permutation(np.arange(1, n + 1)).tolist()
        if own and rng.random() < 0.3:
            own[int(rng.integers(len(own)))] = int(rng.integers(0, n + 2))  # repeat, 0 or gap
        user_codes += [code] * len(own)
        ranks += own
    perm = rng.permutation(len(ranks))
    user_codes, ranks = [user_codes[i] for i in perm], [ranks[i] for i in perm]
    item_codes = rng.integers(0, 10, size=len(ranks)).tolist()
    ok, lists = _fill(user_codes, item_codes, ranks, (2, width))
    expected_ok, expected = ref_fill(
        user_codes, [1, -1, 0, -1], item_codes, list(range(10, 20)), ranks, (2, width)
    )
    assert ok == expected_ok
    if ok:  # on False the lists are partly written and the caller discards them
        assert lists == expected


# ---- curve_sums --------------------------------------------------------------------------------


def test_curve_sums_planted() -> None:
    # user 0: truth rows 0 (gain 1), 1 (gain 0), 2 (gain 2); its list hits row 2, then row 0
    # user 1: no positive gain, contributes nothing; user 2: one relevant row, hit at position 1
    ptr = np.array([0, 3, 4, 5], np.int64)
    gains = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
    matches = np.array([[1, 2, -1, 0], [3, -1, -1, -1], [4, -1, -1, -1]], np.int32)
    d = [1.0 / math.log2(j + 2) for j in range(4)]
    idcg = [2.0, 2.0 + d[1], 2.0 + d[1], 2.0 + d[1]]  # user 0's ideal: 2, 1, 0
    dcg = [0.0, 2 * d[1], 2 * d[1], 2 * d[1] + d[3]]
    expected = {
        "ndcg": [dcg[j] / idcg[j] + 1.0 for j in range(4)],
        "precision": [0.0 + 1.0, 0.5 + 0.5, 1 / 3 + 1 / 3, 0.5 + 0.25],
        "recall": [0.0 + 1.0, 0.5 + 1.0, 0.5 + 1.0, 1.0 + 1.0],
        "map_min": [0.0 + 1.0, 0.25 + 1.0, 0.25 + 1.0, (0.5 + 0.5) / 2 + 1.0],
        "map_relevant": [0.0 + 1.0, 0.25 + 1.0, 0.25 + 1.0, (0.5 + 0.5) / 2 + 1.0],
        "mrr": [0.0 + 1.0, 0.5 + 1.0, 0.5 + 1.0, 0.5 + 1.0],
        "hit_rate": [1.0, 2.0, 2.0, 2.0],
    }
    by_min = k.curve_sums(matches, ptr, gains, True)
    by_rel = k.curve_sums(matches, ptr, gains, False)
    assert by_min.shape == (6, 4)
    for row, name in enumerate(("ndcg", "precision", "recall", "map_min", "mrr", "hit_rate")):
        assert by_min[row].tolist() == pytest.approx(expected[name], abs=1e-14), name
    assert by_rel[3].tolist() == pytest.approx(expected["map_relevant"], abs=1e-14)
    # with min(R, K) a perfect list scores 1 at every K; with R it cannot before K = R
    perfect = np.array([[2, 0, -1]], np.int32)
    assert k.curve_sums(perfect, ptr[:2], gains, True)[3].tolist() == [1.0, 1.0, 1.0]
    assert k.curve_sums(perfect, ptr[:2], gains, False)[3].tolist() == [0.5, 1.0, 1.0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("map_min", [True, False])
def test_curve_sums_matches_reference(seed: int, map_min: bool) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, width = int(rng.integers(1, 150)), 10, int(rng.integers(1, 8))
    ptr, items, gains = random_truth(rng, n_users, n_items)
    matches = k.match_lists(random_lists(rng, n_users, n_items, width), ptr, items)
    got = k.curve_sums(matches, ptr, gains, map_min)
    expected = ref_curve_sums(matches.tolist(), ptr.tolist(), gains.tolist(), map_min)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_curve_sums_agree_with_the_single_k_metrics(seed: int) -> None:
    """The kernel's definitions are those of tailor.evaluation.metrics (its docstring says so)."""
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 80, 15, 8
    ptr, items, gains = random_truth(rng, n_users, n_items)
    matches = k.match_lists(random_lists(rng, n_users, n_items, width), ptr, items)
    got = k.curve_sums(matches, ptr, gains, True)
    n_rel = np.array([(gains[ptr[u] : ptr[u + 1]] > 0).sum() for u in range(n_users)], float)
    rows = n_rel > 0  # users without a relevant item contribute nothing
    per_position = np.where(matches >= 0, gains[np.maximum(matches, 0)], 0.0)[rows]
    ideal = k.ideal_gains(ptr, gains, width)[rows]
    hits, n_rel = per_position > 0, n_rel[rows]
    for kk in range(1, width + 1):
        single = [
            m.ndcg(per_position, ideal, kk),
            m.precision(hits, kk),
            m.recall(hits, n_rel, kk),
            m.average_precision(hits, n_rel, kk),
            m.reciprocal_rank(hits, kk),
            m.hit_rate(hits, kk),
        ]
        assert got[:, kk - 1] == pytest.approx([s.sum() for s in single], rel=1e-12), kk


# ---- _sorted_desc ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_sorted_desc_matches_sorted(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, size=int(rng.integers(0, 12))).astype(np.float64)
    out = np.full(len(values) + 2, -7.0)
    assert k._sorted_desc(values, out) == len(values)
    assert out[: len(values)].tolist() == sorted(values.tolist(), reverse=True)
    assert out[len(values) :].tolist() == [-7.0, -7.0]  # nothing written past the count
