"""RawData: what a reader returns, as read, before any cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

ITEM_PREFIX = "item."
"""Prefix of item attributes carried on interaction rows (e.g. ``item.title``)."""
USER_PREFIX = "user."
"""Prefix of user attributes carried on interaction rows (e.g. ``user.country``)."""


@dataclass(frozen=True, eq=False)
class RawData:
    """A source as read: the contract's columns, nothing dropped, nothing repaired.

    Attributes:
        name: the source name (``online-retail``, ``movielens-100k``, ``generic``...).
        interactions: one row per input row: ``user_id``, ``item_id`` (text, NA when missing),
            ``timestamp`` (naive UTC datetime64, NaT when missing), ``event_type`` (as written),
            ``value`` and ``price`` (float64), optional ``session_id``; plus item and user
            attributes carried on the rows, prefixed ``item.`` / ``user.``.
        items: catalog rows (``item_id`` + attributes) as read; ids may repeat, or None.
        users: user rows (``user_id`` + attributes) as read; ids may repeat, or None.
        provenance: where the data came from: files, licence, citation.
        item_properties: the catalogue's property log when the source has one (long layout):
            ``item_id``, ``timestamp``, ``property``, ``value`` (canonical text), ``type``; see
            :mod:`tailor.data.properties`. ``items`` then holds its latest values.
        types: declared or default attribute types per table (``{"items": {"category":
            "category", ...}, "users": {...}}``); cleaning treats ``category`` as a label and
            ``id``/``text`` as not one.

    Stability: stable.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    item_properties: pd.DataFrame | None = None
    types: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def raw_rows(self) -> int:
        """Rows in the interaction input (readers never drop a row)."""
        return len(self.interactions)

    def inline_columns(self, prefix: str) -> list[str]:
        """Interaction columns holding attributes with ``prefix`` (``item.`` or ``user.``)."""
        return [c for c in self.interactions.columns if str(c).startswith(prefix)]
