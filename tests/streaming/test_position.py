"""Position.uncovered / Position.advance (the consumer's per-batch bookkeeping) and the event
rules' remembered labels: the same answers as the per-record definitions they replace."""

from __future__ import annotations

import random

from tailor.data.cleaning import CleaningConfig
from tailor.data.columns import event_label
from tailor.streaming.events import Event
from tailor.streaming.log import Position, Record, offset_key
from tailor.streaming.rules import MAX_LABELS, EventRules

EVENT = Event.model_validate(
    {"event_id": "e", "user_id": "u", "item_id": "i", "type": "purchase", "timestamp": 0}
)


def _records(rng: random.Random, n: int) -> list[Record]:
    out = []
    for _ in range(n):
        partition = rng.choice(["0", "1", "s:events"])
        if partition == "s:events":  # Redis ids: millisecond-sequence
            offset = f"{rng.randrange(1, 4)}-{rng.randrange(0, 30)}"
        else:  # SQLite rows, Kafka offsets: numbers of different lengths
            offset = str(rng.randrange(0, 200))
        out.append(Record(partition, offset, EVENT))
    return out


def _advance_one_by_one(position: Position, records: list[Record]) -> None:
    for record in records:
        if not position.covers(record):
            position.offsets[record.partition] = record.offset


def test_uncovered_and_advance_agree_with_covers_record_by_record() -> None:
    rng = random.Random(3)
    for _ in range(200):
        start = Position({p: o for r in _records(rng, 2) for p, o in [(r.partition, r.offset)]})
        records = _records(rng, rng.randrange(0, 40))  # unordered, repeats, several partitions
        assert start.uncovered(records) == [r for r in records if not start.covers(r)]
        fast, slow = start.copy(), start.copy()
        fast.advance(records)
        _advance_one_by_one(slow, records)
        assert fast == slow


def test_advance_compares_offsets_as_numbers_never_as_text() -> None:
    position = Position({"0": "9"})
    position.advance([Record("0", "10", EVENT), Record("0", "8", EVENT)])
    assert position.offsets == {"0": "10"}
    position.advance([Record("s", "2-10", EVENT), Record("s", "2-9", EVENT)])
    assert offset_key(position.offsets["s"]) == (2, 10)
    assert position.uncovered([Record("0", "10", EVENT), Record("0", "11", EVENT)]) == [
        Record("0", "11", EVENT)
    ]


def test_rules_remember_labels_without_changing_them() -> None:
    rules = EventRules(CleaningConfig())
    for spelling in ("Add to cart", "add-to-cart", " PURCHASE ", "purchase", "Add to cart"):
        event = EVENT.model_copy(update={"type": spelling})
        assert rules.label(event) == event_label(spelling)
        assert rules.weight(event) == EventRules(CleaningConfig()).weight(event)
    for k in range(MAX_LABELS + 10):  # a log full of odd types: the memory stays bounded
        rules.label(EVENT.model_copy(update={"type": f"type {k}"}))
    assert len(rules._labels) == MAX_LABELS
    assert rules.label(EVENT.model_copy(update={"type": "Type 5000"})) == "type_5000"


def test_labels_are_not_normalised_when_the_rules_say_so() -> None:
    rules = EventRules(CleaningConfig(normalise_labels=False))
    assert rules.label(EVENT.model_copy(update={"type": "Add to cart"})) == "Add to cart"
