"""Model versions: publish, atomic switch, rollback, and switching under concurrent reads."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.errors import ConfigError
from tailor.serving.app import create_app
from tailor.serving.registry import ModelRegistry
from tailor.testing.data import planted_frame
from tailor.testing.serving import U0_MODEL, items_of, serve_settings, write_model_dir


def _frame_v2() -> pd.DataFrame:
    """planted_frame plus ten new users who all bought i7: i7 becomes the most popular item."""
    base = planted_frame()
    extra = pd.DataFrame(
        {
            "user_id": [f"n{k}" for k in range(10)],
            "item_id": ["i7"] * 10,
            "value": 1.0,
            "timestamp": base["timestamp"].max(),
        }
    )
    return pd.concat([base, extra], ignore_index=True)


V2_U0 = ["i7", "i4", "i1", "i6", "i5"]
"""u0 under version 2: i7 (14 users) first, then i4 (6), then the 4-user items."""


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    reg = ModelRegistry(tmp_path / "registry")
    reg.publish(write_model_dir(tmp_path / "m1"), "v1")
    reg.publish(write_model_dir(tmp_path / "m2", _frame_v2()), "v2")
    reg.activate("v1")
    return reg


def test_publish_activate_rollback(registry: ModelRegistry, tmp_path: Path) -> None:
    assert registry.versions() == ["v1", "v2"]
    assert registry.active() == "v1"
    registry.activate("v2")
    assert registry.active() == "v2"
    assert registry.rollback() == "v1"
    assert registry.active() == "v1"
    with pytest.raises(ConfigError, match="no earlier version"):
        registry.rollback()
    with pytest.raises(ConfigError, match="already exists"):
        registry.publish(tmp_path / "m1", "v1")
    with pytest.raises(ConfigError, match="invalid version name"):
        registry.publish(tmp_path / "m1", "../evil")
    assert not list((registry.root / "versions").glob(".*"))  # no staging leftovers


def test_single_model_dir_is_a_one_version_registry(tmp_path: Path) -> None:
    model = write_model_dir(tmp_path / "m")
    reg = ModelRegistry(model)
    assert reg.is_single
    assert reg.versions() == [reg.active()]
    assert reg.path(reg.active() or "") == model
    with pytest.raises(ConfigError):
        reg.activate("x")


def test_admin_switch_and_rollback_over_http(registry: ModelRegistry) -> None:
    with TestClient(create_app(serve_settings(registry.root, admin_open=True))) as c:
        assert c.get("/v1/recommendations/u0", params={"n": 5}).json()["model_version"] == "v1"
        r = c.put("/v1/admin/active-version", json={"version": "v2"})
        assert r.json() == {"active": "v2", "versions": ["v1", "v2"]}
        after = c.get("/v1/recommendations/u0", params={"n": 5})
        assert (after.json()["model_version"], items_of(after)) == ("v2", V2_U0)
        assert c.put("/v1/admin/active-version", json={"version": "v9"}).status_code == 404
        assert c.post("/v1/admin/rollback").json()["active"] == "v1"
        assert items_of(c.get("/v1/recommendations/u0", params={"n": 5})) == U0_MODEL


def test_watcher_picks_up_pointer_change(registry: ModelRegistry) -> None:
    import time

    with TestClient(create_app(serve_settings(registry.root, reload_poll_s=0.05))) as c:
        registry.activate("v2")
        deadline = time.monotonic() + 5
        while c.get("/v1/recommendations/u0").json()["model_version"] != "v2":
            assert time.monotonic() < deadline, "the new version was not picked up"
            time.sleep(0.02)


def test_switch_under_concurrent_reads_is_all_old_or_all_new(registry: ModelRegistry) -> None:
    expected = {"v1": U0_MODEL, "v2": V2_U0}
    seen: list[tuple[str, list[str], int]] = []
    stop = threading.Event()

    with TestClient(create_app(serve_settings(registry.root, admin_open=True))) as c:

        def reader() -> None:
            while not stop.is_set():
                r = c.get("/v1/recommendations/u0", params={"n": 5})
                seen.append((r.json().get("model_version"), items_of(r), r.status_code))

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        for k in range(10):
            c.put("/v1/admin/active-version", json={"version": "v2" if k % 2 == 0 else "v1"})
        stop.set()
        for t in threads:
            t.join()

    assert len(seen) > 20
    assert {status for _, _, status in seen} == {200}
    assert {version for version, _, _ in seen} == {"v1", "v2"}
    for version, items, _ in seen:
        assert items == expected[version]


def test_single_dir_has_no_admin_switch(model_dir: Path) -> None:
    with TestClient(create_app(serve_settings(model_dir, admin_open=True))) as c:
        r = c.put("/v1/admin/active-version", json={"version": "v2"})
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
