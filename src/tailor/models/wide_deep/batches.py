"""Training examples: distinct positive pairs, sampled negatives and per-rank batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tailor.data.interactions import Interactions


def positive_pairs(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs of ``inter`` as int64 arrays, sorted by user then item:
    implicit feedback counts that a pair occurred, not how often."""
    if not len(inter):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n_items = int(inter.item_nums.max()) + 1
    keys = np.unique(inter.user_nums.astype(np.int64) * n_items + inter.item_nums)
    return keys // n_items, keys % n_items


def batch_indices(
    n: int, batch_size: int, rng: np.random.Generator, rank: int = 0, world: int = 1
) -> Iterator[np.ndarray]:
    """One epoch's batches of positions 0..n-1 in a random order, this rank's share of them.

    Every rank draws the same permutation (same generator state) and takes every ``world``-th
    batch; ranks with fewer batches wrap around, so each runs the same number of steps (data
    parallel training steps in lock-step).
    """
    order = rng.permutation(n)
    batches = [order[s : s + batch_size] for s in range(0, n, batch_size)] or [order]
    steps = -(-len(batches) // world)
    for step in range(steps):
        yield batches[(step * world + rank) % len(batches)]


def with_negatives(
    items: np.ndarray, negatives: int, pool: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(B, 1 + negatives) item numbers: the positive first, then uniform draws from ``pool``.

    The pool is the items with at least one positive: an item nobody bought is never pushed
    down, so its content features (shared with bought items) decide its score, as they do for
    a new item. A draw may hit an item the user has: rare on a real catalogue, and cheaper
    than rejection.
    """
    drawn = pool[rng.integers(0, len(pool), (len(items), negatives))]
    return np.concatenate([items[:, None], drawn.astype(np.int64)], axis=1)
