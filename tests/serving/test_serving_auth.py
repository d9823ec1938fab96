"""API keys: scopes, hashed storage, constant-time lookup, rate limit, and keys never logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.serving.auth import hash_key, identify
from tailor.serving.settings import ApiKeySpec
from tailor.testing.serving import serve_settings

READ_KEY = "read-secret-6f1c2b"
ADMIN_KEY = "admin-secret-93d0aa"
KEYS = [
    {"name": "shop", "sha256": hash_key(READ_KEY), "scope": "read"},
    {"name": "ops", "sha256": hash_key(ADMIN_KEY), "scope": "admin"},
]


@pytest.fixture
def secured(model_dir: Path) -> TestClient:
    with TestClient(create_app(serve_settings(model_dir, api_keys=KEYS))) as c:
        yield c


def test_hash_is_sha256_hex() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_identify_matches_only_exact_key() -> None:
    specs = [ApiKeySpec.model_validate(k) for k in KEYS]
    assert identify(READ_KEY, specs).name == "shop"  # type: ignore[union-attr]
    assert identify(ADMIN_KEY, specs).name == "ops"  # type: ignore[union-attr]
    assert identify(READ_KEY + "x", specs) is None
    assert identify(hash_key(READ_KEY), specs) is None  # the stored hash is not a key


def test_missing_and_unknown_keys_are_401(secured: TestClient) -> None:
    r = secured.get("/v1/recommendations/u0")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["errors"][0]["field"] == "header.X-API-Key"
    assert secured.get("/v1/popular", headers={"X-API-Key": "nope"}).status_code == 401


def test_read_scope(secured: TestClient) -> None:
    ok = secured.get("/v1/recommendations/u0", headers={"X-API-Key": READ_KEY})
    assert ok.status_code == 200
    bearer = secured.get("/v1/popular", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert bearer.status_code == 200
    admin_only = secured.get("/v1/admin/versions", headers={"X-API-Key": READ_KEY})
    assert admin_only.status_code == 403


def test_admin_scope_includes_read(secured: TestClient) -> None:
    headers = {"X-API-Key": ADMIN_KEY}
    assert secured.get("/v1/admin/versions", headers=headers).status_code == 200
    assert secured.get("/v1/recommendations/u0", headers=headers).status_code == 200


def test_health_and_metrics_need_no_key(secured: TestClient) -> None:
    assert secured.get("/health/live").status_code == 200
    assert secured.get("/health/ready").status_code == 200
    assert secured.get("/metrics").status_code == 200


def test_rate_limit_gives_429_with_retry_after(model_dir: Path) -> None:
    settings = serve_settings(model_dir, api_keys=KEYS, rate_limit_per_s=3)
    with TestClient(create_app(settings)) as c:
        # a moving one-second window: a burst of 8 gets exactly 3 through
        statuses = [
            c.get("/v1/popular", headers={"X-API-Key": READ_KEY}).status_code for _ in range(8)
        ]
        assert statuses == [200] * 3 + [429] * 5
        limited = c.get("/v1/popular", headers={"X-API-Key": READ_KEY})
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["content-type"] == "application/problem+json"
        # another key has its own budget
        assert c.get("/v1/popular", headers={"X-API-Key": ADMIN_KEY}).status_code == 200


def test_keys_never_reach_the_logs(model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        settings = serve_settings(model_dir, api_keys=KEYS, rate_limit_per_s=2)
        with TestClient(create_app(settings)) as c:
            for key in (READ_KEY, ADMIN_KEY, "wrong-key-123"):
                for path in ("/v1/recommendations/u0", "/v1/admin/versions", "/v1/popular"):
                    c.get(path, headers={"X-API-Key": key})
                    c.get(path, headers={"Authorization": f"Bearer {key}"})
            c.get("/v1/recommendations/u0", headers={"X-API-Key": "bad\x7fkey"})
    assert events, "the app is expected to log something (startup at least)"
    logged = repr(events) + caplog.text
    for secret in (READ_KEY, ADMIN_KEY, "wrong-key-123", hash_key(READ_KEY)):
        assert secret not in logged
