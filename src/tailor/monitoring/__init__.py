"""Drift and data-quality monitoring (docs/monitoring.md): scheduled checks of the live events
and the served model against the last weeks and the training data, with alerts to the log, a
webhook and Prometheus.

- :mod:`tailor.monitoring.checks`: the statistics and the checks, pure functions over pandas
  frames and arrays (no I/O), each returning :class:`~tailor.monitoring.checks.CheckResult`.
- :mod:`tailor.monitoring.config`: the ``[monitoring]`` table of the shared settings file.
- :mod:`tailor.monitoring.alerts`: the sinks (structured log, webhook, Prometheus gauges).
- :mod:`tailor.monitoring.state`: the monitor's own SQLite file (recent events, its log
  position, references, counter samples).
- :mod:`tailor.monitoring.runner`: one run: read new events, load the active model, run the
  checks, send the alerts (what ``tailor monitor`` schedules).

Nothing is imported eagerly here.
"""
