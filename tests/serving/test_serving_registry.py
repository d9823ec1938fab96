"""Model versions: publish, atomic switch, rollback, and switching under concurrent reads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tailor.cli.serve import serve
from tailor.errors import ConfigError
from tailor.serving.app import create_app
from tailor.serving.registry import STALE_S, ModelRegistry
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


# ---- issue 8: a version is checked before the pointer moves; publishing is all or nothing ----


def _truncate_params(version_dir: Path) -> None:
    raw = (version_dir / "params.npz").read_bytes()
    (version_dir / "params.npz").write_bytes(raw[: len(raw) // 2])


def test_admin_activation_of_a_broken_version_is_422_and_keeps_the_pointer(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    """Today: 500, ACTIVE left on the broken version, and the next start failed."""
    _truncate_params(registry.root / "versions" / "v2")
    settings = serve_settings(registry.root, admin_open=True)
    with TestClient(create_app(settings)) as c:
        r = c.put("/v1/admin/active-version", json={"version": "v2"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "versions/v2/params.npz is truncated or corrupt (BadZipFile)"
        assert r.json()["errors"] == [{"field": "body.version", "message": r.json()["detail"]}]
        assert str(tmp_path) not in r.text
        assert registry.active() == "v1"
        assert c.get("/v1/recommendations/u0", params={"n": 5}).json()["model_version"] == "v1"
        unknown = c.put("/v1/admin/active-version", json={"version": "v9"})
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == "version 'v9' is not published"
    with TestClient(create_app(settings)) as c:  # the next start serves v1
        assert c.get("/health/ready").status_code == 200
        assert items_of(c.get("/v1/recommendations/u0", params={"n": 5})) == U0_MODEL


def test_admin_rollback_to_a_broken_version_is_422(registry: ModelRegistry) -> None:
    registry.activate("v2")
    _truncate_params(registry.root / "versions" / "v1")
    with TestClient(create_app(serve_settings(registry.root, admin_open=True))) as c:
        r = c.post("/v1/admin/rollback")
        assert r.status_code == 422
        assert r.json()["detail"].startswith("versions/v1/params.npz is truncated")
        assert registry.active() == "v2"


def test_cli_activate_and_publish_check_the_version_first(
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tailor.cli import main

    def run(*args: str) -> tuple[int, list[str]]:
        monkeypatch.setattr(sys, "argv", ["tailor", "serve", *args])
        try:
            main()
        except SystemExit as exc:
            return int(exc.code or 0), capsys.readouterr().err.strip().splitlines()
        return 0, capsys.readouterr().err.strip().splitlines()

    root = str(registry.root)
    _truncate_params(registry.root / "versions" / "v2")
    code, err = run("activate", "--registry", root, "v2")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {registry.root / 'versions' / 'v2' / 'params.npz'} is trunc")
    assert registry.active() == "v1"
    assert run("rollback", "--registry", root)[0] == 2  # nothing earlier than v1
    broken = write_model_dir(tmp_path / "m3")
    (broken / "popularity" / "params.npz").write_bytes(b"")
    code, err = run("publish", "--registry", root, str(broken), "--version", "v3", "--activate")
    assert code == 2 and err == [f"error: {broken / 'popularity' / 'params.npz'} is empty"]
    assert registry.versions() == ["v1", "v2"] and registry.active() == "v1"


def test_killed_publish_leaves_nothing_listed(registry: ModelRegistry, tmp_path: Path) -> None:
    """A publish killed (``os._exit``: no cleanup runs, like SIGKILL) while copying."""
    model = write_model_dir(tmp_path / "m3")
    code = (
        "import os, shutil, sys\n"
        "from pathlib import Path\n"
        "from tailor.serving.registry import ModelRegistry\n"
        "copy = shutil.copytree\n"
        "def copy_then_die(*args, **kwargs):\n"
        "    copy(*args, **kwargs)\n"
        "    os._exit(9)\n"
        "shutil.copytree = copy_then_die\n"
        "ModelRegistry(Path(sys.argv[1])).publish(Path(sys.argv[2]), 'v3')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(registry.root), str(model)])
    assert proc.returncode == 9
    leftovers = [p for p in (registry.root / "versions").iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1  # a half-copied staging folder (copytree died in a subfolder)
    (registry.root / "versions" / "orphan").mkdir()  # a folder without a manifest
    result = CliRunner().invoke(serve, ["versions", "--registry", str(registry.root)])
    assert result.output == "* v1\n  v2\n"
    assert leftovers[0].exists()  # fresh: maybe a publish still copying
    old = time.time() - 2 * STALE_S
    os.utime(leftovers[0], (old, old))
    assert registry.versions() == ["v1", "v2"]
    assert not leftovers[0].exists()  # stale: removed
    assert (registry.root / "versions" / "orphan").exists()  # not ours to remove
    assert registry.publish(model, "v3") == "v3"  # the name is free again


def test_history_is_bounded(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "registry", history_limit=5)
    reg.publish(write_model_dir(tmp_path / "m1"), "v1")
    reg.publish(write_model_dir(tmp_path / "m2"), "v2")
    for k in range(60):
        reg.activate("v1" if k % 2 else "v2", check=False)
    assert (reg.root / "HISTORY").read_text().splitlines() == ["v1", "v2", "v1", "v2", "v1"]
    assert reg.active() == "v1"
    assert reg.rollback() == "v2"


def test_history_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAILOR_HISTORY_LIMIT", "3")
    root = str(tmp_path / "registry")
    runner = CliRunner()
    runner.invoke(serve, ["publish", "--registry", root, str(write_model_dir(tmp_path / "m"))])
    name = ModelRegistry(Path(root)).versions()[0]
    for _ in range(10):
        assert runner.invoke(serve, ["activate", "--registry", root, name]).exit_code == 0
    assert len((tmp_path / "registry" / "HISTORY").read_text().splitlines()) == 3


def test_registry_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        reg = ModelRegistry(tmp_path / "registry")
        reg.publish(write_model_dir(tmp_path / "m1"), "v1")
        reg.activate("v1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((reg.root / "ACTIVE").stat().st_mode) == 0o644
    assert stat.S_IMODE((reg.root / "HISTORY").stat().st_mode) == 0o644
    assert stat.S_IMODE((reg.root / "versions" / "v1").stat().st_mode) == 0o755
