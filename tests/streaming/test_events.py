"""Live events: validation one by one, the batch cleaning rules, repeats by event id."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tailor.data.cleaning import CleaningConfig
from tailor.streaming.dedup import Deduplicator
from tailor.streaming.events import Event, Rejection, validate_events
from tailor.streaming.rules import EventRules
from tailor.testing.streaming import START, event

KNOWN = frozenset({"view", "click", "add_to_cart", "purchase", "rating"})


def test_a_batch_keeps_its_valid_events_and_names_each_bad_one() -> None:
    raw = [
        event(0, "u0", "i1"),
        {"event_id": "e1", "user_id": "u0", "type": "view", "timestamp": START},  # no item
        {"event_id": "e2", "item_id": "i1", "type": "view", "timestamp": START},  # nobody
        event(3, "u0", "i2", "Add to cart"),
        event(4, "u0", "i2", "wishlist"),
        event(5, "u0", "i2", value=float("nan")),
        "not an object",
    ]
    accepted, rejected = validate_events(raw, KNOWN)
    assert [e.event_id for e in accepted] == ["e0", "e3"]
    assert [(r.index, r.field) for r in rejected] == [
        (1, "item_id"),
        (2, ""),
        (4, "type"),
        (5, "value"),
        (6, ""),
    ]
    assert rejected[1].message == "Value error, give user_id or session_id"
    assert "unknown event type 'wishlist'" in rejected[2].message
    assert rejected[0] == Rejection(1, "item_id", "Field required")


def test_times_are_utc_whatever_their_spelling() -> None:
    naive = Event.model_validate(event(0, "u", "i", timestamp="2026-01-01T01:00:00"))
    zoned = Event.model_validate(event(0, "u", "i", timestamp="2026-01-01T02:00:00+01:00"))
    epoch = Event.model_validate(event(0, "u", "i", timestamp=START + 3600))
    expected = datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert naive.timestamp == zoned.timestamp == epoch.timestamp == expected
    assert Event.from_json(epoch.to_json()) == epoch


def test_session_events_are_learned_under_the_session() -> None:
    anonymous = Event.model_validate({**event(0, "x", "i1"), "user_id": None, "session_id": "s9"})
    both = Event.model_validate(event(1, "u1", "i1", session_id="s9"))
    assert (anonymous.key, both.key) == ("s9", "u1")


def test_rules_weigh_and_aggregate_like_batch_cleaning() -> None:
    rules = EventRules(CleaningConfig())
    events = [
        Event.model_validate(e)
        for e in (
            event(0, "u0", "i1", "View"),
            event(5, "u0", "i1", "add-to-cart"),
            event(2, "u1", "i1", "rating", value=4.0),
            event(3, "u1", "i2", "purchase", value=-1.0),  # a return: dropped
            event(4, "u2", "i3", "purchase", value=2.0),
        )
    ]
    frame = rules.to_frame(events)
    assert frame.to_dict("list") == {
        "user_id": ["u0", "u1", "u2"],
        "item_id": ["i1", "i1", "i3"],
        "weight": [4.0, 4.0, 5.0],  # view 1 + add_to_cart 3; the rating's value; a purchase
        "timestamp": [START + 5, START + 2, START + 4],
    }
    assert frame["weight"].dtype == np.float32


@pytest.mark.parametrize(
    ("unknown", "problem", "weight"),
    [("error", True, None), ("drop", False, None), ("keep", False, 0.5)],
)
def test_unknown_types_follow_the_cleaning_option(
    unknown: str, problem: bool, weight: float | None
) -> None:
    rules = EventRules(
        CleaningConfig(unknown_event_types=unknown, unknown_event_weight=0.5)  # type: ignore[arg-type]
    )
    wish = Event.model_validate(event(0, "u0", "i1", "wishlist"))
    assert (rules.problem(wish) is not None) == problem
    assert rules.weight(wish) == weight


def test_repeats_are_dropped_within_the_window_and_survive_a_restore() -> None:
    dedup = Deduplicator(window_s=100.0, max_ids=10)
    first = [Event.model_validate(event(k, "u0", "i1")) for k in (0, 1, 1, 2)]
    assert [e.event_id for e in dedup.fresh(first)] == ["e0", "e1", "e2"]
    late = Event.model_validate(event(500, "u0", "i1"))  # moves the horizon past e0..e2
    assert [e.event_id for e in dedup.fresh([late, first[0]])] == ["e500"]
    assert len(dedup) == 1  # e0..e2 are forgotten once the batch is done
    ids, times = dedup.state()
    again = Deduplicator(window_s=100.0)
    again.restore(ids.tolist(), times.tolist())
    assert again.fresh([late]) == []


def test_the_dedup_memory_is_bounded() -> None:
    dedup = Deduplicator(window_s=1e9, max_ids=3)
    dedup.fresh([Event.model_validate(event(k, "u0", "i1")) for k in range(5)])
    assert dedup.state()[0].tolist() == ["e2", "e3", "e4"]


def test_exposures_are_accepted_but_never_learned() -> None:
    rules = EventRules(CleaningConfig())
    shown = Event.model_validate(event(0, "u0", "i1", "exposure", recommendation_id="r1"))
    assert rules.problem(shown) is None and rules.weight(shown) is None
    assert rules.to_frame([shown]).empty
