"""Planted data for the dashboard and demo-shop tests: a model store with two versions and an
event log with hand-countable lists, clicks and purchases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models.artifacts import record_metrics
from tailor.models.popular import Popularity
from tailor.serving.registry import ModelRegistry
from tailor.streaming.events import Event

ITEMS = 40
GROUPS = 4
CATALOG = pd.DataFrame(
    {
        "item_id": [f"i{k}" for k in range(ITEMS)],
        "title": [f"Item number {k}" for k in range(ITEMS)],
        "price": [2.5 + k for k in range(ITEMS)],
        "category": [f"c{k % GROUPS}" for k in range(ITEMS)],
        "available": [True] * ITEMS,
    }
)
"""40 items in four taste groups (category c0-c3: item number mod 4)."""


def planted_shop(users: int = 60, per_user: int = 5, seed: int = 0) -> pd.DataFrame:
    """Each user buys ``per_user`` distinct items of one taste group (user number mod 4)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        group = [k for k in range(ITEMS) if k % GROUPS == u % GROUPS]
        for t, k in enumerate(rng.choice(group, per_user, replace=False)):
            rows.append({"user_id": f"u{u}", "item_id": f"i{k}", "timestamp": 1_700_000_000 + t})
    return pd.DataFrame(rows)


V1_METRICS = {"ndcg@10": 0.25}
V2_METRICS = {"ndcg@10": 0.3125, "recall@20": 0.5}


def write_store(root: Path) -> ModelRegistry:
    """A model store: v1 (Popularity) then v2 (EASE), v2 active; HISTORY v1, v2."""
    from tailor.models import EASE

    data = Dataset.from_frame(planted_shop(), items=CATALOG)
    registry = ModelRegistry(root)
    for version, model, metrics in (
        ("v1", Popularity(), V1_METRICS),
        ("v2", EASE(regularization=1.0), V2_METRICS),
    ):
        folder = root.parent / f"fit-{version}"
        model.fit(data).save(folder)
        Popularity().fit(data).save(folder / "popularity")
        CATALOG.to_parquet(folder / "items.parquet")
        record_metrics(folder, metrics)
        registry.publish(folder, version)
        registry.activate(version)
    return registry


def _event(
    k: int,
    kind: str,
    rec: str,
    when: datetime,
    *,
    placement: str = "",
    visitor: str = "s-1",
    item: str = "i1",
    value: float | None = None,
    ids: str = "e",
) -> Event:
    return Event(
        event_id=f"{ids}{k}",
        placement=placement or None,
        session_id=visitor,
        item_id=item,
        type=kind,
        timestamp=when,
        recommendation_id=rec,
        value=value,
    )


def planted_events(now: datetime) -> list[Event]:
    """Lists an hour ago: home-carousel r1 (s-1: 2 clicks, a purchase of 10.0), r2 (s-2: no
    click), r3 in experiment exp:B (s-3: 1 click, a purchase of 4.0 and one of 6.0) and
    product-similar r4 (s-1: 1 click); a click on r2 two days after (outside the 1-day
    attribution window)."""
    t = now - timedelta(hours=1)
    s = timedelta(seconds=1)
    rows = [
        _event(1, "exposure", "r1", t, placement="home-carousel", value=1),
        _event(2, "exposure", "r1", t, placement="home-carousel", item="i2", value=2),
        _event(3, "click", "r1", t + 5 * s, placement="home-carousel"),
        _event(4, "click", "r1", t + 6 * s, placement="home-carousel", item="i2"),
        _event(5, "purchase", "r1", t + 60 * s, value=10.0),
        _event(6, "exposure", "r2", t, placement="home-carousel", visitor="s-2"),
        _event(7, "exposure", "abc:exp:B", t, placement="cart-complete", visitor="s-3"),
        _event(8, "click", "abc:exp:B", t + s, visitor="s-3"),
        _event(9, "purchase", "abc:exp:B", t + 2 * s, visitor="s-3", value=4.0),
        _event(10, "purchase", "abc:exp:B", t + 3 * s, visitor="s-3", value=6.0),
        _event(11, "exposure", "r4", t, placement="product-similar"),
        _event(12, "click", "r4", t + s, placement="product-similar"),
        _event(13, "click", "r2", t + timedelta(days=2), visitor="s-2"),
    ]
    return rows


def experiment_events(now: datetime) -> list[Event]:
    """Experiment ``ab`` (variants A, B), an hour ago: ten visitors each; A: one list per
    visitor, clicks by a0 and a1, a purchase of 10.0 by a0; B: clicks by b0-b4, purchases of
    4.0 by b0-b2."""
    t = now - timedelta(hours=1)
    rows: list[Event] = []
    for variant, clickers, buyers, price in (("A", 2, 1, 10.0), ("B", 5, 3, 4.0)):
        for k in range(10):
            visitor, rec = f"{variant.lower()}{k}", f"r{variant}{k}:ab:{variant}"
            rows.append(
                _event(len(rows), "exposure", rec, t, placement="home", visitor=visitor, ids="x")
            )
            if k < clickers:
                rows.append(
                    _event(
                        len(rows), "click", rec, t + timedelta(seconds=5), visitor=visitor, ids="x"
                    )
                )
            if k < buyers:
                rows.append(
                    _event(
                        len(rows),
                        "purchase",
                        rec,
                        t + timedelta(seconds=9),
                        visitor=visitor,
                        value=price,
                        ids="x",
                    )
                )
    return rows
