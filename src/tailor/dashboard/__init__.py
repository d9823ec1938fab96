"""The KPI dashboard's library (docs/dashboard.md): KPIs over time from the event log
(:mod:`~tailor.dashboard.kpis`), a read-only tail of the SQLite event log
(:mod:`~tailor.dashboard.eventlog`) and the server's own counters sampled into a ring buffer
(:mod:`~tailor.dashboard.sampler`). The HTTP routes are ``tailor.serving.routes.dashboard``.
Nothing is imported eagerly here."""
