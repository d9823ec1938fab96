"""Readers: built-in sources and the generic, config-driven one, behind a small registry.

Stability: stable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailor.data.sources import movielens, online_retail
from tailor.data.sources.config import SourceConfig, load_config
from tailor.data.sources.generic import read_generic
from tailor.data.sources.raw import RawData
from tailor.errors import ConfigError

Reader = Callable[[Path | None, SourceConfig | None], RawData]


@dataclass(frozen=True)
class Source:
    """A named reader plus the cleaning options that suit its data.

    Attributes:
        name: what the CLI calls it.
        read: ``read(input, config) -> RawData``.
        cleaning_defaults: CleaningConfig options that differ from the general defaults;
            a config file's ``[cleaning]`` table overrides them.
        description: one line for ``--help``.
    """

    name: str
    read: Reader
    description: str
    cleaning_defaults: Mapping[str, Any] = field(default_factory=dict)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            online_retail.NAME,
            online_retail.read_online_retail,
            "UCI Online Retail (bundled; --input for the original CSV)",
            online_retail.CLEANING_DEFAULTS,
        ),
        Source(
            movielens.NAME,
            movielens.read_movielens,
            "MovieLens 100K ratings (--input FOLDER)",
        ),
        Source("generic", read_generic, "any CSV/Parquet/JSONL export (--config FILE)"),
    )
}


def get_source(name: str) -> Source:
    """The registered source called ``name``.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None


def read_source(
    name: str,
    input: Path | str | None = None,
    config: Path | str | SourceConfig | None = None,
) -> RawData:
    """Read a source as it is (no cleaning).

    Args:
        name: ``online-retail``, ``movielens-100k`` or ``generic``.
        input: a file or folder overriding the source's default input.
        config: a source config file (or an already loaded one).
    """
    source = get_source(name)
    return source.read(
        Path(input) if input is not None else None,
        as_config(config),
    )


def as_config(config: Path | str | SourceConfig | None) -> SourceConfig | None:
    """Load a config path, pass a loaded config through."""
    if config is None or isinstance(config, SourceConfig):
        return config
    return load_config(config)


__all__ = [
    "SOURCES",
    "RawData",
    "Source",
    "SourceConfig",
    "get_source",
    "load_config",
    "read_source",
]
