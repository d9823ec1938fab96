"""The source config file: how to read a shop's export into tailor's contract, without code.

One TOML file holds up to three tables (``[interactions]``, ``[items]``, ``[users]``), each a file
plus a column mapping ``contract name = "column in the file"``, and the ``[cleaning]`` table read
by :class:`tailor.data.cleaning.CleaningConfig`. ``configs/sources/example-generic.toml`` documents
every option with its default.

Stability: stable.
"""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from tailor.data.validate import FileFormat, check_timestamp_format
from tailor.errors import ConfigError


class TableConfig(BaseModel):
    """One input file and its column mapping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    """The file, relative to the config file's folder (``--input`` overrides it for
    interactions)."""
    format: FileFormat | None = None
    """``csv``, ``parquet`` or ``jsonl``; inferred from the file name when unset."""
    delimiter: str = ","
    """CSV field separator."""
    encoding: str = "utf-8"
    """Text encoding of CSV and JSON-lines files."""
    columns: dict[str, str] = {}
    """Contract name -> column in the file, e.g. ``user_id = "CustomerID"``."""
    keep_unmapped: bool = False
    """Items and users only: keep the file's unmapped columns as attributes under their own
    names."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; use a Python codec name such as 'utf-8', "
                "'latin-1' or 'cp1252'"
            ) from None
        return value


class InteractionsConfig(TableConfig):
    """The interaction log: required ``user_id``, ``item_id`` and ``timestamp`` mappings."""

    timestamp_format: str = "iso"
    """A ``strftime`` format such as ``"%Y-%m-%d %H:%M:%S"`` (fastest), ``"iso"``, ``"unix"``
    (seconds), ``"unix_ms"``, ``"unix_us"`` or ``"unix_ns"``; checked when the file is loaded."""
    event_type: str | None = None
    """A constant event type for every row, when the file has no event column."""
    value: float = 1.0
    """The value of every row when ``value`` is not mapped."""
    item_columns: dict[str, str] = {}
    """Item attributes carried on each row (denormalised exports): attribute -> column."""
    user_columns: dict[str, str] = {}
    """User attributes carried on each row: attribute -> column."""

    @field_validator("timestamp_format")
    @classmethod
    def _usable_format(cls, value: str) -> str:
        return check_timestamp_format(value)

    @model_validator(mode="after")
    def _one_event_type(self) -> InteractionsConfig:
        if self.event_type is not None and "event_type" in self.columns:
            raise ValueError("give either a constant `event_type` or a column mapping, not both")
        return self


class SourceConfig(BaseModel):
    """A whole source config file.

    Attributes are the TOML tables; ``base_dir`` (the config file's folder) resolves relative paths.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "generic"
    """A name for provenance (top-level key ``name``)."""
    interactions: InteractionsConfig | None = None
    items: TableConfig | None = None
    users: TableConfig | None = None
    cleaning: dict[str, Any] = {}
    """Options of :class:`tailor.data.cleaning.CleaningConfig`, validated there."""
    base_dir: Path = Path()

    def resolve(self, path: str | None) -> Path | None:
        """A path from the config, relative to the config file's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def load_config(path: Path | str) -> SourceConfig:
    """Read and validate a source config TOML file.

    Raises:
        ConfigError: the file is missing, not TOML, or has unknown or invalid options.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return SourceConfig.model_validate({**table, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    """A pydantic error as one line: ``interactions.columns: problem; ...``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
