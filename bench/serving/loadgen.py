"""An open-loop (constant-rate) HTTP/1.1 load generator on raw asyncio streams.

Request k is due at ``t0 + k / rate`` whether or not earlier answers came back, and its latency
is measured from that due time, so a stalled server shows up as latency instead of silently
lowering the offered rate (no coordinated omission). Connections are kept alive and reused; a
request waits for a free connection if all ``connections`` are busy, and that wait counts.
Raw streams rather than httpx keep the client's own CPU cost small on a 2-core machine.

The generator must not stall itself: a request sent late because the client was busy counts as
server latency. So ``warm`` connections are opened before the clock starts, and the client's heap
(the benchmark process also holds pandas, the fitted model...) is frozen out of the garbage
collector for the run: a full collection of it took 40-50 ms and showed up as a burst of slow
requests. Nothing is dropped from the results.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    """One request: when it was due (seconds from start), its latency, status and source."""

    due: float
    latency: float
    status: int
    source: str


SOURCES = (b"cache", b"model", b"fallback", b"cold_start")


def _source_of(body: bytes) -> str:
    start = body.find(b'"source":"')
    if start < 0:
        return "-"
    end = body.find(b'"', start + 10)
    return body[start + 10 : end].decode()


class _Pool:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.opened = 0

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.free.empty() and self.opened < self.size:
            self.opened += 1
            return await asyncio.open_connection(self.host, self.port)
        return await self.free.get()

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.free.put_nowait(conn)

    def drop(self) -> None:
        self.opened -= 1

    async def open(self, count: int) -> None:
        """Open ``count`` connections now (before the clock starts) and make them free."""
        count = min(count, self.size - self.opened)
        conns = await asyncio.gather(
            *(asyncio.open_connection(self.host, self.port) for _ in range(count))
        )
        self.opened += count
        for conn in conns:
            self.put(conn)


async def _one(pool: _Pool, request: bytes) -> tuple[int, bytes]:
    conn = await pool.get()
    reader, writer = conn
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        writer.close()
        pool.drop()
        return 0, b""
    pool.put(conn)
    return status, body


async def run(
    host: str,
    port: int,
    paths: Sequence[str],
    rate: float,
    duration: float,
    *,
    connections: int = 64,
    warm: int = 16,
    headers: str = "",
    timeline: Callable[[float], None] | None = None,
) -> list[Result]:
    """Send ``rate * duration`` GETs for ``paths`` (cycled) at a constant rate.

    ``warm`` connections (at most ``connections``) are opened before the first due time; more
    are opened during the run when all are busy.
    """
    pool = _Pool(host, port, connections)
    results: list[Result] = []
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() for p in paths]
    total = int(rate * duration)
    await pool.open(warm)
    gc.collect()
    gc.freeze()  # the generator's own full GC passes must not delay the schedule
    try:
        await _schedule(pool, requests, rate, total, results, timeline)
    finally:
        gc.unfreeze()
    while not pool.free.empty():
        pool.free.get_nowait()[1].close()
    return results


async def _schedule(
    pool: _Pool,
    requests: list[bytes],
    rate: float,
    total: int,
    results: list[Result],
    timeline: Callable[[float], None] | None,
) -> None:
    """Fire request k at ``t0 + k / rate`` and wait for all answers."""
    t0 = time.perf_counter()

    async def fire(k: int, due: float) -> None:
        status, body = await _one(pool, requests[k % len(requests)])
        results.append(Result(due - t0, time.perf_counter() - due, status, _source_of(body)))

    tasks = []
    for k in range(total):
        due = t0 + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if timeline is not None:
            timeline(due - t0)
        tasks.append(asyncio.create_task(fire(k, due)))
    await asyncio.gather(*tasks)
