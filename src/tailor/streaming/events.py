"""Live events: the schema of one event, batch validation, and the batch cleaning rules.

An event is what a shop's page sends when a visitor acts: a view, a click, an add-to-cart, a
purchase (and, when it follows a shown list, the ``recommendation_id`` of that list). Events are
validated one by one so that a batch with a few bad events keeps its good ones; the rejected
ones are named by index and field. The cleaning rules are the batch ones
(:mod:`tailor.streaming.rules`). This module stays light: the server imports it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tailor.data.columns import event_label

MAX_ID_LENGTH = 256
Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f]+$")
]
MAX_EPOCH_S = 2e10
"""Largest epoch-seconds time (year 2603; pydantic would read larger numbers as milliseconds)."""
_NUMBER = re.compile(r"\s*[-+]?[\d.eE+-]+\s*")
PLACEMENT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""A placement: 1-64 letters, digits, ``_`` or ``-``."""
MAX_BATCH = 1000
"""Most events in one ``POST /v1/events``."""


class Event(BaseModel):
    """One interaction as a shop sends it.

    Either ``user_id`` (a signed-in customer) or ``session_id`` (an anonymous visit) must be
    given; the model learns under the user id when there is one, else under the session id.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Identifier
    """Unique per event; a repeat of an id already seen (a client retry) is dropped."""
    user_id: Identifier | None = None
    session_id: Identifier | None = None
    item_id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    """Event type (``view``, ``click``, ``add_to_cart``, ``purchase``...); labels are normalised
    like the batch data (``"Add to cart"`` -> ``add_to_cart``)."""
    timestamp: datetime
    """ISO 8601 (a time without zone is UTC) or epoch seconds."""
    value: Annotated[float, Field(strict=True)] | None = None
    """Quantity, rating or order value, by type."""
    recommendation_id: Identifier | None = None
    """The ``recommendation_id`` of the list this event follows, if any."""
    placement: Annotated[str, Field(pattern=PLACEMENT_PATTERN)] | None = None
    """The page slot the event comes from (``home-carousel``, ``product-similar``...): KPIs
    and experiments are reported per placement."""

    @model_validator(mode="after")
    def _has_someone(self) -> Event:
        if self.user_id is None and self.session_id is None:
            raise ValueError("give user_id or session_id")
        return self

    @field_validator("timestamp", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
            raise ValueError("give an ISO 8601 time or epoch seconds as a number")
        if isinstance(value, int | float) and not 0 <= value <= MAX_EPOCH_S:
            raise ValueError(f"epoch seconds must be between 0 and {MAX_EPOCH_S:.0e}")
        return value

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
            raise ValueError("the time is out of range") from None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @property
    def key(self) -> str:
        """Who the model learns this under: the user id, else the session id."""
        return self.user_id if self.user_id is not None else str(self.session_id)

    def to_json(self) -> bytes:
        """Compact JSON (what the event logs store)."""
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Inverse of :meth:`to_json` (validated again: a log may hold foreign writes)."""
        return cls.model_validate_json(raw)


EVENT_FIELDS: tuple[str, ...] = tuple(Event.model_fields)
"""The fields of an event, in order: the columns of every events frame (experiments, dashboard)."""


@dataclass(frozen=True)
class Rejection:
    """Why one event of a batch was not accepted."""

    index: int
    """Position in the batch (0-based)."""
    field: str
    """The offending field (``""`` for the event as a whole)."""
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


def validate_events(
    raw: Sequence[Any], known_types: Collection[str] | None = None
) -> tuple[list[Event], list[Rejection]]:
    """Split a batch into valid events and rejections (one per bad event, its first error).

    With ``known_types``, an event whose type (normalised by :func:`event_label`) is not one
    of them is a rejection too (field ``type``).
    """
    accepted: list[Event] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(raw):
        try:
            event = Event.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            rejected.append(Rejection(index, field, first["msg"]))
            continue
        if known_types is not None and event_label(event.type) not in known_types:
            known = ", ".join(sorted(known_types))
            message = f"unknown event type {event_label(event.type)!r} (known: {known})"
            rejected.append(Rejection(index, "type", message))
        else:
            accepted.append(event)
    return accepted, rejected


def event_json_schema(event_types: Collection[str]) -> dict[str, Any]:
    """The JSON schema of one event as the API documents it: ``user_id`` or ``session_id``
    given (not null), ``type`` one of ``event_types``, the time as ISO 8601 or epoch
    seconds. Every event the schema allows is accepted."""
    schema = Event.model_json_schema()
    props = schema["properties"]
    props["type"] = {"type": "string", "enum": sorted(event_types)}
    props["timestamp"] = {
        "anyOf": [
            {"type": "string", "format": "date-time"},
            {"type": "number", "minimum": 0, "maximum": MAX_EPOCH_S},
        ],
        "description": "ISO 8601 (no zone: UTC) or epoch seconds",
    }
    schema["anyOf"] = [  # at least one of them, and not null
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("user_id", "session_id")
    ]
    return schema
