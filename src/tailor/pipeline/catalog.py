"""The item catalogue as the pipeline needs it: categories and availability, by item id.

Read from a model folder's ``items.parquet`` (``item_id``, optional ``category`` and
``available``); without one, the categories a Popularity model recorded at fit time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import ArtifactError

AVAILABLE = "available"
"""Catalog column: False marks an item that must not be recommended."""


@dataclass(frozen=True)
class Catalog:
    """Item attributes used by the business filters.

    Attributes:
        category_of: item_id -> category (items without a category are absent).
        unavailable: ids of items marked unavailable.
        known: every item id in the catalog (empty when there is no catalog).
    """

    category_of: Mapping[str, str] = field(default_factory=dict)
    unavailable: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()

    @classmethod
    def read(cls, path: Path) -> Catalog:
        """Read ``items.parquet`` (item_id, optional category and available)."""
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read catalog {path}: {exc}") from None
        return cls.from_frame(frame)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Catalog:
        """Build from a catalog frame with an ``item_id`` column."""
        ids = frame[Columns.ITEM_ID].astype(str).to_numpy()
        category_of: dict[str, str] = {}
        if Columns.CATEGORY in frame.columns:
            cats = frame[Columns.CATEGORY]
            mask = cats.notna().to_numpy()
            category_of = dict(zip(ids[mask], cats[mask].astype(str), strict=True))
        unavailable: frozenset[str] = frozenset()
        if AVAILABLE in frame.columns:
            flags = frame[AVAILABLE].fillna(True).astype(bool).to_numpy()
            unavailable = frozenset(ids[~flags])
        return cls(category_of, unavailable, frozenset(ids))

    @classmethod
    def from_popularity(cls, popularity: Any) -> Catalog:
        """Categories recorded by a fitted Popularity model, when no catalog file exists."""
        codes = np.asarray(popularity.item_categories)
        mask = codes >= 0
        if not mask.any():
            return cls()
        ids = popularity.items.ids[mask]
        names = np.asarray(popularity.categories)[codes[mask]]
        return cls(dict(zip(ids.tolist(), names.tolist(), strict=True)))
