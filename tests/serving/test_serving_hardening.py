"""HTTP hardening (issue 8): strict UTF-8 ids, no slash redirects, HEAD, no server paths in
answers, throttled key guessing, admin off without keys, secrets never on argv."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tailor.cli.serve import serve
from tailor.serving.app import create_app
from tailor.serving.auth import FailureThrottle, hash_key
from tailor.serving.problems import ProblemError
from tailor.testing.serving import serve_settings

READ_KEY = "read-secret-6f1c2b"
ADMIN_KEY = "admin-secret-93d0aa"
KEYS = [
    {"name": "shop", "sha256": hash_key(READ_KEY), "scope": "read"},
    {"name": "ops", "sha256": hash_key(ADMIN_KEY), "scope": "admin"},
]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/recommendations/u%FF", "path"),
        ("/v1/recommendations/u%C3", "path"),  # a truncated two-byte sequence
        ("/v1/items/i%FE/similar", "path"),
        ("/v1/recommendations/u0?exclude=i%FF", "query.exclude"),
        ("/v1/recommendations/u0?category=%E2%82", "query.category"),
        ("/v1/popular?%FF=1", "query"),
    ],
)
def test_invalid_utf8_is_422(client: TestClient, url: str, field: str) -> None:
    """Today %FF decodes to U+FFFD, so ``u%FF`` and ``u%FE`` were the same user."""
    r = client.get(url)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [
        {"field": field, "message": "not valid UTF-8 after percent-decoding"}
    ]


def test_valid_utf8_ids_still_work(client: TestClient) -> None:
    r = client.get("/v1/recommendations/%C3%A9l%C3%A8ve", params={"n": 2})
    assert (r.status_code, r.json()["user_id"], r.json()["source"]) == (200, "élève", "cold_start")
    assert client.get("/v1/popular", params={"category": "caté"}).status_code == 200


def test_empty_id_is_404_not_a_redirect_to_the_clients_host(client: TestClient) -> None:
    for path in ("/v1/recommendations/", "/v1/popular/", "/v1/items//similar"):
        r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 404, path
        assert "location" not in r.headers
        assert "evil.example" not in r.text
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/v1/recommendations/u0?n=3", "/v1/popular", "/health/ready", "/metrics"]
)
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if path != "/metrics":  # the metrics text changes between the two calls
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_on_a_post_only_route_is_405(client: TestClient) -> None:
    assert client.head("/v1/recommendations").status_code == 405


def test_failed_keys_are_throttled_per_client(model_dir: Path) -> None:
    settings = serve_settings(model_dir, api_keys=KEYS, auth_fail_window_s=0.5)
    app = create_app(settings)
    with TestClient(app) as guesser, TestClient(app, client=("10.0.0.2", 4000)) as other:
        for k in range(10):
            r = guesser.get("/v1/popular", headers={"X-API-Key": f"guess-{k}"})
            assert r.status_code == 401
        blocked = guesser.get("/v1/popular", headers={"X-API-Key": "guess-10"})
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "1"
        assert blocked.json()["detail"] == "too many failed API keys; retry later"
        # the right key does not help the guessing client; other clients are not affected
        assert guesser.get("/v1/popular", headers={"X-API-Key": READ_KEY}).status_code == 429
        assert other.get("/v1/popular", headers={"X-API-Key": READ_KEY}).status_code == 200
        # a missing key is not a guess
        for _ in range(12):
            assert other.get("/v1/popular").status_code == 401
        assert "tailor_serving_rate_limited_total 2.0" in other.get("/metrics").text
        time.sleep(0.6)  # the window passes
        assert guesser.get("/v1/popular", headers={"X-API-Key": READ_KEY}).status_code == 200


def test_failure_throttle_window_and_memory_bound() -> None:
    now = [0.0]
    throttle = FailureThrottle(3, 60.0, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        throttle.check("a")
        throttle.failed("a")
    with pytest.raises(ProblemError) as info:
        throttle.check("a")
    assert info.value.status == 429 and info.value.headers == {"Retry-After": "40"}
    now[0] = 60.0  # the first failure left the window
    throttle.check("a")
    throttle.MAX_CLIENTS = 5
    for k in range(20):
        throttle.failed(f"c{k}")
    assert len(throttle._failures) <= 5


def test_admin_routes_are_off_without_keys(model_dir: Path) -> None:
    with TestClient(create_app(serve_settings(model_dir))) as c:
        for method, path in [
            ("GET", "/v1/admin/versions"),
            ("PUT", "/v1/admin/active-version"),
            ("POST", "/v1/admin/rollback"),
        ]:
            r = c.request(method, path, json={"version": "v1"})
            assert r.status_code == 403, path
            assert r.json()["detail"] == (
                "the admin routes are off: configure an API key with the admin scope, "
                "or set TAILOR_ADMIN_OPEN=true"
            )
        assert c.get("/v1/recommendations/u0").status_code == 200  # reads stay open


def test_open_admin_without_keys_is_a_startup_warning(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAILOR_ADMIN_OPEN", "true")
    from tailor.serving.settings import load_settings

    settings = load_settings(model_dir=model_dir, redis_url="memory://")
    with structlog.testing.capture_logs() as events, TestClient(create_app(settings)) as c:
        assert c.get("/v1/admin/versions").status_code == 200
    warnings = [e for e in events if e["event"] == "admin_open_without_keys"]
    assert warnings and warnings[0]["log_level"] == "warning"
    with structlog.testing.capture_logs() as events:
        keyed = serve_settings(model_dir, api_keys=KEYS, admin_open=True)
        with TestClient(create_app(keyed)) as c:
            assert c.get("/v1/admin/versions").status_code == 401  # keys rule when set
    assert not [e for e in events if e["event"] == "admin_open_without_keys"]


def test_hash_key_reads_standard_input_never_argv() -> None:
    runner = CliRunner()
    result = runner.invoke(serve, ["hash-key"], input="s3cret\n")
    assert (result.exit_code, result.output) == (0, hash_key("s3cret") + "\n")
    on_argv = runner.invoke(serve, ["hash-key", "s3cret"])
    assert on_argv.exit_code == 2  # click's usage error: no argument is accepted
    empty = runner.invoke(serve, ["hash-key"], input="")
    assert empty.exit_code == 1 and "no API key on standard input" in str(empty.exception)


def test_no_option_takes_a_secret_on_argv() -> None:
    """Every option of every ``tailor serve`` command: none is named like a secret."""
    import click

    def options(cmd: click.Command) -> list[str]:
        names = [o for p in cmd.params for o in getattr(p, "opts", [])]
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                names += options(sub)
        return names

    risky = [o for o in options(serve) if any(w in o for w in ("key", "password", "secret"))]
    assert risky == []
