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
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from tailor.data.columns import Columns
from tailor.data.validate import FileFormat, check_timestamp_format
from tailor.errors import ConfigError, format_validation_error

ColumnType: TypeAlias = Literal["id", "category", "text", "number", "flag"]
"""A declared attribute type (``[items.types]``, ``[users.types]``, ``[interactions.item_types]``
and ``[interactions.user_types]``):

- ``id``: text, exactly as written except that a whole number loses a zero fraction (``"330"``,
  never ``"330.0"``); never lower-cased, never scaled;
- ``category``: like ``id``, and a label: lower-cased when ``normalise_labels``; never scaled;
- ``text``: text as written (trimmed); never scaled;
- ``number``: a float; ``tailor data split --scale`` scales it;
- ``flag``: a boolean written ``1``/``0``, ``true``/``false`` or ``yes``/``no`` (any case);
  anything else is an error naming file, column and row; never scaled.
"""
DEFAULT_TYPES: dict[str, ColumnType] = {
    Columns.CATEGORY: "category",
    Columns.AVAILABLE: "flag",
    Columns.PRICE: "number",
}
"""Types of attributes by name when not declared; a name ending in ``_id`` is an ``id``. Other
undeclared attributes keep the type the file gives them."""
Layout: TypeAlias = Literal["wide", "long"]
LONG_COLUMNS = (Columns.ITEM_ID, Columns.TIMESTAMP, "property", "value")
"""What ``[items.columns]`` maps with ``layout = "long"``."""


def attribute_type(name: str, declared: dict[str, ColumnType]) -> ColumnType | None:
    """The declared type of an attribute, else its default by name (None: as read)."""
    if name in declared:
        return declared[name]
    if name in DEFAULT_TYPES:
        return DEFAULT_TYPES[name]
    return "id" if name.endswith("_id") else None


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
    """Items and users only: keep the file's unmapped columns (long layout: properties) as
    attributes under their own names."""
    types: dict[str, ColumnType] = {}
    """Items and users only: attribute -> declared type (see ``ColumnType``)."""

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
    event_names: dict[str, str] = {}
    """The shop's event names -> tailor's (``addtocart = "add_to_cart"``, ``transaction =
    "purchase"``); names not listed are kept as written."""
    item_columns: dict[str, str] = {}
    """Item attributes carried on each row (denormalised exports): attribute -> column."""
    user_columns: dict[str, str] = {}
    """User attributes carried on each row: attribute -> column."""
    item_types: dict[str, ColumnType] = {}
    """Declared types of ``item_columns`` attributes."""
    user_types: dict[str, ColumnType] = {}
    """Declared types of ``user_columns`` attributes."""

    @field_validator("timestamp_format")
    @classmethod
    def _usable_format(cls, value: str) -> str:
        return check_timestamp_format(value)

    @model_validator(mode="after")
    def _one_event_type(self) -> InteractionsConfig:
        if self.event_type is not None and "event_type" in self.columns:
            raise ValueError("give either a constant `event_type` or a column mapping, not both")
        if self.types:
            raise ValueError(
                "`types` declares item/user attribute types: use [interactions.item_types] / "
                "[interactions.user_types] here"
            )
        return self


class ItemsConfig(TableConfig):
    """The catalogue: one row per item (``layout = "wide"``), or a property log (``"long"``).

    With ``layout = "long"`` the file holds one row per (item, time, property, value), as
    clickstream exports ship their catalogue; ``[items.columns]`` maps ``item_id``,
    ``timestamp``, ``property`` and ``value``, and ``[items.properties]`` names the properties to
    keep (``attribute = "property name in the file"``). Prepare keeps the latest value of each
    (item, property); ``tailor data split`` re-pivots as of the split's cut.
    """

    layout: Layout = "wide"
    """``wide``: one row per item, one column per attribute; ``long``: a property log."""
    timestamp_format: str = "iso"
    """Long layout: the format of the property timestamps (as ``[interactions]``)."""
    properties: dict[str, str] = {}
    """Long layout: attribute -> property name in the file (``category = "categoryid"``)."""

    @field_validator("timestamp_format")
    @classmethod
    def _usable_format(cls, value: str) -> str:
        return check_timestamp_format(value)

    @model_validator(mode="after")
    def _long_layout(self) -> ItemsConfig:
        if self.layout == "wide":
            if self.properties:
                raise ValueError('`properties` needs layout = "long"')
            return self
        missing = [c for c in LONG_COLUMNS if c not in self.columns]
        extra = sorted(set(self.columns) - set(LONG_COLUMNS))
        if missing or extra:
            raise ValueError(
                f'layout = "long": [items.columns] maps exactly {", ".join(LONG_COLUMNS)} '
                f"(missing: {missing or 'none'}; not for the long layout: {extra or 'none'}); "
                "name the properties to keep in [items.properties]"
            )
        if not self.properties and not self.keep_unmapped:
            raise ValueError(
                'layout = "long" keeps no property: map some in [items.properties] '
                '(e.g. category = "categoryid") or set keep_unmapped = true'
            )
        names = list(self.properties.values())
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"[items.properties] maps the properties {repeated} more than once")
        if Columns.ITEM_ID in self.properties:
            raise ValueError("[items.properties] cannot define item_id")
        return self


class SourceConfig(BaseModel):
    """A whole source config file.

    Attributes are the TOML tables; ``base_dir`` (the config file's folder) resolves relative paths.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "generic"
    """A name for provenance (top-level key ``name``)."""
    interactions: InteractionsConfig | None = None
    items: ItemsConfig | None = None
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


def read_config_file(path: Path) -> dict[str, Any]:
    """The tables of a TOML config file (sources, training pipelines).

    Raises:
        ConfigError: the file is missing or not TOML.
    """
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: Path | str) -> SourceConfig:
    """Read and validate a source config TOML file.

    Raises:
        ConfigError: the file is missing, not TOML, or has unknown or invalid options.
    """
    path = Path(path)
    table = read_config_file(path)
    try:
        return SourceConfig.model_validate({**table, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}") from None
