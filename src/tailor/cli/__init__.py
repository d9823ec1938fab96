"""The ``tailor`` command line. Subcommands load lazily so ``tailor --help`` stays fast."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from tailor.errors import TailorError

COMMANDS: dict[str, str] = {
    "data": "tailor.cli.data:data",
    "demo": "tailor.cli.demo:demo",
    "evaluate": "tailor.cli.evaluate:evaluate",
    "fit": "tailor.cli.fit:fit",
    "recommend": "tailor.cli.fit:recommend",
    "serve": "tailor.cli.serve:serve",
}
"""name -> "module:attribute" of each top-level command."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> Any:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("tailor.cli."):
                return None  # that command is not part of this build
            raise


@click.group(cls=LazyGroup)
@click.version_option(package_name="tailor")
def cli() -> None:
    """tailor: personalized product recommendations for online shops."""


def main(args: Sequence[str] | None = None) -> None:
    """Console entry point: every failure on bad input becomes one line on stderr and exit status 2.

    tailor's own errors, click's usage errors, and the operating system's (a path under a file, a
    read-only folder, a folder where a file belongs, a full disk), a truncated compressed file and
    running out of memory all print ``error: ...`` as one line. Only Ctrl-C exits 130.

    Args:
        args: the command line without the program name; default ``sys.argv[1:]``.
    """
    try:
        cli.main(args=args, prog_name="tailor", standalone_mode=False)
    except click.exceptions.Abort as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, EOFError):  # click turns an EOFError into Abort
            _fail(f"unexpected end of input: {_first_line(cause)}")
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(f"{exc.format_message()}{hint}")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except TailorError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(describe_os_error(exc))
    except EOFError as exc:
        _fail(f"unexpected end of input: {_first_line(exc)}")
    except MemoryError:
        _fail("out of memory: use a smaller input or option, or a machine with more memory")


def describe_os_error(exc: OSError) -> str:
    """``PATH: problem`` (``SRC -> DST: problem`` for a rename) from an OSError, on one line."""
    problem = exc.strerror or _first_line(exc)
    if exc.filename is None:
        return problem
    where = str(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {exc.filename2}"
    return f"{where}: {problem}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(message: str) -> NoReturn:
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    click.secho(f"error: {one_line}", fg="red", err=True)
    sys.exit(2)
