"""The simulator's drift proof (issue 13): visitors act normally for four weeks of simulated
time, then a category goes out of stock and purchases stop being reported; the monitor, run at
the end of each phase, is quiet after the normal weeks and raises the matching alerts after the
drift, naming the check and its window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.monitoring.config import MonitorSettings
from tailor.monitoring.runner import Monitor
from tailor.serving.app import create_app
from tailor.simulation.setup import WorldSpec, setup_shop
from tailor.simulation.visitors import Visitors
from tailor.testing.serving import serve_settings

SPEC = WorldSpec(n_users=200, n_items=100, seed=9, history_per_user=10)
DAY = 86_400
START = 1_767_225_600  # 2026-01-01
PER_DAY = 30


@pytest.mark.slow
def test_injected_drifts_raise_their_alerts(tmp_path: Path) -> None:
    store = setup_shop(tmp_path, SPEC, ("recency-ease",))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    world = SPEC.build()
    monitor = Monitor(
        MonitorSettings.model_validate(
            {
                "event_log_url": url,
                "model_dir": store.root,
                "state_file": tmp_path / "monitor.db",
                "clock": "events",
                "window": DAY,
                # a small shop: about 45 events a day, so smaller minimum counts
                "volume": {"min_count": 5},
                "mix": {"min_events": 20},
                # what visitors clicked, by category (prices follow the served lists, not
                # only tastes, so they are left out here)
                "features": {"min_n": 15, "event_types": ["click"], "numeric": []},
                "validation": {"enabled": False},
                "scores": {"enabled": False},
                "kpi": {"enabled": False},
            }
        )
    )
    with TestClient(create_app(serve_settings(store.root, event_log_url=url))) as client:
        normal = Visitors(world, client, seed=1, start_s=START, seconds_per_visit=DAY / PER_DAY)
        normal.run(29 * PER_DAY)
        quiet = monitor.run_once(pd.Timestamp(START + 29 * DAY, unit="s", tz="UTC"))
        world.stock_out("c0")
        drifted = Visitors(
            world,
            client,
            seed=2,
            start_s=START + 29 * DAY,
            seconds_per_visit=DAY / PER_DAY,
            stop_types=frozenset({"purchase"}),
        )
        drifted.run(PER_DAY)
        loud = monitor.run_once(pd.Timestamp(START + 30 * DAY, unit="s", tz="UTC"))
    assert [a.name for a in quiet.alerts] == []
    alerted = {(a.name, a.subject): a for a in loud.alerts}
    assert {("volume", "purchase"), ("event_mix", None), ("feature_psi", "category")} <= set(
        alerted
    )
    assert ("volume", "click") not in alerted  # clicks still arrive
    stopped = alerted[("volume", "purchase")]
    assert stopped.value == 0.0 and "purchase" in stopped.message
    assert stopped.window.end == pd.Timestamp(START + 30 * DAY, unit="s", tz="UTC")
    assert stopped.window.start == pd.Timestamp(START + 29 * DAY, unit="s", tz="UTC")
