"""Settings precedence (overrides > environment > file > defaults) and the serve CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli.serve import serve
from tailor.errors import ConfigError
from tailor.serving.auth import hash_key
from tailor.serving.settings import ServeSettings, load_settings
from tailor.testing.serving import write_model_dir


def test_defaults_are_documented_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("TAILOR_"):
            monkeypatch.delenv(name)
    s = load_settings()
    assert (s.redis_url, s.redis_timeout_ms, s.redis_retries) == ("memory://", 50.0, 1)
    assert (s.scoring_budget_ms, s.default_n, s.max_body_bytes) == (30.0, 10, 65536)
    assert not s.auth_enabled


def test_file_env_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "serve.toml"
    file.write_text('[serve]\nport = 9001\ndefault_n = 7\nredis_url = "redis://file:1/0"\n')
    monkeypatch.setenv("TAILOR_DEFAULT_N", "12")
    s = load_settings(file, redis_url="memory://", port=None)
    assert (s.port, s.default_n, s.redis_url) == (9001, 12, "memory://")


def test_api_keys_from_environment_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TAILOR_API_KEYS", f'[{{"name": "shop", "sha256": "{hash_key("k")}", "scope": "admin"}}]'
    )
    s = ServeSettings()
    assert s.auth_enabled and s.api_keys[0].scope == "admin"


def test_invalid_values_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="default_n"):
        load_settings(default_n=0)
    bad = tmp_path / "s.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="malformed"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(api_keys=[{"name": "x", "sha256": "plain-text-key"}])


def test_cli_registry_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    root = str(tmp_path / "reg")
    m1 = write_model_dir(tmp_path / "m1")
    r = runner.invoke(
        serve, ["publish", "--registry", root, str(m1), "--version", "v1", "--activate"]
    )
    assert r.exit_code == 0 and r.output.strip() == "v1"
    r = runner.invoke(serve, ["publish", "--registry", root, str(m1), "--version", "v2"])
    assert r.exit_code == 0
    assert runner.invoke(serve, ["activate", "--registry", root, "v2"]).exit_code == 0
    assert runner.invoke(serve, ["versions", "--registry", root]).output == "  v1\n* v2\n"
    assert runner.invoke(serve, ["rollback", "--registry", root]).output.strip() == "v1"
    assert runner.invoke(serve, ["hash-key"], input="abc\n").output.strip() == hash_key("abc")


def test_cli_serve_without_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAILOR_MODEL_DIR", raising=False)
    result = CliRunner().invoke(serve, [])
    assert isinstance(result.exception, ConfigError)
    assert "--model-dir" in str(result.exception)
