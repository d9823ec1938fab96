"""Planted experiment events with known rates: for tests, the docs' worked example and
trying ``tailor abtest report`` without a shop."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

T0 = 1_790_000_000
"""2026-09-21 (UTC): the first planted list."""


def planted_events(
    experiment: str = "exp",
    conversion: Mapping[str, float] | None = None,
    *,
    visitors: int = 2000,
    days: float = 3.0,
    click_rate: float = 0.4,
    order_value: float = 20.0,
    seed: int = 1,
) -> pd.DataFrame:
    """Events of ``visitors`` visitors (``u0``, ``u1``...) taking turns over the variants of
    ``conversion`` (variant -> purchase probability; default control 0.1, treat 0.3), spread
    evenly over ``days``: each sees one list (an exposure), clicks it with ``click_rate`` 5 s
    later and buys for ``order_value`` with its variant's probability 60 s later."""
    rates = dict(conversion or {"control": 0.1, "treat": 0.3})
    names = list(rates)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str, int, float | None, str]] = []
    for k in range(visitors):
        variant = names[k % len(names)]
        t = T0 + int(k * days * 86_400 / visitors)
        rec = f"r{k}:{experiment}:{variant}"
        rows.append((f"x{k}", f"u{k}", "i1", "exposure", t, 1.0, rec))
        if rng.random() < click_rate:
            rows.append((f"c{k}", f"u{k}", "i1", "click", t + 5, None, rec))
        if rng.random() < rates[variant]:
            rows.append((f"p{k}", f"u{k}", "i1", "purchase", t + 60, order_value, rec))
    columns = ["event_id", "user_id", "item_id", "type", "timestamp", "value"]
    return pd.DataFrame(rows, columns=[*columns, "recommendation_id"])
