"""Options shared by several commands."""

from __future__ import annotations

import click

FORCE = click.option(
    "--force",
    is_flag=True,
    help="Replace --out even when it is a non-empty folder that tailor did not create.",
)
"""Commands that write a folder refuse a foreign non-empty one unless given this flag."""
