"""Session-aware answers (issue 12): the recent-items store (memory and the real Redis on
127.0.0.1:6379 under a test prefix), ``GET /v1/recommendations/{id}`` of a session id with
recent items, and a ``context`` (recent and cart items) in the POST bodies."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tailor.data.dataset import Dataset
from tailor.models import EASE, Popularity
from tailor.pipeline import Pipeline, Query
from tailor.serving.app import create_app
from tailor.serving.keys import Keys
from tailor.serving.sessions import (
    MemoryRecentItems,
    RecentItems,
    RedisRecentItems,
    merge_recent,
    open_recent_items,
)
from tailor.testing import planted_frame
from tailor.testing.serving import CATALOG, items_of, serve_settings, write_model_dir

SHARED_URL = "redis://127.0.0.1:6379/0"
# planted_frame(): u0-u5 like i0-i3, u6-u11 like i4-i7; u0 saw i0, i2, i3; popular list
# i0 i4 i2 i3 i1 i6 i7 i5. EASE on it: a session that viewed i5 gets i4, i6, i7 (i5's group)
SESSION_I5 = ["i4", "i6", "i7"]
U0_PLUS_I5 = ["i1", "i4", "i6", "i7"]  # u0's missing item first, then i5's group


def _shared_available() -> bool:
    try:
        return bool(redis.Redis.from_url(SHARED_URL, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def prefix(require: Callable[[bool, str], None]) -> Iterator[str]:
    require(_shared_available(), "no Redis on 127.0.0.1:6379")
    name = f"tailor-test-sessions-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(SHARED_URL)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def ease_dir(tmp_path: Path) -> Path:
    """A ``tailor fit``-shaped folder with EASE on the planted data."""
    path = tmp_path / "model"
    data = Dataset.from_frame(planted_frame(), items=CATALOG)
    EASE().fit(data).save(path)
    Popularity().fit(data).save(path / "popularity")
    CATALOG.to_parquet(path / "items.parquet")
    return path


def _client(path: Path, **options: Any) -> TestClient:
    return TestClient(create_app(serve_settings(path, scoring_budget_ms=5000, **options)))


def _add(client: TestClient, key: str, items: list[str]) -> None:
    """What the events route does for accepted events."""
    sessions: RecentItems = client.app.state.services.sessions  # type: ignore[attr-defined]
    client.portal.call(sessions.add, key, items)  # type: ignore[union-attr]


def _run(coro: Any) -> Any:
    return asyncio.new_event_loop().run_until_complete(coro)


# ---- the stores ---------------------------------------------------------------------------


def test_merge_keeps_the_newest_distinct_items_oldest_first() -> None:
    assert merge_recent(["a", "b", "c"], ["b", "d"], 10) == ["a", "c", "b", "d"]
    assert merge_recent(["a", "b", "c"], ["d", "e"], 3) == ["c", "d", "e"]
    assert merge_recent([], ["x", "y", "x"], 5) == ["y", "x"]
    assert merge_recent(["a"], [], 5) == ["a"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_orders_trims_expires_and_bounds_ids() -> None:
    clock = _Clock()
    store = MemoryRecentItems(max_items=3, ttl_s=60, max_keys=2, clock=clock)

    async def scenario() -> list[Any]:
        seen: list[Any] = []
        await store.add("s1", ["i1", "i2"])
        await store.add("s1", ["i3", "i1"])  # i1 again: now the newest
        seen.append(await store.get("s1"))
        await store.add("s1", ["i4"])
        seen.append(await store.get("s1"))  # three kept
        clock.now += 59
        await store.add("s1", ["i5"])  # refreshes the TTL
        clock.now += 59
        seen.append(await store.get("s1"))
        clock.now += 2
        seen.append(await store.get("s1"))  # expired
        await store.add("s2", ["a"])
        await store.add("s3", ["b"])
        await store.add("s4", ["c"])  # s2 is the least recently added: dropped
        seen.append([await store.get(k) for k in ("s2", "s3", "s4")])
        seen.append(await store.get("never"))
        return seen

    assert _run(scenario()) == [
        ["i2", "i3", "i1"],
        ["i3", "i1", "i4"],
        ["i1", "i4", "i5"],
        [],
        [[], ["b"], ["c"]],
        [],
    ]


@pytest.mark.integration
def test_redis_store_keeps_the_same_rules_under_its_key(prefix: str) -> None:
    store = RedisRecentItems(SHARED_URL, Keys(prefix), max_items=3, ttl_s=120, timeout_s=0.5)
    raw = redis.Redis.from_url(SHARED_URL, decode_responses=True)

    async def scenario() -> list[Any]:
        seen: list[Any] = []
        await store.add("s1", ["i1", "i2"])
        await store.add("s1", ["i3", "i1"])
        seen.append(await store.get("s1"))
        await store.add("s1", ["i4", "i5", "i4"])
        seen.append(await store.get("s1"))
        seen.append(await store.get("nobody"))
        await store.close()
        return seen

    assert _run(scenario()) == [["i2", "i3", "i1"], ["i1", "i5", "i4"], []]
    assert raw.lrange(f"{prefix}:recent:s1", 0, -1) == ["i1", "i5", "i4"]
    assert 110 <= raw.ttl(f"{prefix}:recent:s1") <= 120
    assert store.failures == 0


@pytest.mark.integration
def test_redis_store_expires_an_idle_session(prefix: str) -> None:
    store = RedisRecentItems(SHARED_URL, Keys(prefix), ttl_s=1, timeout_s=0.5)

    async def scenario() -> tuple[list[str], list[str]]:
        await store.add("s1", ["i1"])
        before = await store.get("s1")
        await asyncio.sleep(1.3)
        after = await store.get("s1")
        await store.close()
        return before, after

    assert _run(scenario()) == (["i1"], [])


def test_a_down_redis_is_never_an_error() -> None:
    store = open_recent_items(
        "redis://127.0.0.1:1/0", Keys("x"), timeout_s=0.05, retries=0, threshold=1
    )
    assert isinstance(store, RedisRecentItems)

    async def scenario() -> tuple[list[str], list[str], float]:
        await store.add("s1", ["i1"])
        first = await store.get("s1")
        start = time.perf_counter()
        second = await store.get("s1")  # the breaker is open: no timeout paid
        took = time.perf_counter() - start
        await store.close()
        return first, second, took

    first, second, took = _run(scenario())
    assert first == second == []
    assert store.failures == 3 and took < 0.01


def test_the_cache_url_chooses_the_store() -> None:
    memory = open_recent_items("memory://", Keys(), max_items=7, ttl_s=9)
    assert isinstance(memory, MemoryRecentItems) and (memory.max_items, memory.ttl_s) == (7, 9)


# ---- GET /v1/recommendations/{id} -----------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_session_with_recent_items_gets_session_aware_answers(
    ease_dir: Path, store: str, request: pytest.FixtureRequest
) -> None:
    options: dict[str, Any] = {}
    if store == "redis":
        options = {"redis_url": SHARED_URL, "key_prefix": request.getfixturevalue("prefix")}
    with _client(ease_dir, **options) as c:
        before = c.get("/v1/recommendations/s1", params={"n": 3})
        _add(c, "s1", ["i5"])
        after = c.get("/v1/recommendations/s1", params={"n": 3})
        in_a = c.get("/v1/recommendations/s1", params={"n": 2, "category": "a"})
        excluded = c.get("/v1/recommendations/s1", params={"n": 3, "exclude": ["i4"]})
        other = c.get("/v1/recommendations/s2", params={"n": 3})
        user_before = c.get("/v1/recommendations/u0", params={"n": 3})
        _add(c, "u0", ["i5"])
        user_after = c.get("/v1/recommendations/u0", params={"n": 3})
        _add(c, "s1", ["i1"])  # now i1 is the newest: both groups
        mixed = c.get("/v1/recommendations/s1", params={"n": 4})
    assert (before.json()["source"], items_of(before)) == ("cold_start", ["i0", "i4", "i2"])
    assert (after.status_code, after.json()["source"]) == (200, "session")
    assert items_of(after) == SESSION_I5
    assert items_of(in_a) == ["i0", "i2"]  # EASE scores group a 0 for i5: ties by number
    assert items_of(excluded) == ["i6", "i7", "i0"]
    assert other.json()["source"] == "cold_start"
    # a user the model knows is answered as before, whatever their recent items
    assert items_of(user_after) == items_of(user_before) == ["i1", "i4", "i6"]
    assert user_after.json()["source"] in ("model", "cache")
    assert items_of(mixed) == ["i0", "i4", "i2", "i3"]


def test_known_users_never_read_the_store(ease_dir: Path) -> None:
    """The hot path of a known user gains no round trip."""
    with _client(ease_dir) as c:
        services = c.app.state.services  # type: ignore[attr-defined]
        calls: list[str] = []
        real = services.sessions.get

        async def counted(key: str) -> list[str]:
            calls.append(key)
            return list(await real(key))

        services.sessions.get = counted
        for _ in range(2):  # a live answer, then a cache hit
            assert c.get("/v1/recommendations/u0").status_code == 200
        c.get("/v1/recommendations/someone-new")
    assert calls == ["someone-new"]


def test_a_model_without_score_history_answers_sessions_with_popular_items(
    tmp_path: Path,
) -> None:
    with _client(write_model_dir(tmp_path / "model")) as c:  # a Popularity model
        _add(c, "s1", ["i0", "i4"])
        r = c.get("/v1/recommendations/s1", params={"n": 3})
    assert r.json()["source"] == "cold_start"
    assert items_of(r) == ["i2", "i3", "i1"]  # the popular list without the session's items


def test_a_failing_session_score_falls_back_without_the_sessions_items(ease_dir: Path) -> None:
    with _client(ease_dir) as c:
        model = c.app.state.services.holder.state.model  # type: ignore[attr-defined]

        def broken(*args: Any) -> Any:
            raise RuntimeError("boom")

        model.score_history = broken
        _add(c, "s1", ["i0"])
        r = c.get("/v1/recommendations/s1", params={"n": 3})
    assert (r.status_code, r.json()["source"], items_of(r)) == (200, "fallback", ["i4", "i2", "i3"])


def test_redis_down_means_cold_start_for_sessions(ease_dir: Path) -> None:
    with _client(ease_dir, redis_url="redis://127.0.0.1:1/0", redis_timeout_ms=20) as c:
        r = c.get("/v1/recommendations/s1", params={"n": 3})
    assert (r.status_code, r.json()["source"], items_of(r)) == (
        200,
        "cold_start",
        ["i0", "i4", "i2"],
    )


# ---- context in the POST bodies --------------------------------------------------------------


def _post(client: TestClient, user_id: str, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/recommendations", json={"user_ids": [user_id], **body})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["results"][0]
    assert result["user_id"] == user_id and len(result["recommendation_id"]) == 32
    return result


def _items(result: dict[str, Any]) -> list[str]:
    return [x["item_id"] for x in result["items"]]


def test_a_context_scores_the_users_history_plus_its_items(ease_dir: Path) -> None:
    with _client(ease_dir) as c:
        batch = c.post(
            "/v1/recommendations",
            json={"user_ids": ["u0", "s9"], "n": 4, "context": {"cart_items": ["i5"]}},
        )
        recent = _post(c, "u0", n=4, context={"recent_items": ["i5"]})
        plain = _post(c, "u0", n=4)
        empty = _post(c, "u0", n=4, context={})
        _add(c, "s9", ["i1"])  # stored items of an unknown id come before the context
        stored = _post(c, "s9", n=4, context={"cart_items": ["i5"]})
        history = {"recent_items": ["i6", "i5"]}
        kept = _post(c, "s8", n=4, exclude_seen=False, context=history)
        left_out = _post(c, "s8", n=4, context=history)
        filtered = _post(c, "s8", n=2, category="a", exclude=["i0"], context=history)
    u0, s9 = batch.json()["results"]
    assert (u0["user_id"], u0["source"], _items(u0)) == ("u0", "session", U0_PLUS_I5)
    assert (s9["source"], _items(s9)) == ("session", ["i4", "i6", "i7", "i0"])
    assert (recent["source"], _items(recent)) == ("session", U0_PLUS_I5)
    assert plain["source"] == "model"
    assert empty["source"] in ("model", "cache")  # an empty context: the usual path
    assert _items(plain) == _items(empty) == ["i1", "i4", "i6", "i7"]
    assert _items(stored) == ["i0", "i4", "i2", "i3"]  # history i1 + i5, as a GET of both
    # EASE's weights between i5 and i6 score each for the other: listed unless excluded
    assert _items(kept) == ["i4", "i7", "i6", "i5"]
    assert _items(left_out) == ["i4", "i7", "i0", "i2"]
    assert _items(filtered) == ["i2", "i3"]


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"recent_items": [f"i{k}" for k in range(51)]}, "body.context.recent_items"),
        ({"cart_items": ["ok", "bad\x01id"]}, "body.context.cart_items.1"),
        ({"cart_items": [""]}, "body.context.cart_items.0"),
        ({"recent_items": "i1"}, "body.context.recent_items"),
        ({"basket": ["i1"]}, "body.context.basket"),
    ],
)
def test_a_bad_context_is_422_naming_the_field(
    ease_dir: Path, context: dict[str, Any], field: str
) -> None:
    with _client(ease_dir) as c:
        r = c.post("/v1/recommendations", json={"user_ids": ["u0"], "context": context})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert "bad\x01id" not in r.text


# ---- end to end: POST /v1/events feeds the store -------------------------------------------


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_events_of_a_session_change_its_next_answer(
    ease_dir: Path, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    from tailor.testing.streaming import event

    options: dict[str, Any] = {"event_log_url": f"sqlite:///{tmp_path / 'events.db'}"}
    if store == "redis":
        options |= {"redis_url": SHARED_URL, "key_prefix": request.getfixturevalue("prefix")}
    views = [
        {**event(0, "x", "i1", "view"), "user_id": None, "session_id": "visit-1"},
        {**event(1, "x", "i5", "view"), "user_id": None, "session_id": "visit-1"},
        {**event(2, "x", "i6", "view"), "user_id": None, "session_id": "visit-1"},
    ]
    with _client(ease_dir, **options) as c:
        before = c.get("/v1/recommendations/visit-1", params={"n": 3})
        posted = c.post("/v1/events", json={"events": views})
        after = c.get("/v1/recommendations/visit-1", params={"n": 3})
        stored = c.portal.call(c.app.state.services.sessions.get, "visit-1")  # type: ignore[attr-defined,union-attr]
    assert posted.status_code == 202 and posted.json()["accepted"] == 3
    assert before.json()["source"] == "cold_start"
    assert stored == ["i1", "i5", "i6"]
    assert after.json()["source"] == "session"
    folder = Pipeline.from_model_dir(ease_dir)
    expected = folder.recommend_history("visit-1", ["i1", "i5", "i6"], Query(n=3))
    assert items_of(after) == [i for i, _ in expected.items] == ["i4", "i0", "i7"]


def test_a_store_that_raises_is_a_cold_start(ease_dir: Path) -> None:
    with _client(ease_dir) as c:

        async def broken(key: str) -> list[str]:
            raise RuntimeError("store broke")

        c.app.state.services.sessions.get = broken  # type: ignore[attr-defined]
        r = c.get("/v1/recommendations/s1", params={"n": 2})
        ctx = c.post(
            "/v1/recommendations",
            json={"user_ids": ["s1"], "n": 2, "context": {"recent_items": ["i5"]}},
        )
    assert (r.status_code, r.json()["source"], items_of(r)) == (200, "cold_start", ["i0", "i4"])
    result = ctx.json()["results"][0]
    assert (result["source"], [x["item_id"] for x in result["items"]]) == ("session", ["i4", "i6"])
