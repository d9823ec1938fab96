"""Model directories fitted on planted data, and apps over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.data.dataset import Dataset
from tailor.models import Popularity
from tailor.serving.app import create_app
from tailor.serving.settings import ServeSettings
from tailor.testing.data import planted_frame

CATALOG = pd.DataFrame(
    {
        "item_id": [f"i{k}" for k in range(8)],
        "category": ["a"] * 4 + ["b"] * 4,
        "available": [True] * 8,
    }
)
"""Items i0-i3 are in category a, i4-i7 in b."""

# Popularity ("users") on planted_frame(): i0 and i4 are seen by 6 users, the rest by 4; ties
# keep vocabulary order (i0 i2 i3 i1 i4 i6 i7 i5).
POPULAR = ["i0", "i4", "i2", "i3", "i1", "i6", "i7", "i5"]
U0_SEEN = {"i0", "i2", "i3"}
U0_MODEL = ["i4", "i1", "i6", "i7", "i5"]
"""Popularity's list for u0: the popular order without u0's seen items."""


def write_model_dir(
    path: Path,
    frame: pd.DataFrame | None = None,
    catalog: pd.DataFrame | None = CATALOG,
    *,
    popularity: bool = True,
) -> Path:
    """A directory shaped like `tailor fit --out`: model + popularity/ + items.parquet."""
    data = Dataset.from_frame(planted_frame() if frame is None else frame, items=catalog)
    Popularity().fit(data).save(path)
    if popularity:
        Popularity().fit(data).save(path / "popularity")
    if catalog is not None:
        catalog.to_parquet(path / "items.parquet")
    return path


def settings_for(model_dir: Path | None, **kwargs: Any) -> ServeSettings:
    """Settings isolated from the environment of the machine running the tests."""
    return ServeSettings.model_validate(
        {"model_dir": model_dir, "redis_url": "memory://", **kwargs}
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model_dir(tmp_path / "model")


@pytest.fixture
def client(model_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(model_dir))) as c:
        yield c


def items_of(response: Any) -> list[str]:
    """Item ids of a recommendation response, in order."""
    return [entry["item_id"] for entry in response.json()["items"]]
