"""Fixtures for model tests: a 4-user, 4-item toy matrix with hand-computable scores.

    user  items          item columns (users who touched them)
    A     a b            a: A B        |a| = sqrt(2)
    B     a b c          b: A B C      |b| = sqrt(3)
    C     b c            c: B C D      |c| = sqrt(3)
    D     c d            d: D          |d| = 1

Co-occurrence counts: ab = 2, ac = 1, bc = 2, cd = 1, ad = bd = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

PAIRS = [("A", "a"), ("A", "b"), ("B", "a"), ("B", "b"), ("B", "c"), ("C", "b"), ("C", "c")]
PAIRS += [("D", "c"), ("D", "d")]


def toy_frame(days: list[float] | None = None, values: list[float] | None = None) -> pd.DataFrame:
    """The toy interactions; every row on day 10 unless ``days`` says otherwise."""
    return pd.DataFrame(
        {
            "user_id": [u for u, _ in PAIRS],
            "item_id": [i for _, i in PAIRS],
            "value": values or [1.0] * len(PAIRS),
            "timestamp": pd.to_datetime(days or [10.0] * len(PAIRS), unit="D"),
        }
    )


@pytest.fixture
def toy() -> Callable[..., pd.DataFrame]:
    """The toy-frame builder (see the module docstring)."""
    return toy_frame
