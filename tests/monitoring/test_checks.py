"""The monitor's statistics and checks on planted data, each value computed by hand."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tailor.monitoring import checks as C

NOW = pd.Timestamp("2026-11-29T12:00:00Z")
HOUR = C.Window.ending(NOW, timedelta(hours=1))


def frame(rows: list[tuple[pd.Timestamp, str, str, str] | tuple]) -> pd.DataFrame:
    """Events from (timestamp, key, item, type[, recommendation_id]) rows."""
    data = []
    for k, row in enumerate(rows):
        ts, key, item, kind = row[:4]
        rec = row[4] if len(row) > 4 else None
        data.append((f"e{k}", key, key, None, item, kind, ts, None, rec))
    out = pd.DataFrame(data, columns=list(C.EVENT_COLUMNS))
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    return out


def in_window(window: C.Window, n: int, kind: str, key: str = "u", item: str = "i") -> list:
    """``n`` events of ``kind`` spread over ``window``."""
    step = window.length / (n + 1)
    return [(window.start + step * (k + 1), f"{key}{k}", item, kind) for k in range(n)]


# ---- statistics ---------------------------------------------------------------------------
def test_psi_of_two_planted_histograms() -> None:
    # shares 0.5/0.5 -> 0.9/0.1: 0.4 ln(0.9/0.5) - 0.4 ln(0.1/0.5) = 0.4 ln 9
    assert C.psi([50, 50], [90, 10]) == pytest.approx(0.4 * math.log(9), abs=1e-12)
    assert C.psi([50, 50], [90, 10]) == pytest.approx(0.8788898, abs=1e-7)
    assert C.psi([1, 2, 3], [2, 4, 6]) == 0.0  # the same shares


def test_psi_floors_an_empty_bin_at_eps() -> None:
    # expected [1, 0] -> [1, 1e-4]; actual [0.5, 0.5]
    by_hand = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert C.psi([100, 0], [50, 50]) == pytest.approx(by_hand, abs=1e-12)
    assert C.psi([100, 0], [50, 50], eps=1e-3) == pytest.approx(
        -0.5 * math.log(0.5) + (0.5 - 1e-3) * math.log(0.5 / 1e-3), abs=1e-12
    )
    with pytest.raises(ValueError, match="different lengths"):
        C.psi([1, 2], [1, 2, 3])


def test_psi_over_categories_uses_the_union_of_both_sides() -> None:
    got = C.psi_categorical({"a": 30, "b": 70}, {"b": 50, "c": 50})
    e, a = [0.3, 0.7, 1e-4], [1e-4, 0.5, 0.5]
    assert got == pytest.approx(
        sum((y - x) * math.log(y / x) for x, y in zip(e, a, strict=True)), abs=1e-12
    )


def test_quantile_bins_and_their_counts() -> None:
    ref = np.arange(1, 11, dtype=float)  # 1..10
    assert C.quantile_edges(ref, 2).tolist() == [5.5]
    assert C.quantile_edges(ref, 5) == pytest.approx([2.8, 4.6, 6.4, 8.2])
    # a value that fills several quantiles makes one edge
    assert C.quantile_edges(np.array([1.0] * 9 + [2.0]), 4).tolist() == [1.0]
    # bins (-inf, 5.5), [5.5, inf): the edge itself goes up
    assert C.bin_counts(np.array([1, 5.5, 6, 10, -3]), np.array([5.5])).tolist() == [2, 3]
    # on the reference's own deciles every bin holds a tenth: PSI 0
    assert C.psi_numeric(ref, ref, bins=10) == 0.0


def test_ks_statistic_and_jaccard() -> None:
    d, p = C.ks(np.array([1, 2, 3, 4.0]), np.array([3, 4, 5, 6.0]))
    assert d == 0.5  # F_ref(2) = 0.5, F_cur(2) = 0
    assert 0 < p <= 1
    assert C.jaccard(["a", "b", "c"], ["b", "c", "d"]) == 0.5
    assert C.jaccard([], []) == 1.0


def test_counter_increase_over_a_window_counts_a_restart() -> None:
    t0 = NOW - timedelta(hours=2)
    samples = pd.DataFrame(
        {
            "time": [t0, t0 + timedelta(minutes=70), NOW - timedelta(minutes=30),
                     NOW - timedelta(minutes=10)],
            "value": [10.0, 30.0, 5.0, 15.0],
        }
    )  # fmt: skip
    # from 10 (the last sample at or before 11:00) -> 30 (+20) -> 5 (a restart: +5) -> 15 (+10)
    assert C.counter_increase(samples, HOUR) == 35.0
    later = C.Window(NOW - timedelta(minutes=40), NOW)  # from 30: +5, +10
    assert C.counter_increase(samples, later) == 15.0
    whole = C.Window.ending(NOW, timedelta(hours=3))
    assert C.counter_increase(samples, whole) == 20 + 5 + 10  # first sample inside: 10
    assert C.counter_increase(samples.head(1), whole) is None


# ---- volume and mix -----------------------------------------------------------------------
def weekly(counts: dict[str, list[int]], now: dict[str, int]) -> pd.DataFrame:
    """Per type: counts in the same hour 4, 3, 2, 1 weeks ago, and now."""
    rows: list = []
    for kind, past in counts.items():
        for w, n in zip(range(len(past), 0, -1), past, strict=True):
            rows += in_window(HOUR.shifted(C.WEEK * w), n, kind)
        rows += in_window(HOUR, now[kind], kind)
    return frame(rows)


def test_a_type_that_stops_arriving_is_exactly_one_alert_naming_it_and_the_window() -> None:
    events = weekly(
        {"view": [300, 320, 280, 300], "purchase": [100, 110, 90, 100]},
        {"view": 305, "purchase": 0},
    )
    results = C.event_volume(events, HOUR, history_weeks=4)
    assert [(r.key, r.status) for r in results] == [
        ("volume:purchase", "alert"),
        ("volume:view", "ok"),
    ]
    alert = results[0]
    assert alert.value == 0.0 and alert.threshold == 0.5
    assert alert.details["history_mean"] == 100.0
    assert alert.details["history_sd"] == pytest.approx(math.sqrt(200 / 3))
    assert alert.details["z"] == pytest.approx(-100 / math.sqrt(200 / 3))
    assert alert.window == HOUR
    assert "stopped arriving" in alert.message
    assert "purchase" in alert.message and "2026-11-29T11:00:00+00:00" in alert.message
    assert "2026-11-29T12:00:00+00:00" in alert.message
    assert results[1].value == pytest.approx(305 / 300)


def test_volume_thresholds_at_the_boundary() -> None:
    flat = {"view": [100, 100, 100, 100]}  # sd 0: any change is an infinite z
    at_bound = C.event_volume(weekly(flat, {"view": 50}), HOUR)[0]
    assert (at_bound.value, at_bound.status) == (0.5, "ok")  # not below 0.5
    below = C.event_volume(weekly(flat, {"view": 49}), HOUR)[0]
    assert (below.value, below.status) == (0.49, "alert")
    assert C.event_volume(weekly(flat, {"view": 200}), HOUR)[0].status == "ok"  # not above 2
    assert C.event_volume(weekly(flat, {"view": 201}), HOUR)[0].status == "alert"


def test_volume_needs_a_surprising_z_as_well_as_a_ratio() -> None:
    noisy = {"view": [40, 160, 40, 160]}  # mean 100, sd 69.28
    low = C.event_volume(weekly(noisy, {"view": 45}), HOUR, z_max=3.0)[0]
    assert low.value == 0.45 and low.details["z"] == pytest.approx(-55 / math.sqrt(4800))
    assert low.status == "ok"  # z -0.79: the history varies this much
    assert C.event_volume(weekly(noisy, {"view": 45}), HOUR, z_max=0.7)[0].status == "alert"


def test_volume_without_history_or_with_rare_types_is_skipped() -> None:
    events = weekly({"view": [5, 5, 5, 5]}, {"view": 0})
    assert C.event_volume(events, HOUR)[0].status == "skipped"  # mean 5 < min_count 20
    # the monitor started two weeks ago: only two history windows count
    covered = HOUR.shifted(C.WEEK * 2).start
    events = weekly({"view": [0, 0, 100, 100]}, {"view": 100})
    result = C.event_volume(events, HOUR, covered_since=covered)[0]
    assert (result.status, result.details["weeks"]) == ("ok", 2.0)
    fresh = C.event_volume(events, HOUR, covered_since=NOW - timedelta(hours=1))[0]
    assert fresh.status == "skipped" and "no history" in fresh.message


def test_event_mix_psi_against_the_pooled_history() -> None:
    past = {"view": [80, 80, 80, 80], "purchase": [20, 20, 20, 20]}
    same = C.event_mix(weekly(past, {"view": 80, "purchase": 20}), HOUR)
    assert (same.value, same.status) == (0.0, "ok")
    shifted = C.event_mix(weekly(past, {"view": 50, "purchase": 50}), HOUR)
    by_hand = (0.5 - 0.8) * math.log(0.5 / 0.8) + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert shifted.value == pytest.approx(by_hand, abs=1e-12)  # 0.4158
    assert shifted.status == "alert" and "purchase 20.0% -> 50.0%" in shifted.message
    small = C.event_mix(weekly(past, {"view": 50, "purchase": 49}), HOUR)
    assert small.status == "skipped"  # 99 events < min_events 100


# ---- validation and unknown ids ------------------------------------------------------------
def test_validation_failure_rate_at_the_boundary() -> None:
    ok = C.validation_failures(95, 5, HOUR, max_rate=0.05)
    assert (ok.value, ok.status) == (0.05, "ok")
    bad = C.validation_failures(94, 6, HOUR, max_rate=0.05)
    assert (bad.value, bad.status) == (0.06, "alert")
    assert "6 of 100 events rejected (6.00% > 5.00%)" in bad.message
    assert C.validation_failures(40, 9, HOUR).status == "skipped"  # 49 < 50 events
    assert C.validation_failures(None, None, HOUR).status == "skipped"


def test_unknown_user_and_item_shares() -> None:
    rows = [(NOW - timedelta(minutes=1), f"u{k}", f"i{k % 25}", "view") for k in range(40)]
    events = frame(rows)
    known_users = [f"u{k}" for k in range(20)]  # u20..u39 unknown: 20 of 40
    known_items = [f"i{k}" for k in range(20)]  # i20..i24 unknown: 5 of 25
    users, items = C.unknown_share(
        events, HOUR, known_users, known_items, max_user_share=0.5, max_item_share=0.1
    )
    assert (users.value, users.status) == (0.5, "ok")  # at the bound
    assert (items.value, items.status) == (0.2, "alert")
    assert "5 of 25 distinct items unknown to the model (20.00% > 10.00%)" in items.message
    sessions = events.assign(user_id=None)
    assert C.unknown_share(sessions, HOUR, known_users, known_items)[0].status == "skipped"


# ---- feature distributions ----------------------------------------------------------------
def test_a_category_going_out_of_stock_is_a_psi_alert() -> None:
    reference = {"a": 500.0, "b": 500.0}
    out = C.categorical_drift("category", reference, {"a": 100.0}, HOUR)
    by_hand = (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert out.value == pytest.approx(by_hand, abs=1e-12)  # 4.6043
    assert (out.key, out.status) == ("feature_psi:category", "alert")
    assert "b 50.0% -> 0.0%" in out.message
    steady = C.categorical_drift("category", reference, {"a": 52.0, "b": 48.0}, HOUR)
    assert steady.status == "ok" and steady.value == pytest.approx(
        0.02 * math.log(0.52 / 0.5) - 0.02 * math.log(0.48 / 0.5), abs=1e-12
    )


def test_numeric_drift_psi_and_ks() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(10, 2, 5000)
    same = C.numeric_drift("price", reference, rng.normal(10, 2, 500), HOUR)
    assert [r.status for r in same] == ["ok", "ok"]
    moved = C.numeric_drift("price", reference, rng.normal(13, 2, 500), HOUR)
    assert [(r.key, r.status) for r in moved] == [
        ("feature_psi:price", "alert"),
        ("feature_ks:price", "alert"),
    ]
    assert moved[1].value > 0.5 and moved[1].details["p_value"] < 1e-10
    # exact numbers on a small sample: deciles of 1..100, current = 91..100 (the top bin)
    ref = np.arange(1, 101, dtype=float)
    psi, ks = C.numeric_drift("x", ref, np.arange(91, 101, dtype=float), HOUR, min_n=10)
    e = [0.1] * 10
    a = [1e-4] * 9 + [1.0]
    assert psi.value == pytest.approx(
        sum((y - x) * math.log(y / x) for x, y in zip(e, a, strict=True))
    )
    assert ks.value == pytest.approx(0.9)


def test_drift_checks_skip_small_samples() -> None:
    out = C.numeric_drift("price", np.ones(100), np.ones(49), HOUR, min_n=50)
    assert [r.status for r in out] == ["skipped", "skipped"]
    assert C.categorical_drift("category", {"a": 10}, {"a": 100}, HOUR).status == "skipped"


# ---- the served model ---------------------------------------------------------------------
def test_score_drift_and_list_overlap() -> None:
    ref = np.linspace(0, 1, 100)
    assert C.score_drift(ref, ref.copy(), HOUR).status == "ok"
    up = C.score_drift(ref, ref + 0.5, HOUR)
    assert up.value == pytest.approx(0.5) and up.status == "alert"
    lists = {f"u{k}": ["a", "b", "c", "d"] for k in range(10)}
    half = {u: ["a", "b", "x", "y"] for u in lists}  # 2 / 6 each
    out = C.list_overlap(lists, half, HOUR, min_jaccard=0.5)
    assert out.value == pytest.approx(1 / 3) and out.status == "alert"
    three = {u: ["a", "b", "x"] for u in lists}  # 2 / 5 each
    assert C.list_overlap(lists, three, HOUR, min_jaccard=0.4).status == "ok"  # at the bound
    assert C.list_overlap(lists, {"u0": ["a"]}, HOUR).status == "skipped"


# ---- KPIs ----------------------------------------------------------------------------------
def test_kpis_of_a_window() -> None:
    t = NOW - timedelta(minutes=5)
    rows = [(t, f"v{k}", "i1", "exposure", f"r{k}") for k in range(10)]
    rows += [(t, "v0", "i1", "click", "r0"), (t, "v1", "i1", "click", "r1")]
    rows += [(t, "v2", "i1", "click", "r2"), (t, "v3", "i1", "click")]  # no list: not counted
    rows += [(t, "v0", "i1", "purchase"), (t, "v9", "i2", "view")]
    k = C.kpis(frame(rows), HOUR)
    assert k["ctr"] == 3 / 10
    # visitors with an event other than an exposure: v0 v1 v2 v3 v9; purchasers: v0
    assert (k["visitors"], k["purchasers"], k["conversion"]) == (5, 1, 1 / 5)
    empty = C.kpis(frame(rows), HOUR.shifted(C.WEEK))
    assert math.isnan(empty["ctr"]) and math.isnan(empty["conversion"])


def test_control_band_at_its_edges() -> None:
    history = [0.10, 0.12, 0.08, 0.10, 0.12, 0.08, 0.10]
    sd = math.sqrt(4 * 0.02**2 / 6)
    high = 0.10 + 3 * sd  # 0.14899
    inside = C.control_band("ctr", history, 0.148, HOUR)
    assert inside.status == "ok" and inside.details["high"] == pytest.approx(high)
    out = C.control_band("ctr", history, 0.15, HOUR)
    assert out.status == "alert" and out.value == pytest.approx((0.15 - 0.10) / sd)
    assert out.key == "kpi:ctr" and "outside the band" in out.message
    assert C.control_band("ctr", history[:6], 0.5, HOUR).status == "skipped"
    assert C.control_band("ctr", history, math.nan, HOUR).status == "skipped"


def test_kpi_history_takes_the_consecutive_windows_before() -> None:
    day = C.Window.ending(NOW, timedelta(days=1))
    rows = []
    for k in range(1, 8):  # 10 exposures and k clicks on each of the 7 days before
        w = day.shifted(timedelta(days=k))
        rows += [
            (w.start + timedelta(hours=1), f"v{j}", "i", "exposure", f"r{j}") for j in range(10)
        ]
        rows += [(w.start + timedelta(hours=2), f"v{j}", "i", "click", f"r{j}") for j in range(k)]
    history = C.kpi_history(frame(rows), day, history_weeks=1)
    assert [h["ctr"] for h in history] == pytest.approx([0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])


def test_results_serialise_for_the_webhook() -> None:
    result = C.validation_failures(None, None, HOUR)
    data = result.as_dict()
    assert data["check"] == "validation_failures" and data["value"] is None
    assert data["window_start"] == "2026-11-29T11:00:00+00:00"
