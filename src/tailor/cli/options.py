"""Options and terminal plumbing shared by several commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress

from tailor.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import ProgressColumn

F = TypeVar("F", bound=Callable[..., Any])

FORCE = click.option(
    "--force",
    is_flag=True,
    help="Replace --out even when it is a non-empty folder that tailor did not create.",
)
"""Commands that write a folder refuse a foreign non-empty one unless given this flag."""


def out_folder(help: str) -> Callable[[F], F]:
    """``--out FOLDER`` (required; written whole or not at all) followed by ``--force``: the
    options of every command that writes a folder."""

    def decorate(command: F) -> F:
        folder = click.Path(path_type=Path, file_okay=False)
        return click.option("--out", required=True, type=folder, help=help)(FORCE(command))

    return decorate


def parse_ks(text: str, max_k: int | None = None) -> list[int]:
    """``--k``: comma-separated list lengths, sorted and distinct, each at least 1 (and at most
    ``max_k`` when given).

    Raises:
        ConfigError: not integers, none, one below 1 or one above ``max_k``.
    """
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--k must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ConfigError(f"--k must be positive integers, got {text!r}")
    if max_k is not None and ks[-1] > max_k:
        raise ConfigError(f"--k: {ks[-1]} is more than {max_k}, the longest list evaluated")
    return ks


@contextmanager
def stderr_progress(*columns: ProgressColumn) -> Iterator[Progress]:
    """A transient rich progress display with ``columns`` on stderr, shown only on a terminal,
    so that logs stay clean and no stray last newline precedes an error line."""
    console = Console(stderr=True)
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        yield progress
