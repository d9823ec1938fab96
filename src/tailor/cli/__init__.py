"""The ``tailor`` command line. Subcommands load lazily so ``tailor --help`` stays fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any

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


def main() -> None:
    """Console entry point: tailor's own errors become one clear line and exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TailorError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except FileNotFoundError as exc:
        click.secho(f"error: file not found: {exc.filename}", fg="red", err=True)
        sys.exit(2)
