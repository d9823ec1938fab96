"""Crash safety: SIGKILL ``tailor stream`` at random instants while events flow, restart it each
time, and check the model against an independent replay of the log.

Per backend (the SQLite file, a Redis stream on the shared Redis under a unique name, a topic on
librdkafka's mock cluster, which lives in this process and is reached by the consumer through
the ``kafka://`` URL's bootstrap servers):

* a model store whose active version is Popularity with ``measure = "weight"`` fitted on the
  planted data (its popularity fallback counts distinct users): both count events exactly
  (float32 holds integer sums exactly far beyond these totals);
* a producer thread appends ``--events`` events in batches of 1 to 50 through the backend's
  sink (an event is acknowledged when ``append`` returned); each event is a new item ``x{k}``
  bought, added, clicked or viewed by a known or a new user, so how often the model applied it
  is its item's score over its weight; 2 % of the appends repeat an earlier event (a client
  retry: the same ``event_id``, to be dropped by the consumer's deduplication, across restarts
  too);
* the consumer is ``tailor stream --log URL --model-dir STORE`` in a subprocess with a snapshot
  every ``--snapshot-every`` events, killed with SIGKILL ``--kills`` times and restarted each
  time: a fifth of the kills at a random instant of its start-up (0.2 to 2 s after the process
  started), the others 0.05 to 3 s after it opened the store (while it replays, applies or
  writes a snapshot); then a last run with ``--idle-exit`` once the producer is done;
* the check: the active version (the last snapshot) against an independent replay, which reads
  the whole log with the backend's own client (sqlite3, XRANGE, a fresh Kafka consumer), takes
  each acknowledged event id once and applies the same rules (``EventRules.to_frame``). Lost:
  acknowledged events the model holds 0 times; double counted: applications beyond the first.
  Both must be 0; every other item score and the fallback's counts must match too.

    .venv/bin/python bench/streaming/crash.py [--events 10000] [--kills 8] \\
        [--backends sqlite,redis,kafka] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import TAILOR, machine, write_results

REDIS = "redis://127.0.0.1:6379/0"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: event k happens at T0 + k seconds
TYPES = ("view", "click", "add_to_cart", "purchase")
KNOWN_USERS = [f"u{k}" for k in range(12)]  # the planted data's users
STARTUP_KILLS = 0.2
"""Share of kills at a random instant of the start-up (0.2-2 s after the process started)."""
KILL_AFTER_OPEN_S = (0.05, 3.0)
"""The other kills: a random instant this long after the consumer opened the store."""


@dataclass
class Produced:
    """What the producer appended and which appends were acknowledged."""

    events: list[dict[str, Any]] = field(default_factory=list)
    """Every distinct event, in order (event k has id ``c{k}`` and item ``x{k}``)."""
    acknowledged: set[str] = field(default_factory=set)
    records: int = 0
    """Records appended (events plus repeats)."""
    repeats: int = 0
    failed_appends: int = 0
    seconds: float = 0.0
    error: str | None = None


def make_events(n: int, rng: random.Random) -> list[dict[str, Any]]:
    users = KNOWN_USERS + [f"n{k}" for k in range(300)]
    return [
        {
            "event_id": f"c{k}",
            "user_id": rng.choice(users),
            "item_id": f"x{k}",
            "type": rng.choice(TYPES),
            "timestamp": T0 + k,
        }
        for k in range(n)
    ]


def produce(
    url: str, events: list[dict[str, Any]], seconds: float, seed: int, out: Produced
) -> None:
    """Append ``events`` in batches of 1-50 spread over about ``seconds``, with repeats."""
    from tailor.streaming.events import Event
    from tailor.streaming.log import LogUnavailable, open_sink

    rng = random.Random(seed)
    sink = open_sink(url)
    parsed = [Event.model_validate(e) for e in events]
    start = time.perf_counter()
    try:
        k = 0
        while k < len(parsed):
            size = rng.randint(1, 50)
            batch = parsed[k : k + size]
            repeat = []
            if k and rng.random() < 0.02 * size:  # a client retry of an earlier event
                repeat = [parsed[rng.randrange(max(0, k - 2000), k)]]
            for attempt in range(20):
                try:
                    sink.append(batch + repeat)
                    break
                except LogUnavailable:
                    out.failed_appends += 1
                    time.sleep(0.1 * (attempt + 1))
            else:
                raise RuntimeError(f"the log refused events {k}..{k + len(batch)} 20 times")
            out.acknowledged.update(e.event_id for e in batch + repeat)
            out.records += len(batch) + len(repeat)
            out.repeats += len(repeat)
            k += len(batch)
            target = start + seconds * k / len(parsed)  # keep a steady flow
            time.sleep(max(0.0, target - time.perf_counter()))
    except Exception as exc:  # reported, the run fails its check
        out.error = repr(exc)
    finally:
        sink.close()
        out.seconds = time.perf_counter() - start


def write_store(root: Path) -> str:
    from tailor.testing.streaming import write_store as planted_store

    store = planted_store(root, "popularity", measure="weight")
    active = store.active()
    assert active is not None
    return active


def consumer_command(url: str, store: Path, *extra: str) -> list[str]:
    return [str(TAILOR), "stream", "--log", url, "--model-dir", str(store), *extra]


def consumer_env(snapshot_every: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TAILOR_STREAM_") and k != "TAILOR_SETTINGS_FILE"
    }
    env["TAILOR_STREAM_SNAPSHOT_EVERY_EVENTS"] = str(snapshot_every)
    env["TAILOR_STREAM_GUARD_MIN_OVERLAP"] = "0"  # new items take over the lists: not noise here
    return env


def kill_loop(
    url: str,
    store: Path,
    work: Path,
    kills: int,
    snapshot_every: int,
    rng: random.Random,
    restart: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Start the consumer, SIGKILL it at a random instant, ``kills`` times."""
    rows = []
    for k in range(kills):
        log = work / f"consumer-{k}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                consumer_command(url, store, *(restart if k else ())),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=consumer_env(snapshot_every),
            )
        started = time.monotonic()
        during_startup = rng.random() < STARTUP_KILLS
        if during_startup:
            delay = rng.uniform(0.2, 2.0)
        else:  # once it has opened the store and sought its position
            while "stream_opened" not in log.read_text(errors="replace"):
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            delay = rng.uniform(*KILL_AFTER_OPEN_S)
        try:
            exited = proc.wait(delay)
        except subprocess.TimeoutExpired:
            exited = None
        if exited is not None:
            raise RuntimeError(f"tailor stream exited with {exited} on its own: {log.read_text()}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        text = log.read_text(errors="replace")
        rows.append(
            {
                "after_s": round(time.monotonic() - started, 2),
                "opened": "stream_opened" in text,
                "snapshots_written": text.count("stream_snapshot "),
                "versions_in_store": len(list((store / "versions").iterdir())),
            }
        )
        print(f"  kill {k + 1}: {rows[-1]}", file=sys.stderr)
    return rows


def final_run(
    url: str, store: Path, work: Path, snapshot_every: int, restart: tuple[str, ...] = ()
) -> dict[str, Any]:
    log = work / "consumer-final.log"
    start = time.perf_counter()
    with log.open("wb") as out:
        code = subprocess.run(
            consumer_command(url, store, "--idle-exit", "3", *restart),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=consumer_env(snapshot_every),
            timeout=600,
        ).returncode
    text = log.read_text(errors="replace")
    stopped = [line for line in text.splitlines() if line.startswith("stopped:")]
    return {
        "exit_code": code,
        "seconds": round(time.perf_counter() - start, 1),
        "stopped_line": " ".join(text.split("stopped:", 1)[1].split()) if stopped else None,
    }


# ---- the independent replays -------------------------------------------------------------


def replay_sqlite(path: Path) -> list[bytes]:
    db = sqlite3.connect(path)
    try:
        return [bytes(row[0]) for row in db.execute("SELECT body FROM events ORDER BY seq")]
    finally:
        db.close()


def replay_redis(stream: str) -> list[bytes]:
    import redis

    client: Any = redis.Redis.from_url(REDIS)
    bodies: list[bytes] = []
    low = "-"
    try:
        while True:
            entries = client.xrange(stream, low, "+", count=1000)
            if not entries:
                return bodies
            bodies += [fields[b"event"] for _, fields in entries]
            low = f"({entries[-1][0].decode()}"
    finally:
        client.close()


def replay_kafka(bootstrap: str, topic: str) -> list[bytes]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"replay-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = reader.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in meta.partitions:
            low, high = reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        bodies: list[bytes] = []
        done = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + 60
        while any(done[p] < ends[p] for p in ends):
            if time.monotonic() > deadline:
                raise RuntimeError(f"replay of {topic}: read {done} of {ends} in 60 s")
            msg = reader.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            bodies.append(msg.value() or b"")
            done[msg.partition() or 0] = (msg.offset() or 0) + 1
        return bodies
    finally:
        reader.close()


# ---- the check ---------------------------------------------------------------------------


def check(store_root: Path, base: str, bodies: list[bytes], produced: Produced) -> dict[str, Any]:
    """The active version against the replay: every acknowledged event applied once."""
    from tailor.models.model_dir import ModelDir
    from tailor.models.popular import Popularity
    from tailor.serving.registry import ModelRegistry
    from tailor.streaming.events import Event
    from tailor.streaming.rules import EventRules

    logged: dict[str, Event] = {}
    for body in bodies:
        event = Event.from_json(body)
        logged.setdefault(event.event_id, event)  # a repeat is the same event, once
    acked = produced.acknowledged
    once = [logged[e] for e in sorted(logged, key=lambda i: int(i[1:])) if e in acked]
    rules = EventRules()
    frame = rules.to_frame(once)
    expected = frame.groupby("item_id")["weight"].sum()
    pairs = set(zip(frame["user_id"], frame["item_id"], strict=True))

    store = ModelRegistry(store_root)
    active = store.active()
    assert active is not None
    folder, reference = ModelDir.load(store.path(active)), ModelDir.load(store.path(base))
    model, fallback = folder.model, folder.popularity
    assert isinstance(model, Popularity) and isinstance(reference.model, Popularity)
    assert fallback is not None and reference.popularity is not None
    scores = dict(zip(model.items.ids.tolist(), model.item_scores.tolist(), strict=True))
    counted = dict(zip(fallback.items.ids.tolist(), fallback.item_scores.tolist(), strict=True))

    times = {}
    for event in once:
        weight = rules.weight(event)
        assert weight is not None
        times[event.event_id] = scores.get(event.item_id, 0.0) / weight
    applied = np.array(list(times.values()))
    lost = sorted((e for e, n in times.items() if n == 0), key=lambda i: int(i[1:]))
    doubled = sorted((e for e, n in times.items() if n > 1), key=lambda i: int(i[1:]))
    fractional = [e for e, n in times.items() if n != int(n)]

    base_scores = dict(
        zip(reference.model.items.ids.tolist(), reference.model.item_scores.tolist(), strict=True)
    )
    base_counts = dict(
        zip(
            reference.popularity.items.ids.tolist(),
            reference.popularity.item_scores.tolist(),
            strict=True,
        )
    )
    want_scores = {**base_scores, **{str(i): float(w) for i, w in expected.items()}}
    want_counts = {**base_counts, **dict.fromkeys(expected.index.astype(str), 1.0)}
    score_mismatch = sorted(
        i for i in set(want_scores) | set(scores) if scores.get(i) != want_scores.get(i)
    )
    count_mismatch = sorted(
        i for i in set(want_counts) | set(counted) if counted.get(i) != want_counts.get(i)
    )
    seen = model.seen.tocoo()
    users, items = model.users.ids, model.items.ids
    held = set(zip(users[seen.row].tolist(), items[seen.col].tolist(), strict=True))
    missing_pairs = len(pairs - held)

    meta = json.loads((store.path(active) / "stream.json").read_text())
    return {
        "acknowledged_events": len(acked),
        "log_records": len(bodies),
        "log_distinct_events": len(logged),
        "acknowledged_missing_from_log": len(acked - set(logged)),
        "logged_not_acknowledged": len(set(logged) - acked),
        "lost": len(lost),
        "double_counted": int(np.maximum(applied - 1, 0).sum()),
        "double_counted_events": len(doubled),
        "fractional": len(fractional),
        "lost_examples": lost[:10],
        "double_examples": doubled[:10],
        "item_scores_mismatched": len(score_mismatch),
        "mismatch_examples": [(i, scores.get(i), want_scores.get(i)) for i in score_mismatch[:10]],
        "fallback_counts_mismatched": len(count_mismatch),
        "seen_pairs_missing": missing_pairs,
        "active_version": active,
        "snapshot_position": meta["position"],
        "versions_in_store": len(store.versions()),
    }


# ---- one backend -------------------------------------------------------------------------


def run_backend(
    name: str, args: argparse.Namespace, work: Path, seed: int, control: bool = False
) -> dict[str, Any]:
    rng = random.Random(seed)
    events = make_events(args.events, rng)
    store = work / f"store-{name}"
    base = write_store(store)
    tag = uuid.uuid4().hex[:10]
    cleanup: list[Any] = []
    if name == "sqlite":
        db = (work / "events.db").resolve()
        url = f"sqlite:///{db}"

        def replay() -> list[bytes]:
            return replay_sqlite(db)

        def dead() -> int | None:
            with sqlite3.connect(db) as conn:
                return int(conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0])

        shown = "sqlite:////TMP/events.db"
    elif name == "redis":
        stream = f"bench-crash-{tag}:events"
        url = f"{REDIS}?stream={stream}&group=crash"

        def replay() -> list[bytes]:
            return replay_redis(stream)

        def dead() -> int | None:
            import redis

            client: Any = redis.Redis.from_url(REDIS)
            try:
                return int(client.xlen(f"{stream}:dead"))
            finally:
                client.close()

        def drop() -> None:
            import redis

            client = redis.Redis.from_url(REDIS)
            client.delete(stream, f"{stream}:dead", f"{stream}:dead:ids")
            client.close()

        cleanup.append(drop)
        shown = "redis://127.0.0.1:6379/0?stream=bench-crash-<random>:events&group=crash"
    elif name == "kafka":
        from confluent_kafka import Producer

        holder = Producer({"test.mock.num.brokers": 1, "log_level": 0})
        brokers = holder.list_topics(timeout=10).brokers
        bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers.values())
        topic = f"crash-{tag}"
        url = f"kafka://{bootstrap}/{topic}?group=crash"
        cleanup.append(lambda: holder.flush(1))

        def replay() -> list[bytes]:
            return replay_kafka(bootstrap, topic)

        def dead() -> int | None:
            from tailor.streaming.kafka_log import KafkaSource

            source = KafkaSource(bootstrap, topic, group="crash-dead-reader")
            try:
                return len(source.dead_letters())
            finally:
                source.close()

        shown = "kafka://<mock cluster in the bench process>/crash-<random>?group=crash"
    else:
        raise SystemExit(f"unknown backend {name!r}")

    try:
        produced = Produced()
        producer = threading.Thread(
            target=produce,
            args=(url, events, args.produce_s, seed + 1, produced),
            name=f"producer-{name}",
        )
        start = time.perf_counter()
        producer.start()
        restart = ("--start", "earliest") if control else ()
        kills = kill_loop(url, store, work / name, args.kills, args.snapshot_every, rng, restart)
        kills_done_s = time.perf_counter() - start
        producer.join()
        final = final_run(url, store, work / name, args.snapshot_every, restart)
        wall = time.perf_counter() - start
        if produced.error:
            raise RuntimeError(f"the producer failed: {produced.error}")
        result = check(store, base, replay(), produced)
        result["dead_letters"] = dead()
    finally:
        for step in cleanup:
            step()
    return {
        "event_log_url": shown,
        "events": args.events,
        "kills": len(kills),
        "kills_during_startup": sum(1 for k in kills if not k["opened"]),
        "produce_s": round(produced.seconds, 1),
        "kills_done_s": round(kills_done_s, 1),
        "records_appended": produced.records,
        "repeats_appended": produced.repeats,
        "failed_appends": produced.failed_appends,
        "final_run": final,
        "wall_s": round(wall, 1),
        **result,
        "kill_log": kills,
        "exactly_once": (
            result["lost"] == 0
            and result["double_counted"] == 0
            and result["item_scores_mismatched"] == 0
            and result["fallback_counts_mismatched"] == 0
            and result["seen_pairs_missing"] == 0
            and result["acknowledged_missing_from_log"] == 0
            and result["dead_letters"] == 0
            and final["exit_code"] == 0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--snapshot-every", type=int, default=100)
    parser.add_argument(
        "--produce-s", type=float, default=25.0, help="Seconds over which the events flow."
    )
    parser.add_argument("--backends", default="sqlite,redis,kafka")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="Do not write the results file.")
    parser.add_argument(
        "--control",
        action="store_true",
        help="Also a negative control on SQLite: restarts replay the whole log onto the "
        "snapshot (--start earliest), which the check must report as double counted.",
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    control: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tailor-crash-") as tmp:
        work = Path(tmp)
        for k, name in enumerate(b for b in args.backends.split(",") if b):
            (work / name).mkdir()
            print(f"{name}:", file=sys.stderr)
            results[name] = run_backend(name, args, work, args.seed * 100 + k)
            r = results[name]
            print(
                f"{name}: {r['kills']} kills, {r['acknowledged_events']} events, lost {r['lost']}, "
                f"double counted {r['double_counted']}, exactly once {r['exactly_once']}",
                file=sys.stderr,
            )
        if args.control:
            (work / "control" / "sqlite").mkdir(parents=True)
            print("control (restarts with --start earliest):", file=sys.stderr)
            control = run_backend("sqlite", args, work / "control", args.seed * 100 + 9, True)
            print(
                f"control: lost {control['lost']}, double counted {control['double_counted']}",
                file=sys.stderr,
            )
    payload = {
        "benchmark": "crash safety: SIGKILL tailor stream at random instants while events flow",
        "command": "python bench/streaming/crash.py " + " ".join(argv or sys.argv[1:]),
        "model": "popularity (measure=weight) on the planted data; fallback popularity (users)",
        "events": args.events,
        "snapshot_every_events": args.snapshot_every,
        "kills_during_startup_share": STARTUP_KILLS,
        "kill_after_open_s": list(KILL_AFTER_OPEN_S),
        "machine": machine(),
        "results": results,
        **({"control_start_earliest": control} if args.control else {}),
    }
    if not args.no_write:
        path = write_results("crash", payload)
        print(f"wrote {path}", file=sys.stderr)
    ok = all(r["exactly_once"] for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
