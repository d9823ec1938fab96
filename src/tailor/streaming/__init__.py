"""Live events: the event log, the consumer that folds events into models (``tailor stream``).

See docs/streaming.md.
"""
