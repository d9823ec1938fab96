"""Graceful shutdown of ``tailor serve``: every request already sent is answered, then exit 0.

On SIGTERM uvicorn closes its listening socket at once: connections the kernel had accepted but
uvicorn had not yet taken from the backlog are reset, and connections whose request was not read
yet are closed (26 of 64 concurrent requests were lost that way under load). :class:`DrainingServer`
instead keeps accepting and answering until no request has been in flight for ``QUIET_S``
(everything queued has been read and answered), for at most half of ``shutdown_grace_s``; then
uvicorn's own graceful shutdown finishes what is left within the rest of the grace period.
Meanwhile ``/health/ready`` answers 503 so a load balancer stops sending. A second signal stops
at once (uvicorn's graceful shutdown; a third forces it).

The process exits 0 after a signal-initiated shutdown: the signal asked for exactly this.
Multi-worker mode (``--workers N``) runs uvicorn's own supervisor, whose workers do not drain
this way (they get ``timeout_graceful_shutdown`` only).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from types import FrameType
from typing import Any

import uvicorn

from tailor.errors import ConfigError
from tailor.logging import get_logger

_log = get_logger(__name__)

QUIET_S = 0.3
"""No request in flight and none started for this long: the queue is empty, stop accepting."""

_DRAINING = threading.Event()
"""Set when this process received its shutdown signal (a process-wide fact, hence global)."""


def draining() -> bool:
    """Whether this process is shutting down (``/health/ready`` then answers 503)."""
    return _DRAINING.is_set()


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains its queue before it stops accepting (see the module)."""

    def __init__(self, config: uvicorn.Config, grace_s: int) -> None:
        super().__init__(config)
        self.grace_s = grace_s
        self._drain_start: float | None = None
        self._quiet_since: float | None = None
        self._requests_seen = 0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in _captured_signals: uvicorn would re-raise it after the shutdown and
        # the process would die by the signal instead of exiting 0.
        if self._drain_start is None:
            self._drain_start = time.monotonic()
            _DRAINING.set()
            _log.info("shutdown_draining", signal=sig, grace_s=self.grace_s)
            return
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_start is not None and not self.should_exit:
            self._drain_tick(time.monotonic())
        return await super().on_tick(counter)

    def _drain_tick(self, now: float) -> None:
        assert self._drain_start is not None
        state = self.server_state
        busy = bool(state.tasks) or state.total_requests != self._requests_seen
        self._requests_seen = state.total_requests
        if busy:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        quiet = self._quiet_since is not None and now - self._quiet_since >= QUIET_S
        if quiet or now >= self._drain_start + self.grace_s / 2:
            # what is left of the grace period goes to requests still running
            left = self._drain_start + self.grace_s - now
            self.config.timeout_graceful_shutdown = max(1, math.floor(left))
            self.should_exit = True
            _log.info("shutdown_stop_accepting", drained_s=round(now - self._drain_start, 3))


def run_server(app: Any, *, host: str, port: int, workers: int, grace_s: int) -> None:
    """Serve ``app`` (an ASGI app, or an import string of a factory with ``workers > 1``)."""
    # no access log: at log level warning uvicorn prints none, yet builds its arguments per request
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
    }
    if workers > 1:
        # every worker writes its metrics to files in a fresh folder, which /metrics aggregates
        # (a folder left from an earlier run would add its counts); set before workers start
        with tempfile.TemporaryDirectory(prefix="tailor-metrics-") as folder:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
            try:
                uvicorn.run(
                    app, factory=True, workers=workers, timeout_graceful_shutdown=grace_s, **kwargs
                )
            finally:
                os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return
    config = uvicorn.Config(app, timeout_graceful_shutdown=grace_s, **kwargs)
    server = DrainingServer(config, grace_s)
    server.run()
    if not server.started:  # e.g. the port is taken; uvicorn logged why
        raise ConfigError(f"the server could not start on {host}:{port} (see the log above)")
