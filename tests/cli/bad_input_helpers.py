"""Run ``tailor`` in-process through :func:`tailor.cli.main`, so its error handling applies.

``CliRunner().invoke(cli, ...)`` skips ``main``: it neither prints tailor's one-line errors nor sets
exit status 2. These helpers wrap ``main`` in a click command so CliRunner captures its stdout,
stderr and exit status, exactly what a shell would see.
"""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner, Result

from tailor.cli import main


class _Main(click.Command):
    """A command whose ``main`` is tailor's console entry point."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        main(list(args or ()))


def tailor(*args: object) -> Result:
    """``tailor ARGS`` in-process: the result's ``exit_code``, ``stdout`` and ``stderr``."""
    return CliRunner().invoke(_Main("tailor"), [str(a) for a in args])


def error_line(result: Result) -> str:
    """The one stderr line of a command that failed on bad input (exit status 2)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}: {result.stderr}"
    )
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines  # no blank line either (a progress display's last newline)
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
