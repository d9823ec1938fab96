"""The server in an experiment: the unit's variant decides the list, the answer names it,
and each served list is logged as exposure events that the analysis reads back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tailor.experiments.analysis import read_events, visitor_table
from tailor.experiments.assignment import Splitter
from tailor.experiments.config import Experiment
from tailor.serving.app import create_app
from tailor.serving.registry import ModelRegistry
from tailor.streaming.log import Position
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.serving import serve_settings
from tailor.testing.streaming import event, write_store

USERS = [f"u{k}" for k in range(12)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    root = tmp_path_factory.mktemp("store") / "store"
    write_store(root, "popularity")  # the older version
    return write_store(root, "ease")  # the active one


def experiment_of(store: ModelRegistry, **fields: Any) -> dict[str, Any]:
    [old] = [v for v in store.versions() if v != store.active()]
    return {
        "name": "exp",
        "variants": [
            {"name": "control"},
            {"name": "pop", "strategy": "popular", "n": 3, "placement": "home"},
            {"name": "old", "version": old},
        ],
        **fields,
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def client(store: ModelRegistry, db: Path) -> Iterator[TestClient]:
    settings = serve_settings(
        store.root, event_log_url=f"sqlite:///{db}", experiments=[experiment_of(store)]
    )
    with TestClient(create_app(settings)) as c:
        yield c


def logged(db: Path) -> list[Any]:
    log = SqliteEventLog(db)
    log.seek(Position())
    return [r.event for r in log.poll(10_000, 0.0)]


def wait_for(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_variant_decides_the_list_and_the_answer_names_it(
    client: TestClient, store: ModelRegistry
) -> None:
    splitter = Splitter(Experiment.model_validate(experiment_of(store)))
    active = store.active()
    [old] = [v for v in store.versions() if v != active]
    seen = set()
    for user in USERS:
        expected = splitter.variant(user)
        assert expected is not None
        seen.add(expected.name)
        body = client.get(f"/v1/recommendations/{user}", params={"n": 5}).json()
        assert (body["experiment"], body["variant"]) == ("exp", expected.name)
        head, _, label = body["recommendation_id"].partition(":")
        assert len(head) == 32 and label == f"exp:{expected.name}"
        if expected.name == "pop":
            assert body["source"] == "popular" and len(body["items"]) == 3  # n = 3
            assert body["model_version"] == active
        elif expected.name == "old":
            assert body["model_version"] == old and len(body["items"]) == 5
        else:
            assert body["model_version"] == active and body["source"] in ("model", "cache")
    assert seen == {"control", "pop", "old"}  # 12 planted users reach every variant
    # the batch route assigns the same way
    batch = client.post("/v1/recommendations", json={"user_ids": USERS[:4], "n": 2}).json()
    assert (
        [r["variant"] for r in batch["results"]]
        == [
            splitter.variant(u).name  # type: ignore[union-attr]
            for u in USERS[:4]
        ]
    )


def test_served_lists_are_logged_as_exposures_and_analysed(
    client: TestClient, store: ModelRegistry, db: Path
) -> None:
    answers = {u: client.get(f"/v1/recommendations/{u}", params={"n": 4}).json() for u in USERS}
    expected_events = sum(len(a["items"]) for a in answers.values())
    wait_for(lambda: db.exists() and len(logged(db)) >= expected_events)
    events = logged(db)
    assert len(events) == expected_events
    for user, answer in answers.items():
        mine = [e for e in events if e.recommendation_id == answer["recommendation_id"]]
        assert [e.item_id for e in mine] == [i["item_id"] for i in answer["items"]]
        assert [e.value for e in mine] == [float(k) for k in range(1, len(mine) + 1)]
        assert {(e.type, e.user_id) for e in mine} == {("exposure", user)}
        assert mine[0].event_id == f"{answer['recommendation_id']}:1"
    # the shop reports a click and a purchase on u0's list: the analysis attributes them
    rec = answers["u0"]["recommendation_id"]
    item = answers["u0"]["items"][0]["item_id"]
    now = time.time()
    posted = client.post(
        "/v1/events",
        json={
            "events": [
                event(900, "u0", item, "click", recommendation_id=rec, timestamp=now + 1),
                event(
                    901,
                    "u0",
                    item,
                    "purchase",
                    recommendation_id=rec,
                    timestamp=now + 2,
                    value=12.5,
                ),
            ]
        },
    )
    assert posted.json()["accepted"] == 2
    table, crossovers = visitor_table(read_events(f"sqlite:///{db}"), "exp", 3600)
    assert crossovers == 0 and len(table) == 12
    assert table.loc["u0", ["clicks", "orders", "revenue"]].tolist() == [1.0, 1.0, 12.5]
    assert table["variant"].to_dict() == {u: a["variant"] for u, a in answers.items()}


def test_outside_a_running_experiment_nothing_changes_and_nothing_is_logged(
    store: ModelRegistry, db: Path
) -> None:
    stopped = experiment_of(store, status="stopped")
    settings = serve_settings(store.root, event_log_url=f"sqlite:///{db}", experiments=[stopped])
    with TestClient(create_app(settings)) as c:
        body = c.get("/v1/recommendations/u0", params={"n": 5}).json()
        assert (body["experiment"], body["variant"]) == (None, None)
        assert len(body["recommendation_id"]) == 32
        time.sleep(0.4)  # two flush periods
    assert not db.exists() or logged(db) == []


def test_exposure_log_all_logs_lists_outside_experiments(store: ModelRegistry, db: Path) -> None:
    settings = serve_settings(store.root, event_log_url=f"sqlite:///{db}", exposure_log="all")
    with TestClient(create_app(settings)) as c:
        body = c.get("/v1/recommendations/u1", params={"n": 2}).json()
    # shutdown flushes what is queued
    assert [(e.recommendation_id, e.value) for e in logged(db)] == [
        (body["recommendation_id"], 1.0),
        (body["recommendation_id"], 2.0),
    ]


def test_experiments_in_the_settings_file_are_validated(tmp_path: Path) -> None:
    from tailor.errors import ConfigError
    from tailor.serving.settings import load_settings

    file = tmp_path / "serve.toml"
    file.write_text(
        '[serve]\ndefault_n = 4\n\n[[experiments]]\nname = "e1"\n'
        '[[experiments.variants]]\nname = "a"\n[[experiments.variants]]\nname = "b"\nn = 3\n'
    )
    settings = load_settings(file)
    [exp] = settings.all_experiments()
    assert (exp.name, [v.n for v in exp.variants], settings.default_n) == ("e1", [None, 3], 4)
    file.write_text('[[experiments]]\nname = "e1"\n[[experiments.variants]]\nname = "a b"\n')
    with pytest.raises(ConfigError, match=r"experiments\.0\.variants\.0\.name"):
        load_settings(file)
    other = tmp_path / "more.toml"
    other.write_text('[[experiments]]\nname = "e1"\n[[experiments.variants]]\nname = "a"\n')
    twice = serve_settings(
        None, experiments=[{"name": "e1", "variants": [{"name": "a"}]}], experiments_file=other
    )
    with pytest.raises(ConfigError, match="names must be unique"):
        twice.all_experiments()


def test_admin_lists_starts_and_stops_experiments(store: ModelRegistry, db: Path) -> None:
    draft = experiment_of(store, status="draft")
    settings = serve_settings(
        store.root, event_log_url=f"sqlite:///{db}", experiments=[draft], admin_open=True
    )
    with TestClient(create_app(settings)) as c:
        listed = c.get("/v1/admin/experiments").json()["experiments"]
        assert [(e["name"], e["status"], e["running"]) for e in listed] == [("exp", "draft", False)]
        assert [v["name"] for v in listed[0]["variants"]] == ["control", "pop", "old"]
        assert c.get("/v1/recommendations/u3").json()["experiment"] is None
        started = c.post("/v1/admin/experiments/exp/start").json()
        assert (started["status"], started["running"]) == ("running", True)
        # the old version is loaded on start; every user is now in a variant
        variants = {c.get(f"/v1/recommendations/{u}").json()["variant"] for u in USERS}
        assert variants == {"control", "pop", "old"}
        stopped = c.post("/v1/admin/experiments/exp/stop").json()
        assert (stopped["status"], stopped["running"]) == ("stopped", False)
        assert c.get("/v1/recommendations/u3").json()["experiment"] is None
        missing = c.post("/v1/admin/experiments/nope/stop")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no experiment named 'nope'"


def test_a_variant_whose_version_does_not_load_is_served_outside_the_experiment(
    store: ModelRegistry, db: Path
) -> None:
    broken = {
        "name": "exp",
        "variants": [{"name": "control"}, {"name": "gone", "version": "no-such-version"}],
    }
    splitter = Splitter(Experiment.model_validate(broken))
    settings = serve_settings(store.root, event_log_url=f"sqlite:///{db}", experiments=[broken])
    with TestClient(create_app(settings)) as c:
        for user in USERS:
            body = c.get(f"/v1/recommendations/{user}").json()
            expected = splitter.variant(user)
            assert expected is not None
            if expected.name == "gone":  # never labelled with a variant it did not get
                assert (body["experiment"], body["variant"]) == (None, None)
                assert body["model_version"] == store.active()
            else:
                assert body["variant"] == "control"
    assert {splitter.variant(u).name for u in USERS} == {"control", "gone"}  # type: ignore[union-attr]
