"""The fast path of GET /v1/recommendations/{id} (serving/fastpath.py): the same answers,
headers, errors and metrics as the full stack, and exactly which requests it takes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tailor.serving.app import create_app
from tailor.serving.auth import hash_key
from tailor.serving.fastpath import FastPath, ServingApp
from tailor.testing.serving import U0_MODEL, serve_settings

HEX = re.compile(r'"recommendation_id":"[0-9a-f]{32}')
COUNTED = re.compile(
    r"^tailor_serving_(answers_total|cache_lookups_total|fallback_total|rate_limited_total"
    r"|request_seconds_count)\{?.*$",
    re.M,
)

SEQUENCE = [
    ("GET", "/v1/recommendations/u0?n=3", {}),  # a cache hit (warm_on_start)
    ("GET", "/v1/recommendations/u0", {}),  # default n
    ("GET", "/v1/recommendations/u0?n=2&exclude=i4&category=b", {}),
    ("GET", "/v1/recommendations/u0?exclude_seen=false", {}),  # live scoring, a miss
    ("GET", "/v1/recommendations/nobody?n=2", {}),  # cold start
    ("GET", "/v1/recommendations/u0?explain=true&n=2", {}),
    ("GET", "/v1/recommendations/u0?n=0&bogus=1", {}),  # 422 naming query.n
    ("GET", "/v1/recommendations/u0?n=abc&exclude_seen=maybe", {}),
    ("GET", "/v1/recommendations/" + "x" * 257, {}),  # 422: id too long
    ("GET", "/v1/recommendations/u%30?n=2", {}),  # escapes: the full stack (u0)
    ("GET", "/v1/recommendations/u0%FF", {}),  # 422 naming path
    ("HEAD", "/v1/recommendations/u0?n=2", {}),
    ("GET", "/v1/recommendations/", {}),  # 404
    ("GET", "/v1/recommendations/u0/x", {}),  # 404
    ("POST", "/v1/recommendations/u0", {}),  # 405
    ("GET", "/v1/recommendations/u0?n=2", {"content-length": "70000"}),  # 413
]


def _client(model_dir: Path, fast: bool, **settings: Any) -> TestClient:
    app = create_app(serve_settings(model_dir, warm_on_start=True, **settings))
    assert isinstance(app, ServingApp)
    app.fast_path_enabled = fast
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def pair(model_dir: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with _client(model_dir, True) as fast, _client(model_dir, False) as slow:
        yield fast, slow


def _seen(response: Any) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, the per-request recommendation id blanked out."""
    body = HEX.sub('"recommendation_id":"ID', response.text)
    return response.status_code, dict(response.headers), body


def _counted_lines(client: TestClient) -> list[str]:
    """The metrics' counts (latency sums and buckets depend on timing)."""
    text = client.get("/metrics").text
    return sorted(m.group(0) for m in COUNTED.finditer(text))


def test_the_recommendation_route_has_a_fast_path(model_dir: Path) -> None:
    app = create_app(serve_settings(model_dir))
    assert isinstance(app, ServingApp)
    fast = app.fast_path()
    assert fast is not None and fast.route.path == "/v1/recommendations/{user_id}"


def test_same_answers_headers_and_errors_as_the_full_stack(
    pair: tuple[TestClient, TestClient],
) -> None:
    fast, slow = pair
    for method, path, headers in SEQUENCE:
        got = _seen(fast.request(method, path, headers=headers))
        want = _seen(slow.request(method, path, headers=headers))
        assert got == want, (method, path)
    for client in (fast, slow):
        first = client.get("/v1/recommendations/u0?n=3").json()
        assert [i["item_id"] for i in first["items"]] == U0_MODEL[:3]
        assert first["source"] == "cache"
    assert _counted_lines(fast) == _counted_lines(slow)
    # the fast path's requests were counted under the route's template, not "unmatched"
    assert 'route="/v1/recommendations/{user_id}",status="200"' in fast.get("/metrics").text


def test_same_auth_and_rate_limit_answers(model_dir: Path) -> None:
    keys = [{"name": "shop", "sha256": hash_key("good-key"), "scope": "read"}]
    settings = {"api_keys": keys, "rate_limit_per_s": 2, "auth_fail_limit": 2}
    sequence = [
        {},  # 401, missing key (not counted as a failure)
        {"X-API-Key": "good-key"},  # 200
        {"Authorization": "Bearer good-key"},  # 200
        {"X-API-Key": "good-key"},  # 429: third within a second
        {"X-API-Key": "wrong"},  # 401, one failure
        {"X-API-Key": "wrong"},  # 401, second failure
        {"X-API-Key": "good-key"},  # 429: this client guessed too often
    ]
    answers = []
    for fast_on in (True, False):
        with _client(model_dir, fast_on, **settings) as client:
            seen = [_seen(client.get("/v1/recommendations/u0?n=2", headers=h)) for h in sequence]
            answers.append((seen, _counted_lines(client)))
    assert answers[0] == answers[1]
    statuses = [status for status, _, _ in answers[0][0]]
    assert statuses == [401, 200, 200, 429, 401, 401, 429]
    assert answers[0][0][0][1]["www-authenticate"] == 'Bearer realm="tailor"'
    assert answers[0][0][3][1]["retry-after"] == "1"


def _record_fast_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the fast path takes from now on (appended as they come)."""
    taken: list[str] = []
    original = FastPath.__call__

    async def counting(self: FastPath, scope: Scope, receive: Receive, send: Send) -> None:
        taken.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(FastPath, "__call__", counting)
    return taken


def test_which_requests_take_the_fast_path(
    pair: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = pair
    taken = _record_fast_path(monkeypatch)
    for method, path, headers in SEQUENCE:
        taken.clear()
        fast.request(method, path, headers=headers)
        plain = "%" not in path and path.count("/") == 3 and path != "/v1/recommendations/"
        expected = method == "GET" and plain and not headers
        assert bool(taken) == expected, (method, path)
    taken.clear()
    fast.get("/v1/popular?n=2")
    fast.get("/health/live")
    assert taken == []


def test_other_middleware_stays_in_front_of_the_route(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _record_fast_path(monkeypatch)

    class Stamp:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def stamped(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-stamp", b"1")]
                await send(message)

            await self.app(scope, receive, stamped)

    app = create_app(serve_settings(model_dir))
    app.add_middleware(Stamp)
    assert isinstance(app, ServingApp)
    with TestClient(app) as client:
        response = client.get("/v1/recommendations/u0?n=2")
    assert taken == ["/v1/recommendations/u0"]
    assert response.status_code == 200 and response.headers["x-stamp"] == "1"


def test_no_fast_path_without_the_route() -> None:
    app = ServingApp()

    @app.get("/v1/recommendations/{user_id}/other")
    async def other(user_id: str) -> dict[str, str]:
        return {"user_id": user_id}

    assert app.fast_path() is None
    with TestClient(app) as client:
        assert client.get("/v1/recommendations/u0/other").json() == {"user_id": "u0"}


def test_no_fast_path_when_another_route_could_answer() -> None:
    app = ServingApp()

    @app.get("/{path:path}")
    async def anything(path: str) -> dict[str, str]:
        return {"path": path}

    @app.get("/v1/recommendations/{user_id}")
    async def shadowed(user_id: str) -> dict[str, str]:
        return {"user_id": user_id}

    assert app.fast_path() is None
    with TestClient(app) as client:  # the router's order decides, as before
        assert client.get("/v1/recommendations/u0").json() == {"path": "v1/recommendations/u0"}
