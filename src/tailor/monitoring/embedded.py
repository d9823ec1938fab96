"""The monitor as a thread of another process (a server), its gauges in that process's registry.

``tailor monitor`` is the usual way to run the checks. A process that already serves
Prometheus metrics can run them itself instead::

    thread = MonitorThread(settings, registry=metrics.registry)   # e.g. ServingMetrics'
    thread.start()
    ...
    thread.stop()

so that ``tailor_monitor_check_value`` and ``tailor_monitor_alert`` appear on that process's
``/metrics``. One run every ``settings.every`` seconds; a run that fails is logged
(``monitor_run_failed``) and the next one tried, never raised into the host.
"""

from __future__ import annotations

import threading
from typing import Any

from tailor.logging import get_logger
from tailor.monitoring.alerts import MonitorMetrics
from tailor.monitoring.config import MonitorSettings
from tailor.monitoring.runner import Monitor, RunReport

_log = get_logger(__name__)


class MonitorThread:
    """Runs :meth:`Monitor.run_once` every ``settings.every`` seconds in a daemon thread."""

    def __init__(self, settings: MonitorSettings, registry: Any = None) -> None:
        self.settings = settings
        self.metrics = MonitorMetrics(registry)
        self.last: RunReport | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tailor-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the run in progress (waiting at most ``timeout_s``)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        monitor = Monitor(self.settings, metrics=self.metrics)
        try:
            while not self._stop.is_set():
                try:
                    self.last = monitor.run_once()
                except Exception as exc:  # the host process must outlive a failed run
                    _log.warning("monitor_run_failed", error=type(exc).__name__, detail=str(exc))
                self.runs += 1
                if self._stop.wait(self.settings.every):
                    break
        finally:
            monitor.close()
