"""The dashboard's read-only view of the SQLite event log: incremental reads, repeats, the
bound, remembered documents, the consumer's lag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard_planted import planted_events

from tailor.dashboard.eventlog import LogView
from tailor.streaming.sqlite_log import SqliteEventLog

NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


def test_the_view_reads_what_is_new_and_keeps_the_newest(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "events.db")
    events = planted_events(NOW)
    log.append(events[:5])
    view = LogView(tmp_path / "events.db", max_events=8, ttl_s=60)
    assert view.frame()["event_id"].tolist() == [e.event_id for e in events[:5]]
    log.append([*events[5:], events[0]])  # a repeat of e1 (a client retry) is dropped
    assert view.frame()["event_id"].tolist() == [e.event_id for e in events[5:]]  # newest 8
    calls = []
    first = view.memo("n", lambda f: calls.append(1) or len(f))
    log.append([events[0].model_copy(update={"event_id": "late"})])
    assert view.memo("n", lambda f: calls.append(1) or len(f)) == first == 8  # remembered
    assert calls == [1]
    assert view.memo("n", lambda f: f["event_id"].iloc[-1], ttl_s=0) == "late"
    log.close()


def test_lag_counts_events_after_the_consumers_offset(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "events.db", consumer="tailor-stream")
    events = planted_events(NOW)
    view = LogView(tmp_path / "events.db")
    empty = view.tail.lag("tailor-stream", now=1000.0)
    assert (empty.events, empty.oldest_s, empty.consumer, empty.newest_s) == (0, None, False, None)
    log.append(events[:4])
    log.append(events[4:6])
    batch = log.poll(4, 0.0)
    log.commit(batch)
    lag = view.tail.lag("tailor-stream")
    assert lag.consumer is True and lag.events == 2
    assert lag.oldest_s is not None and 0 <= lag.oldest_s < 60
    assert view.tail.lag("someone-else").events == 6
    log.close()
    assert timedelta(seconds=lag.newest_s or 0) < timedelta(minutes=1)
