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

    Stability: stable.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    def save(self, directory: Path | str) -> None:
        """Write ``interactions.parquet``, ``items.parquet`` and ``users.parquet`` into a folder."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.interactions.to_parquet(out / INTERACTIONS_FILE, index=False, compression="zstd")
        self.items.to_parquet(out / ITEMS_FILE, index=False, compression="zstd")
        self.users.to_parquet(out / USERS_FILE, index=False, compression="zstd")

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
        return cls(
            interactions,
            _optional(folder / ITEMS_FILE, Columns.ITEM_ID),
            _optional(folder / USERS_FILE, Columns.USER_ID),
        )


def _optional(path: Path, key: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame({key: pd.Series(dtype="str")})
    return read_parquet(path)
