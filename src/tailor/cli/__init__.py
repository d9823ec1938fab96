"""The ``tailor`` command line. Subcommands load lazily so ``tailor --help`` stays fast."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from tailor import __version__
from tailor.errors import TailorError

DISTRIBUTION = "tailor-recsys"
"""The name on the package index (``tailor`` there belongs to another project)."""

COMMANDS: dict[str, tuple[str, str]] = {
    "abtest": ("tailor.cli.abtest:abtest", "A/B test reports (KPIs, sequential test) and power."),
    "backtest": ("tailor.cli.backtest:backtest", "Score a model over rolling cut dates."),
    "data": ("tailor.cli.data:data", "Profile, prepare (clean) and split interaction data."),
    "demo": ("tailor.cli.demo:demo", "Run the whole pipeline on the bundled Online Retail data."),
    "evaluate": ("tailor.cli.evaluate:evaluate", "Evaluate a recommendation file against truth."),
    "fit": ("tailor.cli.fit:fit", "Fit a model and its popularity fallback into a folder."),
    "monitor": ("tailor.cli.monitor:monitor", "Drift and data-quality checks with alerts."),
    "recommend": ("tailor.cli.fit:recommend", "Write the top-K items for many users."),
    "serve": ("tailor.cli.serve:serve", "Serve recommendations over HTTP; manage model versions."),
    "simulate": ("tailor.cli.simulate:simulate", "Send simulated shop visitors to a server."),
    "stream": ("tailor.cli.stream:stream", "Fold live events into the served model (consumer)."),
    "train": ("tailor.cli.train:train", "Tune, choose, gate and publish a model (one TOML file)."),
    "tune": ("tailor.cli.tune:tune", "Search a model's hyperparameters on a validation split."),
}
"""name -> ("module:attribute", one-line help) of each top-level command. The help is written
here so that ``tailor --help`` lists the commands without importing any of them."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target[0].split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.version_option(__version__, package_name=DISTRIBUTION)
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
