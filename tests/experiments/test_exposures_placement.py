"""A variant's placement travels with the exposure events of the lists it serves."""

from __future__ import annotations

from tailor.experiments.exposures import exposure_events


def test_exposures_carry_the_placement_and_rank() -> None:
    events = exposure_events("u1", "ab12:exp:B", ["i3", "i1"], 1_767_225_600.0, "home-carousel")
    assert [(e.event_id, e.item_id, e.value, e.placement) for e in events] == [
        ("ab12:exp:B:1", "i3", 1.0, "home-carousel"),
        ("ab12:exp:B:2", "i1", 2.0, "home-carousel"),
    ]
    assert exposure_events("u1", "r", ["i3"], 0.0)[0].placement is None
