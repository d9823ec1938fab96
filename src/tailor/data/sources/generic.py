"""The generic reader: any CSV / Parquet / JSON-lines export, driven by a column mapping.

Stability: stable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.sources.config import InteractionsConfig, SourceConfig, TableConfig
from tailor.data.sources.raw import ITEM_PREFIX, USER_PREFIX, RawData
from tailor.data.validate import (
    parse_ids,
    parse_numbers,
    parse_timestamps,
    read_table,
    require_columns,
)
from tailor.errors import ConfigError

_ID_FIELDS = (Columns.USER_ID, Columns.ITEM_ID, Columns.SESSION_ID)
_NUMERIC_FIELDS = (Columns.VALUE, Columns.PRICE)
_INTERACTION_FIELDS = (*Columns.INTERACTION_REQUIRED, *Columns.INTERACTION_OPTIONAL)


def read_generic(input: Path | None, config: SourceConfig | None) -> RawData:
    """Read the tables a source config describes.

    Args:
        input: overrides ``[interactions] path``.
        config: the parsed config file (required).

    Raises:
        ConfigError: no config, or no interactions table / path.
        DataError: a file or value problem, naming file, column and row.
    """
    if config is None or config.interactions is None:
        raise ConfigError("the generic source needs --config FILE with an [interactions] table")
    path = input or config.resolve(config.interactions.path)
    if path is None:
        raise ConfigError("[interactions] has no `path`; give one or pass --input")
    interactions = read_interactions(Path(path), config.interactions)
    files = [str(path)]
    items = users = None
    if config.items is not None:
        items_path = _table_path(config, config.items, "items")
        items = read_attributes(items_path, config.items, Columns.ITEM_ID, table="items")
        files.append(str(items_path))
    if config.users is not None:
        users_path = _table_path(config, config.users, "users")
        users = read_attributes(users_path, config.users, Columns.USER_ID, table="users")
        files.append(str(users_path))
    return RawData(config.name, interactions, items, users, {"source": config.name, "files": files})


def _table_path(config: SourceConfig, table: TableConfig, name: str) -> Path:
    path = config.resolve(table.path)
    if path is None:
        raise ConfigError(f"[{name}] has no `path`")
    return path


def read_interactions(path: Path, cfg: InteractionsConfig) -> pd.DataFrame:
    """Read an interaction file and map it to the contract's columns (see RawData).

    Raises:
        ConfigError: user_id, item_id or timestamp is not mapped, or an unknown field is.
        DataError: the file or a value is bad.
    """
    mapping = dict(cfg.columns)
    for required in Columns.INTERACTION_REQUIRED:
        if required not in mapping:
            raise ConfigError(f"[interactions.columns] must map {required!r} to a column")
    unknown = sorted(set(mapping) - set(_INTERACTION_FIELDS))
    if unknown:
        raise ConfigError(
            f"[interactions.columns] has unknown fields {unknown}; "
            f"known: {list(_INTERACTION_FIELDS)} (map attributes under "
            "[interactions.item_columns] / [interactions.user_columns])"
        )
    text = [mapping[f] for f in _ID_FIELDS if f in mapping]
    frame = read_table(
        path, cfg.format, delimiter=cfg.delimiter, encoding=cfg.encoding, text_columns=text
    )
    file = str(path)
    require_columns(frame, mapping, file=file, table="interactions.columns")
    require_columns(frame, cfg.item_columns, file=file, table="interactions.item_columns")
    require_columns(frame, cfg.user_columns, file=file, table="interactions.user_columns")
    out = {}
    for field in (Columns.USER_ID, Columns.ITEM_ID):
        out[field] = parse_ids(frame[mapping[field]], file=file, column=mapping[field])
    ts_col = mapping[Columns.TIMESTAMP]
    out[Columns.TIMESTAMP] = parse_timestamps(
        frame[ts_col], cfg.timestamp_format, file=file, column=ts_col
    )
    out[Columns.EVENT_TYPE] = _event_types(frame, mapping, cfg.event_type)
    if Columns.VALUE in mapping:
        col = mapping[Columns.VALUE]
        out[Columns.VALUE] = parse_numbers(frame[col], file=file, column=col)
    else:
        out[Columns.VALUE] = pd.Series(np.full(len(frame), cfg.value), index=frame.index)
    if Columns.SESSION_ID in mapping:
        col = mapping[Columns.SESSION_ID]
        out[Columns.SESSION_ID] = parse_ids(frame[col], file=file, column=col)
    if Columns.PRICE in mapping:
        col = mapping[Columns.PRICE]
        out[Columns.PRICE] = parse_numbers(frame[col], file=file, column=col)
    for prefix, attrs in ((ITEM_PREFIX, cfg.item_columns), (USER_PREFIX, cfg.user_columns)):
        for attr, col in attrs.items():
            out[prefix + attr] = _attribute(frame[col], attr, file=file, column=col)
    return pd.DataFrame(out).reset_index(drop=True)


def _event_types(frame: pd.DataFrame, mapping: dict[str, str], constant: str | None) -> pd.Series:
    if Columns.EVENT_TYPE in mapping:
        return frame[mapping[Columns.EVENT_TYPE]].astype("str")
    return pd.Series(constant or "purchase", index=frame.index, dtype="str")


def read_attributes(path: Path, cfg: TableConfig, key: str, *, table: str) -> pd.DataFrame:
    """Read an items or users file: ``key`` plus mapped (and optionally unmapped) attributes.

    Raises:
        ConfigError: the key is not mapped.
        DataError: the file or a value is bad.
    """
    mapping = dict(cfg.columns)
    if key not in mapping:
        raise ConfigError(f"[{table}.columns] must map {key!r} to a column")
    frame = read_table(
        path,
        cfg.format,
        delimiter=cfg.delimiter,
        encoding=cfg.encoding,
        text_columns=[mapping[key]],
    )
    file = str(path)
    require_columns(frame, mapping, file=file, table=f"{table}.columns")
    out = {key: parse_ids(frame[mapping[key]], file=file, column=mapping[key])}
    for attr, col in mapping.items():
        if attr != key:
            out[attr] = _attribute(frame[col], attr, file=file, column=col)
    if cfg.keep_unmapped:
        mapped = set(mapping.values())
        for col in frame.columns:
            if col not in mapped and col not in out:
                out[str(col)] = frame[col]
    return pd.DataFrame(out).reset_index(drop=True)


def _attribute(values: pd.Series, attr: str, *, file: str, column: str) -> pd.Series:
    """Prices become numbers; every other attribute stays as read."""
    if attr == Columns.PRICE:
        return parse_numbers(values, file=file, column=column)
    return values
