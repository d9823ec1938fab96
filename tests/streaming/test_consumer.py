"""The consumer: micro-batches folded into the active model, lists rewritten, snapshots and
restarts that apply every event exactly once, the quality guard, new full fits."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from tailor.models import EASE
from tailor.models.base import SupportsDeferredWeights
from tailor.models.model_dir import ModelDir
from tailor.pipeline import ItemList, Pipeline
from tailor.serving.precompute import cacheable_lists
from tailor.serving.registry import ModelRegistry
from tailor.streaming.consumer import STREAM_FILE, StreamConsumer
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable, log_identity
from tailor.streaming.rules import EventRules
from tailor.streaming.settings import StreamSettings
from tailor.streaming.sqlite_log import SqliteEventLog
from tailor.testing.streaming import event, write_store


class Lists:
    """A ListWriter that keeps what it was given."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, ItemList]] = {}

    def write(self, version: str, lists: Mapping[str, ItemList]) -> bool:
        self.written.setdefault(version, {}).update(lists)
        return True

    def close(self) -> None:
        return None


def events(*raw: dict[str, object]) -> list[Event]:
    return [Event.model_validate(r) for r in raw]


@pytest.fixture
def store(tmp_path: Path) -> ModelRegistry:
    return write_store(tmp_path / "store")


def consumer(
    store: ModelRegistry, db: Path, writer: Lists | None = None, **settings: object
) -> StreamConsumer:
    url = f"sqlite:///{db}"
    made = StreamConsumer(
        SqliteEventLog(db),
        store,
        StreamSettings(model_dir=store.root, event_log_url=url, **settings),  # type: ignore[arg-type]
        log_id=log_identity(url),
        writer=writer,
    )
    made.open()
    return made


def reference(store: ModelRegistry, version: str, batch: list[Event]) -> ModelDir:
    """``version`` with ``batch`` folded in at once: what any replay must end at."""
    folder = ModelDir.load(store.path(version))
    frame = EventRules().to_frame(batch)
    folder.model.partial_fit(frame)
    assert folder.popularity is not None
    folder.popularity.partial_fit(frame)
    return folder


def test_a_step_folds_events_in_and_rewrites_only_the_touched_lists(
    store: ModelRegistry, tmp_path: Path
) -> None:
    log, lists = SqliteEventLog(tmp_path / "events.db"), Lists()
    batch = events(
        event(0, "u0", "i5"),
        event(1, "u6", "i0", "Add to cart"),
        event(0, "u0", "i5"),  # a client retry
        {**event(2, "x", "i9", "view"), "user_id": None, "session_id": "s1"},  # new item
    )
    log.append(batch)
    base = store.active()
    assert base is not None
    c = consumer(store, tmp_path / "events.db", lists, weights_refresh_s=0)  # B at once
    report = c.step()
    assert (report.polled, report.applied, report.repeats, report.dead) == (4, 3, 1, 0)
    assert set(lists.written[base]) == {"u0", "u6", "s1"}
    want = reference(store, base, [batch[0], batch[1], batch[3]])
    expected = cacheable_lists(Pipeline.build(want.model, want.popularity), ["u0", "u6"], 50)
    assert lists.written[base]["u0"] == expected["u0"]
    assert lists.written[base]["u6"] == expected["u6"]
    assert "i5" not in {item for item, _ in lists.written[base]["u0"]}
    assert c.pipeline.model is not None and "i9" in c.pipeline.model.items
    assert c.position.to_dict() == {"0": "4"}
    assert log.committed().to_dict() == {"0": "4"}


def test_a_restart_applies_every_event_exactly_once(store: ModelRegistry, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    log = SqliteEventLog(db)
    first = events(*(event(k, f"u{k % 12}", f"i{(k * 5) % 8}") for k in range(6)))
    later = events(*(event(k, f"u{k % 12}", f"i{(k * 3) % 8}", "view") for k in range(6, 10)))
    base = store.active()
    assert base is not None
    log.append(first)
    c = consumer(store, db)
    c.step()
    snap = c.snapshot()
    log.append(later)
    log.append(events(first[0]))  # a producer's duplicate, after the snapshot
    c.step()  # applied in memory, then the process dies before the next snapshot
    del c
    restarted = consumer(store, db)
    assert restarted.version == snap and restarted.position.to_dict() == {"0": "6"}
    report = restarted.step()
    assert (report.applied, report.repeats) == (4, 1)
    want = reference(store, base, first + later)
    got = restarted.pipeline.model
    assert got is not None
    for name, array in want.model.state_arrays().items():
        if array.dtype.kind == "f":  # EASE's B: one batch or two differ by float rounding
            np.testing.assert_allclose(got.state_arrays()[name], array, rtol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(got.state_arrays()[name], array, err_msg=name)
    assert restarted._folder is not None and restarted._folder.popularity is not None
    np.testing.assert_array_equal(
        restarted._folder.popularity.item_scores, want.popularity.item_scores
    )


def _ease(model: object) -> EASE:
    """The planted store's model (EASE: ``SupportsDeferredWeights``)."""
    assert isinstance(model, EASE) and isinstance(model, SupportsDeferredWeights)
    return model


def test_weights_wait_for_their_refresh_and_every_snapshot_holds_them(
    store: ModelRegistry, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    log, lists = SqliteEventLog(db), Lists()
    first = events(event(0, "u0", "i5"), event(1, "u6", "i0"))
    base = store.active()
    assert base is not None
    log.append(first)
    c = consumer(store, db, lists, weights_refresh_s=3600)
    fitted = np.array(_ease(ModelDir.load(store.path(base)).model).weights)
    c.step()
    model = _ease(c.pipeline.model)
    # the profiles took the batch, B did not: the lists are those of a deferred fold
    assert model.weights_pending and c.stats.weights_refreshes == 0
    np.testing.assert_array_equal(model.weights, fitted)
    lagging = ModelDir.load(store.path(base))
    _ease(lagging.model).partial_fit(EventRules().to_frame(first), defer_weights=True)
    assert lagging.popularity is not None
    lagging.popularity.partial_fit(EventRules().to_frame(first))
    want_lists = cacheable_lists(Pipeline.build(lagging.model, lagging.popularity), ["u0"], 50)
    assert lists.written[base]["u0"] == want_lists["u0"]
    # a snapshot refreshes first: its B is that of folding the batch in at once
    snap = c.snapshot()
    assert not model.weights_pending and c.stats.weights_refreshes == 1
    want = _ease(reference(store, base, first).model).weights
    np.testing.assert_allclose(model.weights, want, rtol=1e-5, atol=1e-7)
    saved = _ease(ModelDir.load(store.path(snap)).model).weights
    np.testing.assert_array_equal(saved, model.weights)
    assert not np.allclose(saved, fitted, atol=1e-6)  # the batch did move B


@pytest.mark.parametrize("refresh_s", [0.0, 1e-9])
def test_weights_refresh_each_batch_or_once_their_time_is_up(
    store: ModelRegistry, tmp_path: Path, refresh_s: float
) -> None:
    # 0: folded with the batch (never deferred); 1 ns: deferred, then refreshed by the step
    db = tmp_path / "events.db"
    SqliteEventLog(db).append(events(event(0, "u0", "i5")))
    c = consumer(store, db, weights_refresh_s=refresh_s)
    c.step()
    assert not _ease(c.pipeline.model).weights_pending
    assert c.stats.weights_refreshes == (0 if refresh_s == 0 else 1)
    base = store.active()
    assert base is not None
    want = _ease(reference(store, base, events(event(0, "u0", "i5"))).model).weights
    np.testing.assert_allclose(_ease(c.pipeline.model).weights, want, rtol=1e-5, atol=1e-7)


def test_a_snapshot_is_a_whole_version_with_its_position(
    store: ModelRegistry, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    SqliteEventLog(db).append(events(event(0, "u0", "i5")))
    base = store.active()
    c = consumer(store, db)
    c.step()
    name = c.snapshot()
    assert name == f"{base}.s1" and store.active() == name
    meta = json.loads((store.path(name) / STREAM_FILE).read_text())
    assert meta["position"] == {"0": "1"} and meta["base_version"] == base
    assert ModelDir.load(store.path(name)).model.seen.sum() == 37  # 36 planted pairs + 1


def test_events_the_rules_refuse_go_to_the_dead_letters(
    store: ModelRegistry, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    log = SqliteEventLog(db)
    log.append(events(event(0, "u0", "i5", "wishlist"), event(1, "u0", "i6")))
    c = consumer(store, db)
    report = c.step()
    assert (report.applied, report.dead) == (1, 1)
    assert log.dead_letters() == [(1, "unknown event type 'wishlist' (known: add_to_cart, "
                                   "click, purchase, rating, view)")]  # fmt: skip


def test_the_guard_stops_folding_in_when_lists_turn_over(
    store: ModelRegistry, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    log = SqliteEventLog(db)
    # u0 (group a) suddenly buys every item of group b, many times: its list turns over
    flood = [event(k, "u0", f"i{4 + k % 4}") for k in range(40)]
    log.append(events(*flood))
    c = consumer(store, db, guard_min_users=1, guard_min_overlap=0.5)
    c.step()
    # before: i1 and the four b items; after: i1 alone (u0 has seen all of group b)
    assert c.guard.tripped and c.guard.mean_overlap == pytest.approx(1 / 5)
    log.append(events(event(100, "u1", "i1")))
    assert c.step().polled == 0  # stopped: the event waits in the log
    assert c.source.lag() == 1


def test_a_new_full_fit_is_picked_up_at_the_same_position(
    store: ModelRegistry, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    log = SqliteEventLog(db)
    log.append(events(event(0, "u0", "i5")))
    c = consumer(store, db, reload_poll_s=0.01)
    c.step()
    newer = write_store(tmp_path / "other", "itemknn")
    active = newer.active()
    assert active is not None
    store.activate(store.publish(newer.path(active)))
    log.append(events(event(1, "u1", "i6")))
    import time

    time.sleep(0.02)
    report = c.step()
    assert c.version == active and report.applied == 1
    assert c.position.to_dict() == {"0": "2"}


class FlakySource:
    """A source whose first ``failures`` polls find the log down."""

    def __init__(self, inner: SqliteEventLog, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def poll(self, max_records: int, timeout_s: float) -> list[object]:
        if self.failures:
            self.failures -= 1
            raise LogUnavailable("the log is down")
        return self.inner.poll(max_records, timeout_s)  # type: ignore[return-value]


def test_a_log_that_is_down_is_waited_for(store: ModelRegistry, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    SqliteEventLog(db).append(events(event(0, "u0", "i5")))
    c = consumer(store, db)
    c.source = FlakySource(SqliteEventLog(db), failures=2)  # type: ignore[assignment]
    stop = threading.Event()
    c.run(stop, lambda report: stop.set() if report.applied else None)
    assert c.stats.applied == 1 and c.stats.snapshots == 1  # the last snapshot on stopping


def test_a_failed_snapshot_keeps_the_state_and_is_retried(
    store: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "events.db"
    SqliteEventLog(db).append(events(event(0, "u0", "i5")))
    c = consumer(store, db, snapshot_every_events=1)
    with monkeypatch.context() as patched:
        patched.setattr(ModelRegistry, "publish", _refuse)
        assert c.step().snapshot is None
    assert c._since_snapshot == 1 and len(store.versions()) == 1
    SqliteEventLog(db).append(events(event(1, "u1", "i6")))
    assert c.step().snapshot == f"{c.base_version}.s1"


def _refuse(*args: object, **kwargs: object) -> str:
    raise OSError(28, "No space left on device")
