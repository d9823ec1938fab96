"""Attribution and KPIs per variant on planted events, numbers computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.errors import DataError
from tailor.experiments.analysis import analyse, exposures_of, read_events, visitor_table
from tailor.experiments.config import Experiment

EXP = Experiment.model_validate(
    {
        "name": "exp",
        "attribution_window_s": 3600,
        "variants": [{"name": "A"}, {"name": "B"}],
    }
)
T0 = 1_790_000_000


def ev(
    k: int,
    kind: str,
    rec: str | None,
    t: float,
    user: str | None = None,
    session: str | None = None,
    value: float | None = None,
    item: str = "i1",
) -> dict:
    return {
        "event_id": f"e{k}",
        "user_id": user,
        "session_id": session,
        "item_id": item,
        "type": kind,
        "timestamp": T0 + t,
        "value": value,
        "recommendation_id": rec,
    }


def planted() -> pd.DataFrame:
    rows = [
        # u1 (A): one list of two items, a click and a 20.0 purchase within the window
        ev(1, "exposure", "r1:exp:A", 0, "u1", value=1, item="i1"),
        ev(2, "exposure", "r1:exp:A", 0, "u1", value=2, item="i2"),
        ev(3, "click", "r1:exp:A", 10, "u1"),
        ev(4, "purchase", "r1:exp:A", 100, "u1", value=20.0),
        # u2 (A): a list; a click that precedes it (clock skew) is not attributed
        ev(5, "exposure", "r2:exp:A", 0, "u2"),
        ev(6, "click", "r2:exp:A", -5, "u2"),
        # u3 (A): two lists, a click on each; a purchase 4,950 s after r4: outside 3,600 s
        ev(7, "exposure", "r3:exp:A", 0, "u3"),
        ev(8, "exposure", "r4:exp:A", 50, "u3"),
        ev(9, "click", "r3:exp:A", 60, "u3"),
        ev(10, "click", "r4:exp:A", 70, "u3"),
        ev(11, "purchase", "r4:exp:A", 5000, "u3", value=30.0),
        # u4 (B): a click and two purchases (10 + 30)
        ev(12, "exposure", "r5:exp:B", 0, "u4"),
        ev(13, "click", "r5:exp:B", 5, "u4"),
        ev(14, "purchase", "r5:exp:B", 20, "u4", value=10.0),
        ev(15, "purchase", "r5:exp:B", 30, "u4", value=30.0),
        # s5 (B) anonymous, then signs in as u5 (an event with both ids), buys 40 through r6
        ev(16, "exposure", "r6:exp:B", 0, session="s5"),
        ev(17, "view", None, 80, "u5", session="s5"),
        ev(18, "purchase", "r6:exp:B", 100, "u5", value=40.0),
        # s6 saw A anonymously, then as u6 saw B: a crossover, left out
        ev(19, "exposure", "r7:exp:A", 0, session="s6"),
        ev(20, "view", None, 150, "u6", session="s6"),
        ev(21, "exposure", "r8:exp:B", 200, "u6"),
        ev(22, "purchase", "r8:exp:B", 210, "u6", value=99.0),
        # another experiment's list and a list outside any experiment are not this one's
        ev(23, "exposure", "r9:other:A", 0, "u7"),
        ev(24, "exposure", "r10", 0, "u8"),
        ev(25, "click", "r9:other:A", 1, "u7"),
        # a repeated event id (a client retry) counts once
        ev(13, "click", "r5:exp:B", 5, "u4"),
    ]
    return pd.DataFrame(rows)


def test_exposures_and_visitors_follow_the_join_rules(tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    planted().to_json(file, orient="records", lines=True)
    events = read_events(file)
    lists = exposures_of(events, "exp")
    assert lists.index.tolist() == [
        "r1:exp:A",
        *(
            f"r{k}:exp:{v}"
            for k, v in [(2, "A"), (3, "A"), (4, "A"), (5, "B"), (6, "B"), (7, "A"), (8, "B")]
        ),
    ]
    assert lists.loc["r1:exp:A", "items"] == 2
    assert lists.loc["r6:exp:B", "visitor"] == "u5"  # the session signed in
    table, crossovers = visitor_table(events, "exp", 3600)
    assert crossovers == 1
    assert table.to_dict("index") == {
        "u1": {
            "variant": "A",
            "lists": 1,
            "clicks": 1,
            "add_to_carts": 0,
            "orders": 1,
            "revenue": 20.0,
        },
        "u2": {
            "variant": "A",
            "lists": 1,
            "clicks": 0,
            "add_to_carts": 0,
            "orders": 0,
            "revenue": 0.0,
        },
        "u3": {
            "variant": "A",
            "lists": 2,
            "clicks": 2,
            "add_to_carts": 0,
            "orders": 0,
            "revenue": 0.0,
        },
        "u4": {
            "variant": "B",
            "lists": 1,
            "clicks": 1,
            "add_to_carts": 0,
            "orders": 2,
            "revenue": 40.0,
        },
        "u5": {
            "variant": "B",
            "lists": 1,
            "clicks": 0,
            "add_to_carts": 0,
            "orders": 1,
            "revenue": 40.0,
        },
    }
    # a window of 5,000 s takes u3's late purchase in
    wide, _ = visitor_table(events, "exp", 5000)
    assert wide.loc["u3", "revenue"] == 30.0


def test_kpis_per_variant_by_hand() -> None:
    from scipy import stats

    result = analyse(read_events_frame(), EXP)
    a, b = result.variants
    assert (a.visitors, a.lists, a.clicks, a.orders, a.revenue) == (3, 4, 3, 1, 20.0)
    assert (b.visitors, b.lists, b.clicks, b.orders, b.revenue) == (2, 2, 1, 3, 80.0)
    assert a.metrics["ctr"].value == 0.75  # 3 clicks / 4 lists
    assert a.metrics["ctr"].se == pytest.approx(math.sqrt(0.08203125))  # delta method
    assert a.metrics["conversion"].value == pytest.approx(1 / 3)
    assert a.metrics["aov"].value == 20.0
    assert a.metrics["rpv"].value == pytest.approx(20 / 3)
    assert b.metrics["ctr"].value == 0.5
    assert b.metrics["conversion"].value == 1.0
    assert b.metrics["aov"].value == pytest.approx(80 / 3)
    assert b.metrics["rpv"].value == 40.0
    test = result.tests[("B", "rpv")]
    assert test.delta.value == pytest.approx(40 - 20 / 3)
    # rpv A: [20, 0, 0] sd^2 = 133.33; B: [40, 40] sd^2 = 0 -> se = sqrt(133.33 / 3)
    assert test.delta.se == pytest.approx(math.sqrt(400 / 3 / 3))
    assert test.p_fixed == pytest.approx(2 * stats.norm.sf((40 - 20 / 3) / math.sqrt(400 / 9)))
    assert test.p_always_valid == 1.0  # fewer than 30 visitors per variant: no test yet
    assert result.srm.chi2 == pytest.approx(0.2) and not result.srm.alarm
    assert result.crossovers == 1
    assert result.notes == ["1 visitor(s) saw two variants and are left out"]
    assert "no significant difference" in result.verdict("B")


def read_events_frame() -> pd.DataFrame:
    from tailor.experiments.analysis import normalise_events

    return normalise_events(planted())


def test_no_list_of_the_experiment_is_a_clear_error() -> None:
    other = Experiment.model_validate({"name": "nope", "variants": [{"name": "A"}]})
    with pytest.raises(DataError, match="no exposure of experiment 'nope'"):
        analyse(read_events_frame(), other)


def simulated(p_a: float, p_b: float, visitors: int, seed: int) -> pd.DataFrame:
    """Visitors alternately in A and B over 10 days; each sees a list and buys with p."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(visitors):
        variant = "AB"[k % 2]
        t = float(k) * 10 * 86_400 / visitors
        rec = f"r{k}:exp:{variant}"
        rows.append(ev(3 * k, "exposure", rec, t, f"u{k}"))
        if rng.random() < 0.3:
            rows.append(ev(3 * k + 1, "click", rec, t + 5, f"u{k}"))
        if rng.random() < (p_a if variant == "A" else p_b):
            rows.append(ev(3 * k + 2, "purchase", rec, t + 60, f"u{k}", value=25.0))
    from tailor.experiments.analysis import normalise_events

    return normalise_events(pd.DataFrame(rows))


def test_a_planted_lift_is_detected_and_the_timeline_has_daily_looks() -> None:
    result = analyse(simulated(0.10, 0.25, 4000, seed=3), EXP)
    test = result.tests[("B", "conversion")]
    assert test.p_always_valid < 0.05 and test.delta.value > 0.1
    assert result.verdict("B").startswith("B is better than A on conversion rate")
    since = result.decided_at("B", "conversion")
    assert since is not None and f"since {since:%Y-%m-%d %H:%M} UTC" in result.verdict("B")
    p_b = result.timeline[result.timeline["variant"] == "B"].set_index("time")["p_conversion"]
    assert p_b[since] < 0.05 and (p_b[p_b.index < since] >= 0.05).all()
    assert result.decided_at("B", "ctr") is None  # the same click rate in both
    looks = result.timeline["time"].nunique()
    assert 10 <= looks <= 11  # the end of each day, plus the last event
    p_path = result.timeline.loc[result.timeline["variant"] == "B", "p_conversion"].tolist()
    assert p_path == sorted(p_path, reverse=True)  # always-valid: never rises
    assert result.timeline["visitors"].iloc[-1] == 2000


def test_an_aa_split_is_not_called() -> None:
    result = analyse(simulated(0.10, 0.10, 4000, seed=5), EXP)
    assert result.tests[("B", "conversion")].p_always_valid > 0.05
    assert not result.srm.alarm


def test_a_broken_split_raises_the_srm_alarm() -> None:
    events = simulated(0.1, 0.1, 3000, seed=2)
    # drop a third of B's visitors' lists (a bug that loses B's exposures)
    lose = events["recommendation_id"].str.endswith(":B") & (
        events["user_id"].str[1:].astype(int) % 3 == 1
    )
    result = analyse(events[~lose], EXP)
    assert result.srm.alarm
    assert result.verdict("B").startswith("sample ratio mismatch")


def test_only_the_embedded_log_is_read_by_url(tmp_path: Path) -> None:
    from tailor.errors import ConfigError

    with pytest.raises(ConfigError, match="export other logs' events"):
        read_events("redis://127.0.0.1:6379/0?stream=tailor:events")
    missing = tmp_path / "none.db"
    with pytest.raises(DataError, match="event log not found"):
        read_events(f"sqlite:///{missing}")
    assert not missing.exists()  # not created by looking
    text = tmp_path / "x.txt"
    text.write_text("")
    with pytest.raises(DataError, match="unknown events format"):
        read_events(text)


def test_unreadable_event_files_are_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_text("garbage")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable parquet events file"):
        read_events(broken)
    columns = tmp_path / "columns.csv"
    columns.write_text("a,b\n1,2\n")
    with pytest.raises(
        DataError, match=r"columns\.csv: events lack the column\(s\): type, timestamp"
    ):
        read_events(columns)
    times = tmp_path / "times.csv"
    times.write_text("event_id,user_id,item_id,type,timestamp\ne1,u1,i1,exposure,notatime\n")
    with pytest.raises(DataError, match=r"times\.csv: timestamp: give ISO 8601 times"):
        read_events(times)
    good = tmp_path / "good.csv"
    good.write_text(
        "event_id,user_id,item_id,type,timestamp,recommendation_id\n"
        "e1,u1,i1,Exposure,2026-11-01T10:00:00Z,r1:exp:A\n"
    )
    frame = read_events(good)
    assert frame.loc[0, "type"] == "exposure"
    assert frame.loc[0, "timestamp"] == pd.Timestamp("2026-11-01T10:00:00Z")
