"""Where check results go: the structured log, a webhook and Prometheus gauges.

- :class:`LogSink`: ``monitor_alert`` (warning) for each alert, ``monitor_resolved`` (info)
  when a check leaves alert, with the check, value, threshold, window and message as fields.
- :class:`WebhookSink`: one POST per run with the run's alerts and resolutions as JSON
  (:func:`webhook_payload`); a failure (refused, timed out, non-2xx) is logged, never raised.
- :class:`MonitorMetrics`: ``tailor_monitor_check_value{check}`` (the statistic; NaN when
  skipped), ``tailor_monitor_alert{check}`` (1 in alert, else 0) and
  ``tailor_monitor_last_run_timestamp_seconds``, in a registry of their own (served by
  ``tailor monitor --metrics-port``) or in one given (a server's, to show them on its
  ``/metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tailor.logging import get_logger
from tailor.monitoring.checks import CheckResult

_log = get_logger(__name__)

WEBHOOK_SOURCE = "tailor-monitor"


@dataclass(frozen=True)
class Notice:
    """What one run reports to the log and the webhook: new alerts and resolutions."""

    alerts: list[CheckResult]
    resolved: list[CheckResult]

    def __bool__(self) -> bool:
        return bool(self.alerts or self.resolved)


def notices(
    results: Sequence[CheckResult], previous: Mapping[str, str], notify: str = "change"
) -> Notice:
    """The alerts and resolutions to send for ``results`` given each check's ``previous``
    status (by :attr:`CheckResult.key`). ``notify="change"``: an alert only when the check
    was not in alert at the previous run; ``"every"``: every alert. A check in alert before
    and ``ok`` now is resolved (a skipped check keeps its state)."""
    alerts = [
        r for r in results if r.alert and (notify == "every" or previous.get(r.key) != "alert")
    ]
    resolved = [r for r in results if r.status == "ok" and previous.get(r.key) == "alert"]
    return Notice(alerts, resolved)


class LogSink:
    """Alerts and resolutions as structured log lines."""

    def send(self, notice: Notice) -> None:
        for r in notice.alerts:
            _log.warning("monitor_alert", **_fields(r))
        for r in notice.resolved:
            _log.info("monitor_resolved", **_fields(r))


def _fields(result: CheckResult) -> dict[str, Any]:
    data = result.as_dict()
    return {k: data[k] for k in ("check", "value", "threshold", "window_start", "window_end")} | {
        "text": result.message
    }


def webhook_payload(notice: Notice, at: float | None = None) -> dict[str, Any]:
    """The webhook's JSON body: ``{"source", "sent_at", "alerts": [...], "resolved": [...]}``,
    each entry :meth:`CheckResult.as_dict` (check, name, subject, status, value, threshold,
    window_start, window_end, message, details)."""
    sent = time.time() if at is None else at
    return {
        "source": WEBHOOK_SOURCE,
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent)),
        "alerts": [r.as_dict() for r in notice.alerts],
        "resolved": [r.as_dict() for r in notice.resolved],
    }


class WebhookSink:
    """POSTs a run's notice as JSON to ``url`` (nothing when there is nothing to say)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url, self.timeout_s = url, timeout_s

    def send(self, notice: Notice) -> bool:
        """True when the webhook answered 2xx; a failure is logged (``monitor_webhook_failed``,
        without the URL, which may hold a token) and False returned."""
        if not notice:
            return True
        import httpx

        try:
            answer = httpx.post(self.url, json=webhook_payload(notice), timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            _log.warning("monitor_webhook_failed", error=type(exc).__name__, detail=str(exc))
            return False
        if not answer.is_success:
            _log.warning("monitor_webhook_failed", status=answer.status_code)
            return False
        return True


class MonitorMetrics:
    """The monitor's Prometheus gauges, in ``registry`` (default: a private one)."""

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        self.registry = registry if registry is not None else CollectorRegistry()
        self.value = Gauge(
            "tailor_monitor_check_value",
            "The statistic of each monitoring check at its last run (NaN: skipped).",
            ["check"],
            registry=self.registry,
        )
        self.alert = Gauge(
            "tailor_monitor_alert",
            "1 when the check is in alert at its last run, else 0.",
            ["check"],
            registry=self.registry,
        )
        self.last_run = Gauge(
            "tailor_monitor_last_run_timestamp_seconds",
            "When the monitor last finished a run (unix time).",
            registry=self.registry,
        )

    def update(self, results: Sequence[CheckResult], at: float | None = None) -> None:
        """Set both gauges for every result (a check's label stays once it appeared)."""
        for r in results:
            self.value.labels(r.key).set(r.value)
            self.alert.labels(r.key).set(1.0 if r.alert else 0.0)
        self.last_run.set(time.time() if at is None else at)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Serve the registry on ``http://addr:port/metrics`` (a daemon thread)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
