"""A monitoring run end to end: events in the embedded log, a model store, the state file, the
webhook (a real HTTP server), the Prometheus gauges and ``tailor monitor``."""

from __future__ import annotations

import math
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prometheus_client import generate_latest

from tailor.monitoring import checks as C
from tailor.monitoring.alerts import MonitorMetrics, Notice, WebhookSink
from tailor.monitoring.config import MonitorSettings, load_monitor_settings, parse_duration
from tailor.monitoring.runner import Monitor, monitor_log_url
from tailor.streaming.events import Event
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.cli import run_cli
from tailor.testing.streaming import write_store

NOW = pd.Timestamp("2026-11-29T12:00:00Z")
HOUR = C.Window.ending(NOW, timedelta(hours=1))
OFF = {"enabled": False}


def spread(window: C.Window, n: int, kind: str, tag: str, **fields: Any) -> list[Event]:
    """``n`` events of ``kind`` spread over ``window`` (the first at its start), each by its
    own session."""
    step = window.length / max(n, 1)
    out = []
    for k in range(n):
        who = fields.get("user_id") or {"session_id": f"s-{tag}-{kind}-{k}"}
        extra = {"user_id": who} if isinstance(who, str) else who
        out.append(
            Event(
                event_id=f"{tag}-{kind}-{k}",
                item_id=fields.get("item", f"i{k % 8}"),
                type=kind,
                timestamp=(window.start + step * k).to_pydatetime(),
                **extra,
            )
        )
    return out


def weekly_events(db: Path, now: dict[str, int], past: dict[str, int]) -> None:
    """Per type, ``past`` events in the same hour of each of the last 4 weeks, ``now`` now."""
    log = SqliteEventLog(db)
    for weeks in (4, 3, 2, 1, 0):
        counts = now if weeks == 0 else past
        window = HOUR.shifted(C.WEEK * weeks)
        log.append([e for kind, n in counts.items() for e in spread(window, n, kind, f"w{weeks}")])
    log.close()


def settings(tmp_path: Path, store: Path, **fields: Any) -> MonitorSettings:
    return MonitorSettings.model_validate(
        {
            "event_log_url": f"sqlite:///{tmp_path / 'events.db'}",
            "model_dir": str(store),
            "state_file": str(tmp_path / "monitor" / "state.db"),
            **fields,
        }
    )


PAST = {"view": 80, "click": 30, "purchase": 25}


def test_an_event_type_that_stops_arriving_alerts_once_to_log_webhook_and_gauges(
    tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store = write_store(tmp_path / "store")
    weekly_events(tmp_path / "events.db", {"view": 80, "click": 30, "purchase": 0}, PAST)
    monitor = Monitor(settings(tmp_path, store.root, webhook_url=webhook.url))
    report = monitor.run_once(NOW)
    assert report.new_events == 4 * 135 + 110
    assert report.version == store.active()
    statuses = {r.key: r.status for r in report.results}
    assert statuses == {
        "volume:click": "ok",
        "volume:purchase": "alert",
        "volume:view": "ok",
        "event_mix": "alert",
        "validation_failures": "skipped",  # no metrics_url
        "unknown_users": "skipped",  # sessions only
        "unknown_items": "skipped",  # 8 distinct items < 20
        "feature_psi:category": "skipped",  # 36 training pairs < 50
        "feature_psi:events_per_visitor": "ok",
        "feature_ks:events_per_visitor": "ok",
        "score_ks": "ok",
        "list_overlap": "ok",
        "kpi:ctr": "skipped",
        "kpi:conversion": "skipped",
    }
    stopped = next(r for r in report.alerts if r.name == "volume")
    assert stopped.subject == "purchase" and stopped.window == HOUR
    assert stopped.details["weeks"] == 4.0
    assert stopped.details["history_mean"] == 25.0 and stopped.details["history_sd"] == 0.0
    mix = next(r for r in report.alerts if r.name == "event_mix")
    # pooled history 320/120/100 of 540; now 80/30/0 of 110
    e = {"view": 320 / 540, "click": 120 / 540, "purchase": 100 / 540}
    a = {"view": 80 / 110, "click": 30 / 110, "purchase": 1e-4}
    assert mix.value == pytest.approx(sum((a[k] - e[k]) * math.log(a[k] / e[k]) for k in e))

    # the webhook got one POST: the two alerts, each naming the check, numbers and window
    assert len(webhook.bodies) == 1 and webhook.content_types == ["application/json"]
    body = webhook.bodies[0]
    assert body["source"] == "tailor-monitor" and body["resolved"] == []
    assert [a["check"] for a in body["alerts"]] == ["volume:purchase", "event_mix"]
    first = body["alerts"][0]
    assert (first["value"], first["threshold"], first["status"]) == (0.0, 0.5, "alert")
    assert first["window_start"] == "2026-11-29T11:00:00+00:00"
    assert first["window_end"] == "2026-11-29T12:00:00+00:00"
    assert first["message"].startswith("volume:purchase ALERT: stopped arriving: 0 events vs 25.0")

    # the gauges
    text = generate_latest(monitor.metrics.registry).decode()
    assert 'tailor_monitor_alert{check="volume:purchase"} 1.0' in text
    assert 'tailor_monitor_alert{check="volume:view"} 0.0' in text
    assert 'tailor_monitor_check_value{check="volume:purchase"} 0.0' in text
    assert 'tailor_monitor_check_value{check="volume:view"} 1.0' in text
    assert 'tailor_monitor_check_value{check="kpi:ctr"} NaN' in text

    # the same state at the next run: no new alert is sent (notify = "change")
    again = monitor.run_once(NOW + timedelta(minutes=1))
    assert again.new_events == 0 and len(again.alerts) == 2 and not again.notice
    assert len(webhook.bodies) == 1
    # purchases come back: the volume alert is resolved, once
    log = SqliteEventLog(tmp_path / "events.db")
    later = C.Window.ending(NOW + timedelta(minutes=2), timedelta(hours=1))
    log.append(spread(C.Window(NOW, later.end), 25, "purchase", "back"))
    log.close()
    back = monitor.run_once(later.end)
    assert back.new_events == 25
    assert [r.key for r in back.notice.resolved] == ["volume:purchase", "event_mix"]
    assert [r["check"] for r in webhook.bodies[-1]["resolved"]] == ["volume:purchase", "event_mix"]
    assert webhook.bodies[-1]["alerts"] == []
    monitor.close()
    assert "monitor_alert" in capsys.readouterr().out  # structlog's default: stdout


def test_the_state_keeps_the_position_and_each_event_once(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    weekly_events(tmp_path / "events.db", PAST, PAST)
    cfg = settings(tmp_path, store.root, **dict.fromkeys(("scores", "features", "kpi"), OFF))
    first = Monitor(cfg)
    assert first.run_once(NOW).new_events == 5 * 135
    first.close()
    log = SqliteEventLog(tmp_path / "events.db")  # a client retry: the same event again
    log.append(spread(HOUR, 1, "view", "w0") + spread(HOUR, 1, "view", "extra"))
    log.close()
    second = Monitor(cfg)  # a new process resumes from the state's position
    report = second.run_once(NOW)
    assert report.new_events == 1
    assert len(second.state.events()) == 5 * 135 + 1
    # events older than the history the checks need are dropped
    assert second.state.prune(HOUR.start) == 4 * 135
    assert second.state.covered_since == HOUR.start
    second.close()


def catalog() -> pd.DataFrame:
    """Items i0-i9 in category a priced 1-10, i10-i19 in b priced 11-20."""
    return pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(20)],
            "category": ["a"] * 10 + ["b"] * 10,
            "price": [float(k + 1) for k in range(20)],
            "available": [True] * 20,
        }
    )


def training() -> pd.DataFrame:
    """100 users, each with two items of a and two of b: 400 pairs, 200 per category, every
    price 20 times."""
    rows = []
    for u in range(100):
        for item in (u % 10, (u + 3) % 10, 10 + u % 10, 10 + (u + 5) % 10):
            rows.append((f"u{u}", f"i{item}", 1.0, pd.Timestamp("2026-01-01") + timedelta(u)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])


def purchases(items: list[int], n: int, tag: str) -> list[Event]:
    step = HOUR.length / (n + 1)
    return [
        Event(
            event_id=f"{tag}{k}",
            user_id=f"u{k % 100}",
            item_id=f"i{items[(k + k // 100) % len(items)]}",  # 200 distinct pairs
            type="purchase",
            timestamp=(HOUR.start + step * (k + 1)).to_pydatetime(),
        )
        for k in range(n)
    ]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (list(range(20)), ("ok", "ok", "ok")),  # as in training
        (list(range(10)), ("alert", "alert", "alert")),  # category b out of stock
    ],
    ids=["steady", "out-of-stock"],
)
def test_feature_drift_against_the_training_data(
    tmp_path: Path, items: list[int], expected: tuple[str, str, str]
) -> None:
    store = write_store(tmp_path / "store", frame=training(), catalog=catalog())
    log = SqliteEventLog(tmp_path / "events.db")
    log.append(purchases(items, 200, "p"))
    log.close()
    off = dict.fromkeys(("volume", "mix", "validation", "unknown", "scores", "kpi"), OFF)
    cfg = settings(tmp_path, store.root, features={"activity": False}, **off)
    monitor = Monitor(cfg)
    results = {r.key: r for r in monitor.run_once(NOW).results}
    assert list(results) == ["feature_psi:price", "feature_ks:price", "feature_psi:category"]
    got = tuple(r.status for r in results.values())
    assert got == expected
    category = results["feature_psi:category"]
    assert category.details == {"n": 200.0, "reference_n": 400.0}
    if expected[0] == "alert":
        # 0.5/0.5 in training -> 1.0/0 now (an empty bin counts as 1e-4)
        by_hand = 0.5 * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
        assert category.value == pytest.approx(by_hand, abs=1e-12)
        assert results["feature_ks:price"].value == pytest.approx(0.5)  # all prices <= 10
    else:
        assert category.value == 0.0
        assert results["feature_ks:price"].value == pytest.approx(0.0, abs=0.01)
    # the reference is computed once per base version and kept in the state file
    stored = monitor.state.get(f"reference:{store.active()}")
    assert stored["categorical"] == {"category": {"a": 200.0, "b": 200.0}}
    assert sorted(stored["numeric"]["price"]) == sorted([float(p) for p in range(1, 21)] * 20)
    monitor.close()


def test_validation_failures_from_the_servers_counter(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tailor.serving.app import create_app
    from tailor.testing.serving import serve_settings
    from tailor.testing.streaming import event

    store = write_store(tmp_path / "store")
    db = tmp_path / "events.db"
    app = create_app(serve_settings(store.root, event_log_url=f"sqlite:///{db}"))
    only = dict.fromkeys(("volume", "mix", "unknown", "features", "scores", "kpi"), OFF)
    cfg = settings(
        tmp_path, store.root, validation={"metrics_url": "http://server/metrics"}, **only
    )
    with TestClient(app) as client:
        monitor = Monitor(cfg, scrape=lambda url: client.get("/metrics").text)
        first = monitor.run_once()
        assert first.results[0].status == "skipped"  # one counter sample so far
        batch = [event(k, f"u{k % 12}", f"i{k % 8}", "view") for k in range(94)]
        batch += [{"event_id": f"bad{k}", "user_id": "u0"} for k in range(6)]  # no item_id
        assert client.post("/v1/events", json={"events": batch}).json()["accepted"] == 94
        text = client.get("/metrics").text
        assert 'tailor_serving_events_total{result="accepted"} 94.0' in text
        assert 'tailor_serving_events_total{result="rejected"} 6.0' in text
        result = monitor.run_once().results[0]
        monitor.close()
    assert (result.key, result.status, result.value) == ("validation_failures", "alert", 0.06)
    assert result.details == {"accepted": 94.0, "rejected": 6.0}
    assert "6 of 100 events rejected (6.00% > 5.00%)" in result.message


def test_a_failing_webhook_is_logged_never_raised(webhook: Any) -> None:
    alert = C.validation_failures(0, 100, HOUR)
    webhook.status = 500
    assert WebhookSink(webhook.url).send(Notice([alert], [])) is False
    assert len(webhook.bodies) == 1  # it was sent, and answered 500
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    assert WebhookSink(closed, timeout_s=0.5).send(Notice([alert], [])) is False
    assert WebhookSink(closed).send(Notice([], [])) is True  # nothing to say: no request


def test_gauges_are_served_over_http() -> None:
    metrics = MonitorMetrics()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(port)
    metrics.update([C.validation_failures(94, 6, HOUR)], at=1_800_000_000.0)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'tailor_monitor_check_value{check="validation_failures"} 0.06' in text
    assert 'tailor_monitor_alert{check="validation_failures"} 1.0' in text
    assert "tailor_monitor_last_run_timestamp_seconds 1.8e+09" in text


def test_settings_from_the_shared_file(tmp_path: Path) -> None:
    file = tmp_path / "tailor.toml"
    file.write_text(
        '[serve]\nmodel_dir = "store"\nevent_log_url = "sqlite:///events.db"\n'
        '[monitoring]\nwindow = "30m"\nwebhook_url = "http://127.0.0.1:9/hook"\n'
        "[monitoring.volume]\nmin_ratio = 0.25\n[monitoring.scores]\nenabled = false\n"
    )
    cfg = load_monitor_settings(file, every="5m")
    assert (cfg.window, cfg.every, cfg.volume.min_ratio) == (1800.0, 300.0, 0.25)
    assert cfg.model_dir == Path("store") and cfg.event_log_url == "sqlite:///events.db"
    assert cfg.scores.enabled is False and cfg.kpi.window == 86400.0
    assert [parse_duration(x) for x in ("90s", "2h", "1d", "1w", 12)] == [
        90,
        7200,
        86400,
        604800,
        12,
    ]
    file.write_text("[monitoring.volume]\nmin_ratios = 0.25\n")
    from tailor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"volume\.min_ratios"):
        load_monitor_settings(file)
    with pytest.raises(ConfigError, match="window"):
        load_monitor_settings(None, window="soon")


def test_the_monitor_reads_redis_and_kafka_logs_in_a_group_of_its_own() -> None:
    url = "redis://127.0.0.1:6379/0?stream=tailor:events&group=tailor"
    assert monitor_log_url(url, "tailor-monitor") == (
        "redis://127.0.0.1:6379/0?stream=tailor%3Aevents&group=tailor-monitor"
    )
    assert monitor_log_url("kafka://h:9092/t", "m") == "kafka://h:9092/t?group=m"
    assert monitor_log_url("sqlite:////x/e.db", "m") == "sqlite:////x/e.db"


def test_tailor_monitor_once_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    store = write_store(tmp_path / "store")
    weekly_events(tmp_path / "events.db", {"view": 80, "click": 30, "purchase": 0}, PAST)
    file = tmp_path / "tailor.toml"
    file.write_text(
        f'[serve]\nmodel_dir = "{store.root}"\nevent_log_url = "sqlite:///{tmp_path}/events.db"\n'
        f'[monitoring]\nstate_file = "{tmp_path}/state.db"\n'
    )
    code = run_cli("monitor", "--config", file, "--once", "--now", NOW.isoformat())
    out = capsys.readouterr().out
    assert code == 0
    assert "650 new events" in out and "2 alerts" in out
    line = next(x for x in out.splitlines() if "volume:purchase" in x)
    assert "alert" in line and "stopped arriving" in line
    assert run_cli("monitor", "--config", file, "--once", "--now", "yesterday-ish") == 2


@pytest.mark.integration
def test_beside_redis_the_monitor_reads_every_event_without_taking_the_consumers(
    tmp_path: Path, require: Any
) -> None:
    import uuid

    import redis

    from tailor.streaming.log import Position, open_sink, open_source

    shared = "redis://127.0.0.1:6379/0"
    try:
        up = bool(redis.Redis.from_url(shared, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        up = False
    require(up, "no Redis on 127.0.0.1:6379")
    name = f"tailor-test-monitor-{uuid.uuid4().hex[:10]}"
    url = f"{shared}?stream={name}&group=tailor"
    try:
        sink = open_sink(url)
        sink.append(spread(HOUR, 30, "view", "r"))
        consumer = open_source(url, "tailor-stream")  # tailor stream's group
        consumer.seek(Position())
        cfg = settings(
            tmp_path, tmp_path / "no-store", event_log_url=url,
            **dict.fromkeys(("scores", "features", "kpi", "unknown"), OFF),
        )  # fmt: skip
        monitor = Monitor(cfg)
        assert monitor.run_once(NOW).new_events == 30
        sink.append(spread(HOUR, 5, "click", "r"))
        assert monitor.run_once(NOW).new_events == 5
        got = []
        while records := consumer.poll(1000, 0.2):
            got += records
            consumer.commit(records)
        assert len(got) == 35  # the stream consumer still gets every event
        monitor.close()
        consumer.close()
        sink.close()
    finally:
        client = redis.Redis.from_url(shared)
        client.delete(name, f"{name}:dead", f"{name}:dead:ids")


def test_a_snapshot_is_judged_against_its_base_versions_lists_and_scores(tmp_path: Path) -> None:
    """The reference is the base full fit's; a snapshot (``stream.json`` naming the base) whose
    lists and scores moved alerts on both."""
    import json

    from tailor.data.dataset import Dataset
    from tailor.models.model_dir import ModelDir
    from tailor.models.popular import Popularity
    from tailor.models.registry import create_model
    from tailor.testing.data import planted_frame
    from tailor.testing.serving import CATALOG

    store = write_store(tmp_path / "store")
    base = store.active()
    assert base is not None
    only = dict.fromkeys(("volume", "mix", "validation", "unknown", "features", "kpi"), OFF)
    monitor = Monitor(settings(tmp_path, store.root, **only))
    first = {r.key: r for r in monitor.run_once(NOW).results}
    assert (first["score_ks"].value, first["list_overlap"].value) == (0.0, 1.0)
    assert first["score_ks"].details["n"] == 60.0  # 12 users x 5 unseen items
    # a "snapshot" of the base whose users turned to the other taste group's items (i0..i3
    # <-> i4..i7) and whose model ranks by popularity: other lists, other scores
    swapped = planted_frame()
    swapped["item_id"] = [f"i{(int(i[1:]) + 4) % 8}" for i in swapped["item_id"]]
    data = Dataset.from_frame(swapped, items=CATALOG)
    staging = tmp_path / "snapshot"
    ModelDir.write(staging, create_model("popularity", {}).fit(data),
                   popularity=Popularity().fit(data), catalog=CATALOG)  # fmt: skip
    (staging / "stream.json").write_text(json.dumps({"base_version": base}))
    store.activate(store.publish(staging, version=f"{base}.s1"))
    later = {r.key: r for r in monitor.run_once(NOW + timedelta(hours=1)).results}
    assert monitor._loaded is not None and monitor._loaded.version == f"{base}.s1"
    assert monitor._loaded.reference.version == base  # not retaken for the snapshot
    assert (later["score_ks"].status, later["score_ks"].value) == ("alert", 1.0)
    overlap = later["list_overlap"]
    assert overlap.window.start == NOW  # at load: the first run
    assert (overlap.status, overlap.value) == ("alert", 0.25)  # 2 shared of 8 items each
    monitor.close()


def test_inside_a_server_the_gauges_are_on_its_metrics(tmp_path: Path) -> None:
    """A MonitorThread given the server's registry: the server's own /metrics shows the
    monitor's gauges next to its instruments."""
    import time

    from fastapi.testclient import TestClient

    from tailor.monitoring.embedded import MonitorThread
    from tailor.serving.app import create_app
    from tailor.testing.serving import serve_settings

    store = write_store(tmp_path / "store")
    weekly_events(tmp_path / "events.db", {"view": 80, "click": 30, "purchase": 0}, PAST)
    app = create_app(serve_settings(store.root, event_log_url=f"sqlite:///{tmp_path}/events.db"))
    only = dict.fromkeys(("mix", "validation", "unknown", "features", "scores", "kpi"), OFF)
    cfg = settings(tmp_path, store.root, clock="events", every=3600, **only)
    with TestClient(app) as client:
        thread = MonitorThread(cfg, registry=app.state.services.metrics.registry)
        thread.start()
        deadline = time.monotonic() + 20
        while thread.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        thread.stop()
        text = client.get("/metrics").text
    assert thread.last is not None and [r.key for r in thread.last.alerts] == ["volume:purchase"]
    assert 'tailor_monitor_alert{check="volume:purchase"} 1.0' in text
    assert "tailor_serving_request_seconds" in text
