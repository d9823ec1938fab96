"""The simulator's proofs (issue 13), small enough for the suite: an A/B test of a good model
against popularity is detected by the always-valid test, A/A splits of the same visits raise no
more alarms than the test's level allows, and the dashboard counts what the visitors did."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.experiments.analysis import analyse, read_events
from tailor.experiments.config import Experiment
from tailor.serving.app import create_app
from tailor.simulation.report import resplit
from tailor.simulation.setup import WorldSpec, setup_shop
from tailor.simulation.visitors import Visitors
from tailor.testing.serving import serve_settings

SPEC = WorldSpec(n_users=300, n_items=120, seed=5, history_per_user=12)
AB = {
    "name": "ab",
    "primary_metric": "ctr",
    "variants": [{"name": "popular", "strategy": "popular"}, {"name": "model"}],
}
AA = {"name": "aa", "primary_metric": "ctr", "variants": [{"name": "a"}, {"name": "b"}]}


def simulate(tmp_path: Path, experiment: dict[str, Any], visits: int) -> pd.DataFrame:
    """Serve the shop with ``experiment`` running, send visitors, return the event log."""
    setup_shop(tmp_path, SPEC, ("recency-ease",))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    settings = serve_settings(tmp_path / "store", event_log_url=url, experiments=[experiment])
    with TestClient(create_app(settings)) as client:
        Visitors(SPEC.build(), client, seed=11).run(visits)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # exposures are written in the background
            events = read_events(url)
            shown = events[events["type"] == "exposure"]["recommendation_id"].nunique()
            if shown >= visits:
                break
            time.sleep(0.05)
    assert shown == visits
    return events


@pytest.fixture(scope="module")
def ab_events(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return simulate(tmp_path_factory.mktemp("ab"), AB, 600)


@pytest.fixture(scope="module")
def aa_events(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return simulate(tmp_path_factory.mktemp("aa"), AA, 600)


@pytest.mark.slow
def test_the_better_model_is_detected_by_the_sequential_test(ab_events: pd.DataFrame) -> None:
    result = analyse(ab_events, Experiment.model_validate(AB), looks=10)
    test = result.tests[("model", "ctr")]
    assert test.delta.value > 0 and test.p_always_valid < 0.05
    assert result.verdict("model").startswith("model is better than popular on")
    assert not result.srm.alarm


@pytest.mark.slow
def test_aa_splits_raise_no_more_alarms_than_the_level(aa_events: pd.DataFrame) -> None:
    live = analyse(aa_events, Experiment.model_validate(AA), looks=10)
    assert live.tests[("b", "ctr")].p_always_valid >= 0.05 and not live.srm.alarm
    alarms = 0
    for k in range(30):
        experiment = Experiment.model_validate({**AA, "salt": f"aa-{k}"})
        result = analyse(resplit(aa_events, experiment), experiment, looks=5)
        alarms += result.tests[("b", "ctr")].p_always_valid < 0.05
    # level 0.05 while peeking at 5 looks: P(more than 4 of 30) < 2 % if it holds
    assert alarms <= 4, alarms


@pytest.mark.slow
def test_the_dashboard_shows_the_runs_kpis(tmp_path: Path) -> None:
    setup_shop(tmp_path, SPEC, ("recency-ease",))
    url = f"sqlite:///{tmp_path / 'events.db'}"
    settings = serve_settings(tmp_path / "store", event_log_url=url, experiments=[AB])
    with TestClient(create_app(settings)) as client:
        visits = Visitors(SPEC.build(), client, seed=11).run(150)
        deadline, doc = time.monotonic() + 15, {}
        while time.monotonic() < deadline:  # exposures are written in the background
            doc = client.get("/v1/dashboard/kpis").json()
            if doc.get("overall", {}).get("lists") == len(visits):
                break
            time.sleep(0.3)
    variants = {row["variant"]: row for row in doc["variants"]}
    for name in ("popular", "model"):
        mine = visits[visits["variant"] == name]
        row = variants[f"ab:{name}"]
        assert (row["lists"], row["clicks"], row["orders"]) == (
            len(mine),
            mine["clicks"].sum(),
            mine["purchases"].sum(),
        )
        assert row["revenue"] == pytest.approx(mine["revenue"].sum())
