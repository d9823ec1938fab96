"""Model directories on planted data with known answers, for tests of the serving layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models.popular import Popularity
from tailor.testing.data import planted_frame

CATALOG = pd.DataFrame(
    {
        "item_id": [f"i{k}" for k in range(8)],
        "category": ["a"] * 4 + ["b"] * 4,
        "available": [True] * 8,
    }
)
"""Items i0-i3 are in category a, i4-i7 in b; all available."""

POPULAR = ["i0", "i4", "i2", "i3", "i1", "i6", "i7", "i5"]
"""Popularity ("users") on planted_frame(): i0 and i4 have 6 users, the rest 4; ties keep
vocabulary order."""
U0_SEEN = {"i0", "i2", "i3"}
U0_MODEL = ["i4", "i1", "i6", "i7", "i5"]
"""Popularity's list for u0: the popular order without u0's seen items."""
U0_FALLBACK = ["i4", "i1", "i6"]
"""The first three popular items u0 has not seen (the fallback answer with n=3)."""


def write_model_dir(
    path: Path,
    frame: pd.DataFrame | None = None,
    catalog: pd.DataFrame | None = CATALOG,
    *,
    popularity: bool = True,
) -> Path:
    """A directory shaped like ``tailor fit --out``: model + popularity/ + items.parquet."""
    data = Dataset.from_frame(planted_frame() if frame is None else frame, items=catalog)
    Popularity().fit(data).save(path)
    if popularity:
        Popularity().fit(data).save(path / "popularity")
    if catalog is not None:
        catalog.to_parquet(path / "items.parquet")
    return path


def write_factor_model_dir(path: Path, *, users: int = 40, items: int = 300, seed: int = 0) -> Path:
    """An SGDMF model (16 factors, biases) on random interactions over ``items`` items, with
    popularity/ and a catalog (categories ``c0``-``c4`` by item number mod 5; every 7th item
    unavailable), for tests of factor-model scoring and ANN retrieval."""
    import numpy as np

    from tailor.models import SGDMF

    rng = np.random.default_rng(seed)
    item_ids = [f"i{k}" for k in range(items)]
    pairs = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in rng.integers(0, users, items * 4)],
            "item_id": [item_ids[k % items] for k in range(items * 4)],
            "value": rng.integers(1, 6, items * 4).astype("float64"),
        }
    ).drop_duplicates(["user_id", "item_id"])
    catalog = pd.DataFrame(
        {
            "item_id": item_ids,
            "category": [f"c{k % 5}" for k in range(items)],
            "available": [k % 7 != 3 for k in range(items)],
        }
    )
    data = Dataset.from_frame(pairs, items=catalog)
    SGDMF(embedding_size=16, epochs=3, init_std=0.5, seed=seed).fit(data).save(path)
    Popularity().fit(data).save(path / "popularity")
    catalog.to_parquet(path / "items.parquet")
    return path


def serve_settings(model_dir: Path | None, **kwargs: Any) -> Any:
    """ServeSettings for tests, independent of the machine's TAILOR_* environment."""
    from tailor.serving.settings import ServeSettings

    return ServeSettings.model_validate(
        {"model_dir": model_dir, "redis_url": "memory://", **kwargs}
    )


def items_of(response: Any) -> list[str]:
    """Item ids of a recommendation response, in order."""
    return [entry["item_id"] for entry in response.json()["items"]]
