"""A/B tests (docs/experiments.md): experiments declared in TOML, deterministic assignment by
hashing, exposures logged by the server, and the analysis (attributed KPIs per variant,
confidence intervals, an always-valid sequential test, the sample-ratio check, power).

The modules the server imports (``config``, ``assignment``, ``exposures``) stay light; the
analysis (``analysis``, ``stats``, ``report``) needs pandas, scipy and plotly and is imported
only by ``tailor abtest``. Nothing is imported eagerly here.
"""
