"""Running the ``tailor`` command line in-process, as tests and notebooks do."""

from __future__ import annotations

from tailor.cli import main


def run_cli(*args: object) -> int:
    """Run ``tailor ARGS...`` through its real entry point (one-line errors, exit codes) and
    return the exit status; output goes where click writes it (capture with pytest's capsys)."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
