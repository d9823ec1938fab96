"""The shop simulator's three proofs at full size (issue 13), the documented run of
docs/simulation.md: writes bench/results/simulation_proofs.json and docs/img/simulation-*.png.

1. A/B: recency-ease against its popular list, served by tailor in an experiment; the
   always-valid test's verdict; then A/A: the same visitors split again by 200 salts (both arms
   served alike), each analysed with 10 looks: the share of false alarms against the level.
2. Drift: four weeks of simulated visits, then a day with a category out of stock and purchases
   no longer reported; ``tailor monitor``'s runs after the normal weeks and after the drift.
3. Dashboard: ``/v1/dashboard/kpis`` per variant against what the visitors did.

    .venv/bin/python bench/simulation/proofs.py [--visits 3000] [--aa-runs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient

from tailor.experiments.analysis import analyse, read_events
from tailor.experiments.config import Experiment
from tailor.monitoring.config import MonitorSettings
from tailor.monitoring.runner import Monitor
from tailor.serving.app import create_app
from tailor.simulation.report import resplit
from tailor.simulation.setup import WorldSpec, setup_shop
from tailor.simulation.visitors import Visitors
from tailor.testing.serving import serve_settings

ROOT = Path(__file__).parents[2]
RESULTS = ROOT / "bench" / "results" / "simulation_proofs.json"
SPEC = WorldSpec(n_users=500, n_items=200, seed=0, history_per_user=20)
AB = {
    "name": "model-vs-popular",
    "primary_metric": "ctr",
    "variants": [{"name": "popular", "strategy": "popular"}, {"name": "model"}],
}
AA = {"name": "aa", "primary_metric": "ctr", "variants": [{"name": "a"}, {"name": "b"}]}
DAY, START = 86_400, 1_767_225_600


def served_events(folder: Path, experiment: dict[str, Any], visits: int) -> tuple[Any, Any]:
    """A run of ``visits`` in ``experiment``: (visits frame, the event log as a frame, the
    dashboard's KPI document at the end)."""
    setup_shop(folder, SPEC, ("recency-ease",))
    url = f"sqlite:///{folder / 'events.db'}"
    settings = serve_settings(
        folder / "store", event_log_url=url, experiments=[experiment], scoring_budget_ms=5000.0
    )
    with TestClient(create_app(settings)) as client:
        rows = Visitors(SPEC.build(), client, seed=11).run(visits)
        deadline, kpis = time.monotonic() + 60, {}
        while time.monotonic() < deadline:  # exposures are written in the background
            kpis = client.get("/v1/dashboard/kpis").json()
            if kpis.get("overall", {}).get("lists") == len(rows):
                break
            time.sleep(0.5)
    return rows, (read_events(url), kpis)


def ab_proof(folder: Path, visits: int) -> dict[str, Any]:
    rows, (events, kpis) = served_events(folder, AB, visits)
    result = analyse(events, Experiment.model_validate(AB), looks=20)
    test = result.tests[("model", "ctr")]
    dashboard = {}
    for row in kpis["variants"]:
        name = row["variant"].split(":")[-1]
        mine = rows[rows["variant"] == name]
        dashboard[name] = {
            "dashboard": [row["lists"], row["clicks"], row["orders"]],
            "visitors_did": [len(mine), int(mine["clicks"].sum()), int(mine["purchases"].sum())],
        }
    return {
        "visits": visits,
        "ctr": {v.variant.name: round(v.metrics["ctr"].value, 4) for v in result.variants},
        "relative_lift": round(test.relative, 4),
        "p_always_valid": test.p_always_valid,
        "verdict": result.verdict("model"),
        "srm_p": result.srm.p_value,
        "dashboard_vs_visitors": dashboard,
        "dashboard_equal": all(d["dashboard"] == d["visitors_did"] for d in dashboard.values()),
    }


def aa_proof(folder: Path, visits: int, runs: int) -> dict[str, Any]:
    _, (events, _) = served_events(folder, AA, visits)
    p_values = []
    for k in range(runs):
        experiment = Experiment.model_validate({**AA, "salt": f"aa-{k}"})
        result = analyse(resplit(events, experiment), experiment, looks=10)
        p_values.append(result.tests[("b", "ctr")].p_always_valid)
    alarms = sum(p < 0.05 for p in p_values)
    return {"runs": runs, "looks": 10, "alarms": alarms, "false_alarm_rate": alarms / runs}


def drift_proof(folder: Path, per_day: int = 60) -> dict[str, Any]:
    store = setup_shop(folder, SPEC, ("recency-ease",))
    url = f"sqlite:///{folder / 'events.db'}"
    world = SPEC.build()
    monitor = Monitor(
        MonitorSettings.model_validate(
            {
                "event_log_url": url,
                "model_dir": store.root,
                "state_file": folder / "monitor.db",
                "clock": "events",
                "window": DAY,
                "validation": {"enabled": False},
                "scores": {"enabled": False},
                "kpi": {"enabled": False},
                "features": {"event_types": ["click"], "numeric": []},
            }
        )
    )
    settings = serve_settings(store.root, event_log_url=url, scoring_budget_ms=5000.0)
    runs = {}
    with TestClient(create_app(settings)) as client:
        Visitors(world, client, seed=1, start_s=START, seconds_per_visit=DAY / per_day).run(
            29 * per_day
        )
        runs["after 4 normal weeks"] = monitor.run_once(
            pd.Timestamp(START + 29 * DAY, unit="s", tz="UTC")
        )
        world.stock_out("c0")
        Visitors(
            world,
            client,
            seed=2,
            start_s=START + 29 * DAY,
            seconds_per_visit=DAY / per_day,
            stop_types=frozenset({"purchase"}),
        ).run(per_day)
        runs["after the drift day"] = monitor.run_once(
            pd.Timestamp(START + 30 * DAY, unit="s", tz="UTC")
        )
    return {name: [a.message for a in report.alerts] for name, report in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=3000)
    parser.add_argument("--aa-runs", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailor-sim-proofs-"))
    started = time.perf_counter()
    result = {
        "command": "python bench/simulation/proofs.py " + " ".join(sys.argv[1:]),
        "world": SPEC.__dict__,
        "load_before": os.getloadavg(),
        "ab": ab_proof(work / "ab", args.visits),
        "aa": aa_proof(work / "aa", args.visits, args.aa_runs),
        "drift": drift_proof(work / "drift"),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_after"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
