"""Crash safety of ``tailor stream``: SIGKILLed at random instants while events flow and
restarted, it ends with every acknowledged event applied exactly once, checked against an
independent replay of the log (the small version of ``bench/streaming/crash.py``). And the
window a random kill rarely hits: a snapshot published but not yet activated."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from tailor.models.model_dir import ModelDir
from tailor.models.popular import Popularity
from tailor.serving.registry import ModelRegistry
from tailor.streaming.consumer import StreamConsumer
from tailor.streaming.events import Event
from tailor.streaming.log import log_identity, open_sink, open_source
from tailor.streaming.rules import EventRules
from tailor.streaming.settings import StreamSettings
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.streaming import START, event, write_store

SHARED_REDIS = "redis://127.0.0.1:6379/0"
TYPES = ("view", "click", "add_to_cart", "purchase")
Require = Callable[[bool, str], None]


def make_events(n: int, rng: random.Random) -> list[Event]:
    """Event ``c{k}``: a known or new user acting on a new item ``x{k}``, so the score of
    ``x{k}`` over the event's weight is how often the model applied it."""
    users = [f"u{k}" for k in range(12)] + [f"n{k}" for k in range(50)]
    return [
        Event.model_validate(
            {
                "event_id": f"c{k}",
                "user_id": rng.choice(users),
                "item_id": f"x{k}",
                "type": rng.choice(TYPES),
                "timestamp": START + k,
            }
        )
        for k in range(n)
    ]


def produce(url: str, events: list[Event], seconds: float, acked: set[str]) -> None:
    """Append in batches of 1-40 over about ``seconds``; every fifth batch repeats an earlier
    event (a client retry). ``acked`` gets the ids of acknowledged appends."""
    rng = random.Random(1)
    sink = open_sink(url)
    start, k = time.monotonic(), 0
    try:
        while k < len(events):
            batch = events[k : k + rng.randint(1, 40)]
            repeat = [events[rng.randrange(k)]] if k and rng.random() < 0.2 else []
            sink.append(batch + repeat)
            acked.update(e.event_id for e in batch + repeat)
            k += len(batch)
            time.sleep(max(0.0, start + seconds * k / len(events) - time.monotonic()))
    finally:
        sink.close()


def stream_command(url: str, store: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", "from tailor.cli import main; main()",
        "stream", "--log", url, "--model-dir", str(store), "--quiet", *extra,
    ]  # fmt: skip


def stream_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TAILOR_STREAM_") and k not in ("TAILOR_SETTINGS_FILE",)
    }
    env["TAILOR_STREAM_SNAPSHOT_EVERY_EVENTS"] = "50"
    env["TAILOR_STREAM_GUARD_MIN_OVERLAP"] = "0"  # new items take over the lists: not noise here
    return env


def wait_for(text: str, log: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace") and time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        time.sleep(0.02)


def kill_and_restart(url: str, store: Path, logs: Path, kills: int, seed: int) -> list[str]:
    """Start the consumer and SIGKILL it at a random instant, ``kills`` times: the first time
    while it catches up (its first micro-batch loads numba: about a second), then within a
    second after its first snapshot; then a last run until the log is idle. Returns the
    position each run resumed from."""
    rng = random.Random(seed)
    resumed = []
    for k in range(kills):
        log = logs / f"stream-{k}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                stream_command(url, store), stdout=out, stderr=subprocess.STDOUT, env=stream_env()
            )
        try:
            wait_for("stream_opened", log, proc, 60)
            assert "stream_opened" in log.read_text(), "tailor stream did not open in 60 s"
            if k:
                wait_for("stream_snapshot ", log, proc, 10)
            time.sleep(rng.uniform(0.2, 1.0))
            assert proc.poll() is None, log.read_text()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        opened = log.read_text(errors="replace").split("stream_opened", 1)[1]
        resumed.append(opened.split("position=", 1)[1].split(" ", 1)[0])
    last = subprocess.run(
        stream_command(url, store, "--idle-exit", "1"),
        capture_output=True,
        env=stream_env(),
        timeout=120,
    )
    assert last.returncode == 0, last.stderr.decode(errors="replace")
    return resumed


def applied_times(store: Path, base: str, logged: list[bytes], acked: set[str]) -> np.ndarray:
    """How often the active version holds each acknowledged event, from an independent replay
    of the log (each acknowledged id once, the same rules); every other item is checked too."""
    once: dict[str, Event] = {}
    for body in logged:
        e = Event.from_json(body)
        once.setdefault(e.event_id, e)
    assert acked <= set(once), "acknowledged events missing from the log"
    events = [once[i] for i in sorted(acked, key=lambda i: int(i[1:]))]
    rules = EventRules()
    expected = rules.to_frame(events).groupby("item_id")["weight"].sum()

    registry = ModelRegistry(store)
    active = registry.active()
    assert active is not None and active != base
    folder, first = ModelDir.load(registry.path(active)), ModelDir.load(registry.path(base))
    assert isinstance(folder.model, Popularity) and isinstance(first.model, Popularity)
    scores = dict(
        zip(folder.model.items.ids.tolist(), folder.model.item_scores.tolist(), strict=True)
    )
    want = dict(zip(first.model.items.ids.tolist(), first.model.item_scores.tolist(), strict=True))
    want |= {str(i): float(w) for i, w in expected.items()}
    wrong = {
        i: (scores.get(i), want.get(i))
        for i in set(scores) | set(want)
        if scores.get(i) != want.get(i)
    }
    assert not wrong, f"{len(wrong)} item scores differ (got, want): {sorted(wrong.items())[:10]}"
    fallback = folder.popularity
    assert fallback is not None
    counts = dict(zip(fallback.items.ids.tolist(), fallback.item_scores.tolist(), strict=True))
    assert all(counts[e.item_id] == 1.0 for e in events)  # one user each, once
    return np.array([scores.get(e.item_id, 0.0) / (rules.weight(e) or 1.0) for e in events])


def run_crash(url: str, logged: Callable[[], list[bytes]], tmp_path: Path) -> None:
    store = write_store(tmp_path / "store", "popularity", measure="weight")
    base = store.active()
    assert base is not None
    events = make_events(1000, random.Random(0))
    acked: set[str] = set()
    producer = threading.Thread(target=produce, args=(url, events, 8.0, acked))
    producer.start()
    try:
        resumed = kill_and_restart(url, store.root, tmp_path, kills=3, seed=2)
    finally:
        producer.join()
    assert len(acked) == 1000
    times = applied_times(store.root, base, logged(), acked)
    lost, doubled = int((times == 0).sum()), int(np.maximum(times - 1, 0).sum())
    assert (lost, doubled) == (0, 0), f"lost {lost}, double counted {doubled}"
    assert resumed[0] == "{}" and any(p != "{}" for p in resumed[1:]), (
        f"no restart resumed from a snapshot (positions {resumed}): the test proved nothing"
    )


def test_sigkilled_consumer_applies_every_event_once_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "events.db"

    def logged() -> list[bytes]:
        with sqlite3.connect(db) as conn:
            return [bytes(r[0]) for r in conn.execute("SELECT body FROM events ORDER BY seq")]

    run_crash(f"sqlite:///{db}", logged, tmp_path)


@pytest.fixture
def redis_stream(require: Require) -> Iterator[str]:
    client = redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=0.5)
    try:
        up = bool(client.ping())
    except redis.RedisError:
        up = False
    require(up, "no Redis on 127.0.0.1:6379")
    name = f"tailor-test-crash-{uuid.uuid4().hex[:10]}"
    yield name
    client.delete(name, f"{name}:dead", f"{name}:dead:ids")
    client.close()


@pytest.mark.integration
def test_sigkilled_consumer_applies_every_event_once_redis(
    redis_stream: str, tmp_path: Path
) -> None:
    def logged() -> list[bytes]:
        client: Any = redis.Redis.from_url(SHARED_REDIS)
        try:
            return [f[b"event"] for _, f in client.xrange(redis_stream, "-", "+")]
        finally:
            client.close()

    run_crash(f"{SHARED_REDIS}?stream={redis_stream}&group=crash", logged, tmp_path)


# ---- killed between publishing a snapshot and activating it --------------------------------


class Killed(BaseException):
    """The process died here (nothing after it ran)."""


def _die(*args: object, **kwargs: object) -> None:
    raise Killed


def _consumer(store: ModelRegistry, db: Path, **settings: object) -> StreamConsumer:
    url = f"sqlite:///{db}"
    made = StreamConsumer(
        SqliteEventLog(db),
        store,
        StreamSettings(model_dir=store.root, event_log_url=url, **settings),  # type: ignore[arg-type]
        log_id=log_identity(url),
    )
    made.open()
    return made


@pytest.mark.parametrize("earlier_snapshots", [0, 2])
def test_a_snapshot_published_but_not_activated_is_resumed_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier_snapshots: int
) -> None:
    store = write_store(tmp_path / "store", "popularity", measure="weight")
    base = store.active()
    assert base is not None
    db = tmp_path / "events.db"
    log = SqliteEventLog(db)
    c = _consumer(store, db)
    for k in range(earlier_snapshots):
        log.append([Event.model_validate(event(k, "u0", f"x{k}"))])
        c.step()
        c.snapshot()
    log.append([Event.model_validate(event(k, "u1", f"x{k}")) for k in range(10, 13)])
    c.step()
    with monkeypatch.context() as patched:  # killed once the version is in, before ACTIVE moves
        patched.setattr(ModelRegistry, "activate", _die)
        with pytest.raises(Killed):
            c.snapshot()
    unfinished = f"{base}.s{earlier_snapshots + 1}"
    assert unfinished in store.versions() and store.active() != unfinished

    restarted = _consumer(store, db)
    assert restarted.version == unfinished == store.active()
    assert restarted.position.to_dict() == {"0": str(earlier_snapshots + 3)}
    log.append([Event.model_validate(event(20, "u2", "x20"))])
    assert restarted.step().applied == 1
    assert restarted.snapshot() == f"{base}.s{earlier_snapshots + 2}"  # not a taken name
    model = ModelDir.load(store.path(str(store.active()))).model
    held = set(model.items.ids.tolist())
    assert {f"x{k}" for k in [*range(earlier_snapshots), 10, 11, 12, 20]} <= held


def test_without_activation_a_restart_resumes_from_the_newest_snapshot(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store", "popularity", measure="weight")
    base = store.active()
    db = tmp_path / "events.db"
    SqliteEventLog(db).append([Event.model_validate(event(k, "u0", f"x{k}")) for k in range(4)])
    c = _consumer(store, db, snapshot_activate=False)
    c.step()
    c.snapshot()
    assert store.active() == base
    restarted = _consumer(store, db, snapshot_activate=False, reload_poll_s=0.01)
    assert restarted.version == base and restarted.position.to_dict() == {"0": "4"}
    assert restarted.pipeline.model is not None
    assert {f"x{k}" for k in range(4)} <= set(restarted.pipeline.model.items.ids.tolist())
    time.sleep(0.02)
    assert restarted.step().polled == 0  # the base is still active: not a new full fit
    assert restarted.pipeline.model is not None
    assert {"x0", "x3"} <= set(restarted.pipeline.model.items.ids.tolist())


# ---- Redis: killed again and again while catching up ---------------------------------------


@pytest.mark.integration
def test_repeated_kills_during_a_catch_up_dead_letter_no_batch(
    redis_stream: str, tmp_path: Path
) -> None:
    """Each run polls (the replay takes the pending entries over: one delivery more), then
    dies before committing. Before the fix, every restart's first read took over the whole
    in-flight batch, so after max_failures restarts all 200 events went to the dead letters."""
    store = write_store(tmp_path / "store", "popularity", measure="weight")
    url = f"{SHARED_REDIS}?stream={redis_stream}&group=crash"
    events = make_events(200, random.Random(3))
    open_sink(url).append(events)

    def started() -> StreamConsumer:
        made = StreamConsumer(
            open_source(url),
            store,
            StreamSettings(model_dir=store.root, event_log_url=url),
            log_id=log_identity(url),
        )
        made.open()
        return made

    for _ in range(5):  # killed with its first read in flight, five times
        dying = started()
        assert dying.source.poll(5000, 1.0)
        dying.source.close()
    c = started()
    while c.step().polled:
        pass
    # only the first entry was in flight at every kill, alone: what a poison event looks like
    client: Any = redis.Redis.from_url(SHARED_REDIS)
    first = client.xrange(redis_stream, "-", "+", count=1)[0][0].decode()
    client.close()
    dead = c.source.dead_letters()  # type: ignore[attr-defined]
    assert [entry_id for entry_id, _ in dead] == [first]
    assert c.stats.applied == 199


def test_a_restart_removes_what_a_snapshot_killed_while_written_left(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store", "popularity", measure="weight")
    old, young = store.root / ".stream-old", store.root / ".stream-young"
    for folder in (old, young):
        (folder / "v.s1").mkdir(parents=True)
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    _consumer(store, tmp_path / "events.db")
    assert not old.exists() and young.is_dir()  # a young one may be another consumer's
