"""The batch cleaning rules, applied to live events by the consumer.

Event-type labels are normalised by the batch rule (:func:`~tailor.data.columns.event_label`),
weights come from ``event_weights`` (or the value for ``value_weighted_events``), unknown types
are refused, dropped or kept as ``unknown_event_types`` says, non-positive quantities dropped:
the ``[cleaning]`` table of the batch source, so both paths weigh an event alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.cleaning import CleaningConfig
from tailor.data.columns import TRACKING_EVENT_TYPES, Columns, event_label
from tailor.streaming.events import Event

MAX_LABELS = 1024
"""Most event-type spellings whose label is remembered (a log may hold any)."""


class EventRules:
    """The batch cleaning rules applied to live events: event-type labels and weights."""

    def __init__(self, config: CleaningConfig | None = None) -> None:
        self.config = config or CleaningConfig()
        self._known = self.config.known_event_types()
        self._labels: dict[str, str] = {}

    def label(self, event: Event) -> str:
        """The normalised event type (remembered per spelling: it is asked several times per
        event)."""
        if not self.config.normalise_labels:
            return event.type
        label = self._labels.get(event.type)
        if label is None:
            label = event_label(event.type)
            if len(self._labels) < MAX_LABELS:
                self._labels[event.type] = label
        return label

    def problem(self, event: Event) -> str | None:
        """Why the rules refuse ``event`` (None: accepted). Only unknown types are refused, and
        only with ``unknown_event_types = "error"``."""
        label = self.label(event)
        if label in self._known or label in TRACKING_EVENT_TYPES:
            return None
        if self.config.unknown_event_types != "error":
            return None
        known = ", ".join(sorted(self._known))
        return f"unknown event type {label!r} (known: {known})"

    def weight(self, event: Event) -> float | None:
        """The event's interaction weight; None when it is not folded in: a tracking event
        (an exposure), an unknown type with ``unknown_event_types = "drop"``, a non-positive
        quantity."""
        config = self.config
        label = self.label(event)
        if label in TRACKING_EVENT_TYPES:  # what was shown, not what the visitor did
            return None
        if label in config.value_weighted_events:
            return event.value if event.value is not None else None
        if (
            config.drop_nonpositive_quantities
            and label in config.quantity_event_types
            and event.value is not None
            and event.value <= 0
        ):
            return None
        if label in config.event_weights:
            return config.event_weights[label]
        return config.unknown_event_weight if config.unknown_event_types == "keep" else None

    def to_frame(self, events: Sequence[Event]) -> pd.DataFrame:
        """The events as interactions (user_id, item_id, weight, timestamp in seconds), repeated
        (user, item) pairs aggregated: summed weight, latest timestamp. Dropped events are left
        out."""
        rows = [(e.key, e.item_id, self.weight(e), e.timestamp) for e in events]
        rows = [r for r in rows if r[2] is not None and r[2] > 0]
        if not rows:
            return _empty_frame()
        users, items, weights, stamps = zip(*rows, strict=True)
        frame = pd.DataFrame(
            {
                Columns.USER_ID: pd.array(users, dtype="str"),
                Columns.ITEM_ID: pd.array(items, dtype="str"),
                Columns.WEIGHT: np.asarray(weights, np.float32),
                Columns.TIMESTAMP: np.asarray([int(t.timestamp()) for t in stamps], np.int64),
            }
        )
        grouped = frame.groupby([Columns.USER_ID, Columns.ITEM_ID], sort=False, as_index=False)
        return grouped.agg({Columns.WEIGHT: "sum", Columns.TIMESTAMP: "max"})


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            Columns.USER_ID: pd.array([], dtype="str"),
            Columns.ITEM_ID: pd.array([], dtype="str"),
            Columns.WEIGHT: np.zeros(0, np.float32),
            Columns.TIMESTAMP: np.zeros(0, np.int64),
        }
    )


def rules_from_table(table: Mapping[str, Any] | None) -> EventRules:
    """Rules from a ``[cleaning]`` table (the batch source's, so both paths clean alike)."""
    return EventRules(CleaningConfig.from_table(table or {}))
