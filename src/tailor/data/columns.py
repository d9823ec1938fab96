"""Column names of tailor's frames. Use these constants instead of string literals."""

from __future__ import annotations

import re


class Columns:
    """Canonical column names of interactions, items, users and recommendation frames."""

    USER_ID = "user_id"
    ITEM_ID = "item_id"
    TIMESTAMP = "timestamp"
    EVENT_TYPE = "event_type"
    VALUE = "value"
    SESSION_ID = "session_id"
    PRICE = "price"
    WEIGHT = "weight"
    SCORE = "score"
    RANK = "rank"
    SOURCE = "source"
    RELEVANCE = "relevance"
    USER_SEGMENT = "user_segment"
    ITEM_SEGMENT = "item_segment"
    # item catalog
    TITLE = "title"
    CATEGORY = "category"
    AVAILABLE = "available"
    """A flag: False marks an item that must not be recommended."""

    INTERACTION_REQUIRED = (USER_ID, ITEM_ID, TIMESTAMP)
    INTERACTION_OPTIONAL = (EVENT_TYPE, VALUE, SESSION_ID, PRICE)


DEFAULT_EVENT_WEIGHTS = {
    "view": 1.0,
    "click": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
    "rating": 1.0,
}
"""Default weight of one event of each type when interactions are aggregated."""

EXPOSURE = "exposure"
"""The event type of a shown list (``recommendation_id``, experiment, variant): what A/B tests
and KPIs count as an impression. Tracking only: it is never an interaction a model learns."""
TRACKING_EVENT_TYPES = (EXPOSURE,)
"""Event types that record what was shown rather than what a visitor did."""


_LABEL_SEPARATORS = re.compile(r"[\s\-]+")


def event_label(text: str) -> str:
    """THE event-type label rule, for batch data and live events alike:
    ``" Add to cart"`` -> ``"add_to_cart"`` (trim, lower-case, runs of spaces and dashes to
    ``_``)."""
    return _LABEL_SEPARATORS.sub("_", text.strip().lower())
