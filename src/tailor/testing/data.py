"""Tiny planted data sets with known answers, for tests of every model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.data.columns import Columns


def planted_frame() -> pd.DataFrame:
    """Twelve users in two taste groups over eight items, with timestamps.

    Users u0..u5 like items i0..i3, users u6..u11 like items i4..i7; each user has seen three of
    their group's four items, so a sensible model recommends the fourth one first. Item i0 and i4
    are the most popular of their groups.
    """
    rows = []
    t = 0
    for g, users in enumerate((range(6), range(6, 12))):
        items = [4 * g + k for k in range(4)]
        for j, u in enumerate(users):
            missing = items[1 + j % 3]  # never the group's most popular item
            for i in items:
                if i != missing:
                    t += 1
                    rows.append((f"u{u}", f"i{i}", 1.0, t))
    frame = pd.DataFrame(rows, columns=[Columns.USER_ID, Columns.ITEM_ID, Columns.VALUE, "t"])
    frame[Columns.TIMESTAMP] = pd.to_datetime(frame.pop("t"), unit="D", origin="2024-01-01")
    return frame


def random_frame(n_users: int = 60, n_items: int = 40, n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Random interactions with ratings 1-5, for property tests."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            Columns.USER_ID: [f"u{k}" for k in rng.integers(0, n_users, n)],
            Columns.ITEM_ID: [f"i{k}" for k in rng.integers(0, n_items, n)],
            Columns.VALUE: rng.integers(1, 6, n).astype(float),
            Columns.TIMESTAMP: pd.to_datetime(rng.integers(0, 10**8, n), unit="s"),
        }
    )
