"""A shop simulator: visitors with known preferences browse a running tailor (``tailor simulate``).

See docs/experiments.md.
"""
