"""``POST /v1/events``: durable appends, per-event rejections, the one-process setup where
the server's own consumer makes the next answer reflect the event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.streaming.log import Position
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.serving import items_of, serve_settings
from tailor.testing.streaming import event, write_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def client(tmp_path: Path, db: Path) -> Iterator[TestClient]:
    store = write_store(tmp_path / "store")
    settings = serve_settings(store.root, event_log_url=f"sqlite:///{db}")
    with TestClient(create_app(settings)) as c:
        yield c


def logged(db: Path) -> list[str]:
    log = SqliteEventLog(db)
    log.seek(Position())
    return [r.event.event_id for r in log.poll(10_000, 0.0)]


def test_valid_events_are_appended_and_bad_ones_named(client: TestClient, db: Path) -> None:
    batch = [event(0, "u0", "i5"), {"event_id": "e1", "user_id": "u0"}, event(2, "s", "i1")]
    answer = client.post("/v1/events", json={"events": batch})
    assert answer.status_code == 202
    assert answer.json() == {
        "accepted": 2,
        "rejected": [{"index": 1, "field": "item_id", "message": "Field required"}],
    }
    assert logged(db) == ["e0", "e2"]


def test_a_batch_without_a_valid_event_is_422_naming_each(client: TestClient, db: Path) -> None:
    answer = client.post(
        "/v1/events", json={"events": [event(0, "u0", "i5", "wishlist"), {"item_id": "i1"}]}
    )
    assert answer.status_code == 422
    fields = [e["field"] for e in answer.json()["errors"]]
    assert fields == ["body.events.0.type", "body.events.1.event_id"]
    assert not db.exists() or logged(db) == []


def test_batches_are_bounded_but_may_be_larger_than_other_bodies(client: TestClient) -> None:
    big = [event(k, f"u{k % 12}", f"i{k % 8}", "view") for k in range(1000)]
    assert len(str(big)) > 64 * 1024  # over the other routes' body limit
    assert client.post("/v1/events", json={"events": big}).json()["accepted"] == 1000
    too_many = client.post("/v1/events", json={"events": [*big, event(1000, "u0", "i1")]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "body.events"
    assert client.post("/v1/events", json={"events": []}).status_code == 422


def test_without_an_event_log_the_route_is_503(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    with TestClient(create_app(serve_settings(store.root))) as c:
        answer = c.post("/v1/events", json={"events": [event(0, "u0", "i5")]})
    assert answer.status_code == 503
    assert answer.json()["detail"] == "no event log is configured (set event_log_url)"


def test_a_log_that_cannot_take_the_batch_is_503_and_nothing_is_kept(
    client: TestClient, db: Path
) -> None:
    client.app.state.event_sink.close()  # type: ignore[attr-defined]
    answer = client.post("/v1/events", json={"events": [event(0, "u0", "i5")]})
    assert answer.status_code == 503
    assert answer.json()["detail"] == "the event log is unavailable; no event was accepted"
    assert logged(db) == []


def test_in_one_process_the_next_answer_reflects_the_event(tmp_path: Path, db: Path) -> None:
    store = write_store(tmp_path / "store")
    settings = serve_settings(store.root, event_log_url=f"sqlite:///{db}", stream=True)
    with TestClient(create_app(settings)) as c:
        before = items_of(c.get("/v1/recommendations/u0", params={"n": 3}))
        assert before[0] == "i1"  # the one item of u0's group it has not seen
        c.post("/v1/events", json={"events": [event(0, "u0", "i1")]})
        deadline, after = time.monotonic() + 5.0, before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.01)
            after = items_of(c.get("/v1/recommendations/u0", params={"n": 3}))
        assert "i1" not in after


def test_exposures_are_not_a_sessions_history(client: TestClient) -> None:
    shown = {**event(0, "x", "i2", "exposure"), "user_id": None, "session_id": "s9"}
    clicked = {**event(1, "x", "i1", "click"), "user_id": None, "session_id": "s9"}
    assert client.post("/v1/events", json={"events": [shown, clicked]}).status_code == 202
    answer = client.get("/v1/recommendations/s9", params={"n": 7})
    assert answer.json()["source"] == "session"
    items = items_of(answer)
    assert "i1" not in items and "i2" in items  # the click is history, the exposure is not
