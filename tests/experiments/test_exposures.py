"""ExposureLog: queued without I/O, flushed in the background, never raising."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tailor.experiments.exposures import ExposureLog, exposure_events
from tailor.streaming.events import Event
from tailor.streaming.log import LogUnavailable


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[Event]] = []
        self.fail = fail

    def append(self, events: Sequence[Event]) -> None:
        if self.fail:
            raise LogUnavailable("down")
        self.batches.append(list(events))

    def close(self) -> None:
        pass


def test_one_event_per_item_with_its_rank() -> None:
    events = exposure_events("u1", "ab:exp:b", ["i3", "i1"], 1_790_000_000.0)
    assert [(e.event_id, e.item_id, e.value, e.type) for e in events] == [
        ("ab:exp:b:1", "i3", 1.0, "exposure"),
        ("ab:exp:b:2", "i1", 2.0, "exposure"),
    ]
    assert {(e.user_id, e.recommendation_id, e.timestamp.timestamp()) for e in events} == {
        ("u1", "ab:exp:b", 1_790_000_000.0)
    }


def test_lists_are_flushed_in_batches_and_failures_are_counted() -> None:
    async def scenario() -> tuple[Sink, ExposureLog, Sink, ExposureLog]:
        sink = Sink()
        log = ExposureLog(sink, flush_s=0.01, max_pending=3)
        log.start()
        log.add("u1", "r1:e:a", ["i1", "i2"], 1.0)
        log.add("u2", "r2:e:b", [], 2.0)  # an empty list logs nothing
        await asyncio.sleep(0.1)
        for k in range(5):  # the flusher is asleep: the 4th and 5th do not fit
            log.add("u3", f"r{k}:e:a", ["i1"], 3.0)
        await log.stop()
        down = Sink(fail=True)
        failing = ExposureLog(down)
        failing.add("u1", "r1:e:a", ["i1", "i2"], 1.0)
        assert await failing.flush() == 0  # never raises
        return sink, log, down, failing

    sink, log, _, failing = asyncio.run(scenario())
    assert [len(b) for b in sink.batches] == [2, 3]
    assert (log.logged, log.dropped) == (5, 2)
    assert (failing.logged, failing.dropped) == (0, 1)
