"""The simulated shop: its truth is exact, its visitors are seeded, and a good model earns more
clicks than popularity from the same visitors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.simulation.setup import WorldSpec, setup_shop
from tailor.simulation.visitors import Visitors
from tailor.simulation.world import ShopWorld
from tailor.streaming.log import Position
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.serving import serve_settings


def test_click_probability_follows_affinity_and_position() -> None:
    world = ShopWorld(n_users=2, n_items=3, k=2, seed=0, click_bias=0.0)
    world.user_factors = np.array([[1.0, 0.0], [0.0, 1.0]])
    world.item_factors = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, -1.0]])
    world.item_bias = np.zeros(3)
    p = world.click_probability(0, np.array([0, 1, 2]))
    sigmoid = 1.0 / (1.0 + np.exp(-np.array([2.0, 0.0, 0.0])))
    np.testing.assert_allclose(p, sigmoid / np.log2([2.0, 3.0, 4.0]))
    world.stock_out("c1")  # categories go round robin: c1 holds item 1
    assert world.click_probability(0, np.array([1]))[0] == 0.0
    assert world.best_items(1, 2).tolist() == [0, 2]  # item 1 is out of stock


def test_history_is_seeded_and_follows_preferences() -> None:
    a, b = ShopWorld(seed=3).history(5), ShopWorld(seed=3).history(5)
    assert a.equals(b) and len(a) == 500 * 5
    world = ShopWorld(seed=3)
    bought = world.affinity(
        np.array([int(u[1:]) for u in a.user_id]), np.array([int(i[1:]) for i in a.item_id])
    )
    every = world.user_factors @ world.item_factors.T + world.item_bias
    assert bought.mean() > every.mean() + 0.5  # people buy what they like


def run(tmp_path: Path, model: str, visits: int = 300) -> tuple[pd.DataFrame, Path]:
    spec = WorldSpec(n_users=200, n_items=100, seed=1, history_per_user=12)
    setup_shop(tmp_path / model, spec, (model,))
    db = tmp_path / model / "events.db"
    settings = serve_settings(tmp_path / model / "store", event_log_url=f"sqlite:///{db}")
    with TestClient(create_app(settings)) as client:
        rows = Visitors(spec.build(), client, seed=7).run(visits)
    return rows, db


@pytest.mark.slow
def test_a_good_model_earns_more_clicks_than_popularity(tmp_path: Path) -> None:
    good, _ = run(tmp_path, "recency-ease")
    popular, _ = run(tmp_path, "popularity")
    assert good.expected_clicks.mean() > 1.3 * popular.expected_clicks.mean()
    assert good.clicks.sum() > popular.clicks.sum()


def test_visitors_send_what_they_did(tmp_path: Path) -> None:
    rows, db = run(tmp_path, "popularity", visits=120)
    log = SqliteEventLog(db)
    log.seek(Position())
    events = [r.event for r in log.poll(100_000, 0.0)]
    clicks = [e for e in events if e.type == "click"]
    purchases = [e for e in events if e.type == "purchase"]
    assert len(clicks) == rows.clicks.sum() and len(purchases) == rows.purchases.sum()
    shown = dict(zip(rows.recommendation_id, rows["items"], strict=True))
    assert all(e.item_id in shown[e.recommendation_id] for e in clicks)
    again, _ = run(tmp_path / "again", "popularity", visits=120)
    assert rows.clicks.tolist() == again.clicks.tolist()
