"""``tailor simulate setup`` writes a shop a server can serve, whole or not at all."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tailor.serving.registry import ModelRegistry
from tailor.testing.cli import run_cli


def test_setup_writes_world_store_and_settings(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    args = ["simulate", "setup", "--out", out, "--users", 30, "--items", 20, "--history", 5]
    assert run_cli(*args, "--model", "popularity", "--model", "ease") == 0
    assert json.loads((out / "world.json").read_text()) == {
        "n_users": 30, "n_items": 20, "k": 8, "seed": 0, "history_per_user": 5
    }  # fmt: skip
    serve = tomllib.loads((out / "tailor.toml").read_text())["serve"]
    assert serve == {
        "model_dir": str((out / "store").resolve()),
        "event_log_url": f"sqlite:///{(out / 'events.db').resolve()}",
        "scoring_budget_ms": 5000.0,
    }
    store = ModelRegistry(out / "store")
    assert len(store.versions()) == 2 and str(store.active()).startswith("popularity-")


def test_run_needs_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shop"
    assert run_cli("simulate", "setup", "--out", out, "--users", 5, "--items", 5) == 0
    code = run_cli(
        "simulate", "run", "--world", out, "--url", "http://127.0.0.1:9", "--out", tmp_path / "r"
    )
    assert code == 2
    assert "no tailor server answers at http://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
