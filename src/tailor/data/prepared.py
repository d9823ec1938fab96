"""Prepared: cleaned interactions, items and users, as written by ``tailor data prepare``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tailor.data.columns import Columns
from tailor.data.validate import read_parquet
from tailor.errors import DataError

INTERACTIONS_FILE = "interactions.parquet"
ITEMS_FILE = "items.parquet"
USERS_FILE = "users.parquet"
PROPERTIES_FILE = "item_properties.parquet"
REPORT_FILE = "report.json"


@dataclass(frozen=True, eq=False)
class Prepared:
    """Clean data in tailor's contract.

    Attributes:
        interactions: ``user_id``, ``item_id`` (str), ``timestamp`` (naive UTC datetime64),
            ``event_type`` (str), ``value`` (float64), optional ``session_id`` (str) and ``price``
            (float64), and ``weight`` (float32; summed per pair after aggregation).
        items: one row per ``item_id`` with its attributes (``title``, ``category``, ``price``...).
        users: one row per ``user_id`` with its attributes (``country``...).
        item_properties: the catalogue's property log when the source has one (long layout;
            :mod:`tailor.data.properties`), or None; ``items`` holds its latest values.

    Stability: stable.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    item_properties: pd.DataFrame | None = None

    def save(self, directory: Path | str) -> None:
        """Write ``interactions.parquet``, ``items.parquet`` and ``users.parquet`` (and
        ``item_properties.parquet`` when there is a property log) into a folder."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.interactions.to_parquet(out / INTERACTIONS_FILE, index=False, compression="zstd")
        self.items.to_parquet(out / ITEMS_FILE, index=False, compression="zstd")
        self.users.to_parquet(out / USERS_FILE, index=False, compression="zstd")
        if self.item_properties is not None:
            self.item_properties.to_parquet(out / PROPERTIES_FILE, index=False, compression="zstd")

    @classmethod
    def load(cls, directory: Path | str) -> Prepared:
        """Read a folder written by :meth:`save`; items and users are optional there.

        Raises:
            DataError: the folder or its interactions file is missing or unreadable.
        """
        folder = Path(directory)
        if not (folder / INTERACTIONS_FILE).exists():
            raise DataError(
                f"no {INTERACTIONS_FILE} here; run `tailor data prepare` first", file=str(folder)
            )
        interactions = read_parquet(folder / INTERACTIONS_FILE)
        for col in Columns.INTERACTION_REQUIRED:
            if col not in interactions.columns:
                raise DataError(
                    "required column is missing", file=str(folder / INTERACTIONS_FILE), column=col
                )
        log = folder / PROPERTIES_FILE
        return cls(
            interactions,
            _optional(folder / ITEMS_FILE, Columns.ITEM_ID),
            _optional(folder / USERS_FILE, Columns.USER_ID),
            read_parquet(log) if log.is_file() else None,
        )


def _optional(path: Path, key: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame({key: pd.Series(dtype="str")})
    return read_parquet(path)
