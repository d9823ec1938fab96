"""KPIs per placement and variant from planted events, with hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from dashboard_planted import planted_events

from tailor.dashboard.kpis import events_frame, kpis, list_table

NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


def _frame() -> pd.DataFrame:
    return events_frame(e.model_dump(mode="json") for e in planted_events(NOW))


def test_a_list_takes_the_placement_of_its_first_exposure_that_names_one() -> None:
    frame = _frame()
    unnamed = frame.assign(placement=frame["placement"].where(frame["event_id"] != "e1"))
    lists = list_table(unnamed, attribution_s=86_400)
    assert lists.loc["r1", "placement"] == "home-carousel"  # from e2, e1 names none
    nothing = frame.assign(placement=pd.NA)
    assert set(list_table(nothing, attribution_s=86_400)["placement"]) == {"-"}


def test_list_table_joins_outcomes_within_the_window() -> None:
    lists = list_table(_frame(), attribution_s=86_400)
    assert list(lists.index) == ["abc:exp:B", "r1", "r2", "r4"]
    assert lists.loc["r1", ["placement", "experiment", "variant", "visitor"]].tolist() == [
        "home-carousel", "-", "-", "s-1"
    ]  # fmt: skip
    assert lists.loc["abc:exp:B", ["placement", "experiment", "variant"]].tolist() == [
        "cart-complete", "exp", "B"
    ]  # fmt: skip
    assert lists["clicks"].tolist() == [1, 2, 0, 1]  # r2's click came two days later
    assert lists["orders"].tolist() == [2, 1, 0, 0]
    assert lists["revenue"].tolist() == [10.0, 10.0, 0.0, 0.0]
    assert lists.loc["r1", "time"] == pd.Timestamp(NOW - timedelta(hours=1))
    wider = list_table(_frame(), attribution_s=3 * 86_400)
    assert wider.loc["r2", "clicks"] == 1


def test_kpis_per_placement_variant_and_bucket() -> None:
    doc = kpis(list_table(_frame(), 86_400), bucket_s=3600)
    placements = {row["placement"]: row for row in doc["placements"]}
    assert placements["home-carousel"] == {
        "placement": "home-carousel", "lists": 2, "visitors": 2, "clicks": 2,
        "add_to_carts": 0, "orders": 1, "revenue": 10.0, "ctr": 1.0, "conversion": 0.5,
        "aov": 10.0,
    }  # fmt: skip
    assert placements["product-similar"]["aov"] is None  # no order: no AOV
    assert placements["product-similar"]["conversion"] == 0.0
    variants = {row["variant"]: row for row in doc["variants"]}
    assert set(variants) == {"-", "exp:B"}
    assert variants["exp:B"]["aov"] == 5.0 and variants["exp:B"]["orders"] == 2
    # s-1 bought through r1; s-2 did not: 1 buyer of 2 visitors outside experiments
    assert variants["-"]["visitors"] == 2 and variants["-"]["conversion"] == 0.5
    assert doc["overall"]["conversion"] == round(2 / 3, 6)
    assert doc["overall"]["aov"] == round(20 / 3, 6)
    # every list was shown at 11:30 UTC: one bucket starting 11:00 per placement/variant
    assert {(r["bucket"], r["placement"], r["variant"], r["lists"]) for r in doc["series"]} == {
        ("2026-11-29T11:00:00Z", "cart-complete", "exp:B", 1),
        ("2026-11-29T11:00:00Z", "home-carousel", "-", 2),
        ("2026-11-29T11:00:00Z", "product-similar", "-", 1),
    }


def test_kpis_keep_lists_of_the_window_only() -> None:
    lists = list_table(_frame(), 86_400)
    assert kpis(lists, 3600, pd.Timestamp(NOW))["overall"]["lists"] == 0
    assert kpis(lists, 3600, pd.Timestamp(NOW - timedelta(hours=2)))["overall"]["lists"] == 4


def test_no_exposure_no_list() -> None:
    frame = _frame()
    doc = kpis(list_table(frame[frame["type"] != "exposure"], 86_400), 3600)
    assert doc["series"] == [] and doc["placements"] == []
    assert doc["overall"]["lists"] == 0 and doc["overall"]["ctr"] is None
