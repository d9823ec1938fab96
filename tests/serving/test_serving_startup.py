"""The server always starts (issue 8): whatever the model store holds, it answers from what loads,
says on /health/ready why the model is missing (files named relative to the store), and recovers
when a good version appears. A bad cache URL is one error line at start-up."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tailor.cli import main
from tailor.serving.app import create_app
from tailor.serving.registry import ModelRegistry
from tailor.testing.serving import POPULAR, U0_MODEL, items_of, serve_settings, write_model_dir


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda path: (path / name).write_bytes(data)


def _rewrite_params(path: Path, key: str, value: np.ndarray) -> None:
    with np.load(path / "params.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[key] = value
    (path / "params.npz").unlink()
    np.savez(path / "params.npz", **arrays)  # type: ignore[arg-type]


def _nan_scores(path: Path) -> None:
    _rewrite_params(path, "item_scores", np.full(8, np.nan, np.float32))


def _short_scores(path: Path) -> None:
    _rewrite_params(path, "item_scores", np.ones(5, np.float32))


def _truncated(path: Path) -> None:
    raw = (path / "params.npz").read_bytes()
    (path / "params.npz").write_bytes(raw[: len(raw) // 2])


def _missing_key(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["n_items"]
    (path / "manifest.json").write_text(json.dumps(manifest))


def _foreign_arrays(path: Path) -> None:
    _rewrite_params(path, "user_factors", np.zeros((12, 4), np.float32))


BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    # today: served as empty lists with source=model / zero scores, ready 200
    "NaN weights": (_nan_scores, "params.npz: array 'item_scores' has non-finite values"),
    "wrong shape": (_short_scores, "params.npz: array 'item_scores' has shape (5,), expected"),
    # today: a traceback at start-up
    "manifest is a list": (_write("manifest.json", b"[]"), "manifest.json must hold a JSON"),
    "manifest is a string": (_write("manifest.json", b'"x"'), "manifest.json must hold a JSON"),
    "manifest not UTF-8": (_write("manifest.json", b"{\xff}"), "manifest.json is not UTF-8"),
    "manifest key missing": (_missing_key, "manifest.json: the key 'n_items' is missing"),
    "arrays of another model": (_foreign_arrays, "params.npz: unexpected array 'user_factors'"),
    "truncated params": (_truncated, "params.npz is truncated or corrupt"),
    "empty params": (_write("params.npz", b""), "params.npz is empty"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_model_folder_serves_the_fallback_and_says_why(tmp_path: Path, case: str) -> None:
    model = write_model_dir(tmp_path / "m")
    break_it, reason = BROKEN[case]
    break_it(model)
    with TestClient(create_app(serve_settings(model))) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 2})
        assert r.status_code == 200
        # no model: nothing knows u0's history, so the plain popular list
        assert (r.json()["source"], items_of(r)) == ("fallback", POPULAR[:2])
        ready = c.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"model": False, "fallback": True, "cache": True}
        assert body["reason"].startswith(f"model: {reason}"), body["reason"]
        assert str(tmp_path) not in ready.text  # no server paths in answers


def test_registry_without_versions_starts_and_recovers_on_publish(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    settings = serve_settings(registry.root, reload_poll_s=0.05)
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/recommendations/u0").status_code == 503
        ready = c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["reason"] == (
            "model: no active version in the model store; fallback: no popular list"
        )
        registry.publish(write_model_dir(tmp_path / "m1"), "v1")
        registry.activate("v1")
        _wait_for(lambda: c.get("/health/ready").status_code == 200)
        r = c.get("/v1/recommendations/u0", params={"n": 5})
        assert (r.json()["source"], r.json()["model_version"], items_of(r)) == (
            "model",
            "v1",
            U0_MODEL,
        )


def test_active_version_broken_behind_the_checks_recovers_on_activation(tmp_path: Path) -> None:
    """ACTIVE written by hand to a broken version: its fallback answers, ready says why, and a
    good version activated later takes over."""
    registry = ModelRegistry(tmp_path / "registry")
    registry.publish(write_model_dir(tmp_path / "m1"), "v1")
    registry.publish(write_model_dir(tmp_path / "m2"), "v2")
    _truncated(registry.root / "versions" / "v2")
    (registry.root / "ACTIVE").write_text("v2\n")
    settings = serve_settings(registry.root, reload_poll_s=0.05)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/recommendations/new", params={"n": 3})
        assert (r.status_code, r.json()["source"], items_of(r)) == (200, "fallback", POPULAR[:3])
        ready = c.get("/health/ready").json()
        assert (
            ready["reason"] == "model: versions/v2/params.npz is truncated or corrupt (BadZipFile)"
        )
        registry.activate("v1")
        _wait_for(lambda: c.get("/health/ready").status_code == 200)
        assert c.get("/v1/recommendations/u0").json()["source"] == "model"


def test_a_broken_version_never_replaces_a_working_one(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.publish(write_model_dir(tmp_path / "m1"), "v1")
    registry.publish(write_model_dir(tmp_path / "m2"), "v2")
    registry.activate("v1")
    _nan_scores(registry.root / "versions" / "v2")
    with TestClient(create_app(serve_settings(registry.root, reload_poll_s=0.05))) as c:
        (registry.root / "ACTIVE").write_text("v2\n")  # behind the checks
        time.sleep(0.3)  # several polls
        r = c.get("/v1/recommendations/u0", params={"n": 5})
        assert (r.json()["model_version"], items_of(r)) == ("v1", U0_MODEL)
        assert c.get("/health/ready").status_code == 200


def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x", "unsupported cache URL scheme 'http'"),
        ("redis://127.0.0.1:notaport/0", "the cache URL is malformed (check the port)"),
        ("redis://127.0.0.1:6379/zero", "the cache URL's database must be a number"),
        ("redis:///0", "the cache URL has no host"),
        ("redis://h:6379/0?socket_timeout=abc", "the cache URL is malformed: Invalid value"),
    ],
)
def test_bad_cache_url_is_one_error_line_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    message: str,
) -> None:
    """A URL that can never work is a configuration error (exit 2), not a dependency that may
    come back: the server does not start on an in-process cache the operator did not ask for."""
    model = write_model_dir(tmp_path / "m")
    for how in (["--redis", url], []):
        if not how:
            monkeypatch.setenv("TAILOR_REDIS_URL", url)
        monkeypatch.setattr(sys, "argv", ["tailor", "serve", "--model-dir", str(model), *how])
        with pytest.raises(SystemExit) as info:
            main()
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith("error: invalid serving settings: redis_url: ")
        assert message in err[0]


def test_redis_password_on_the_command_line_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_model_dir(tmp_path / "m")
    args = ["serve", "--model-dir", str(model), "--redis", "redis://:hunter2@127.0.0.1:6379/0"]
    monkeypatch.setattr(sys, "argv", ["tailor", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --redis must not hold a password")
    assert "TAILOR_REDIS_URL" in err and "hunter2" not in err


def test_warm_on_a_broken_folder_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_model_dir(tmp_path / "m")
    _truncated(model)
    monkeypatch.setattr(sys, "argv", ["tailor", "serve", "warm", "--model-dir", str(model)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {model}: nothing to precompute: params.npz is truncated or corrupt (BadZipFile)"
    ]
