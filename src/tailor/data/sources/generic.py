"""The generic reader: any CSV / Parquet / JSON-lines export, driven by a column mapping.

Stability: stable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data import properties as props
from tailor.data.columns import Columns
from tailor.data.ids import normalise_ids
from tailor.data.sources.config import (
    ColumnType,
    InteractionsConfig,
    ItemsConfig,
    SourceConfig,
    TableConfig,
    attribute_type,
)
from tailor.data.sources.raw import ITEM_PREFIX, USER_PREFIX, RawData
from tailor.data.validate import (
    parse_ids,
    parse_numbers,
    parse_timestamps,
    parse_typed,
    read_table,
    require_columns,
)
from tailor.errors import ConfigError, DataError

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
    interactions = read_raw_interactions(Path(path), config.interactions)
    files = [str(path)]
    items = users = log = None
    cfg = config.interactions
    types = {
        "items": _types(cfg.item_columns, cfg.item_types),
        "users": _types(cfg.user_columns, cfg.user_types),
    }
    if config.items is not None:
        items_path = _table_path(config, config.items, "items")
        if config.items.layout == "long":
            log = read_property_log(items_path, config.items)
            items = props.pivot_latest(log)
            types["items"].update(props.property_types(log))
        else:
            items = read_attributes(items_path, config.items, Columns.ITEM_ID, table="items")
            types["items"].update(_types(config.items.columns, config.items.types))
        files.append(str(items_path))
    if config.users is not None:
        users_path = _table_path(config, config.users, "users")
        users = read_attributes(users_path, config.users, Columns.USER_ID, table="users")
        types["users"].update(_types(config.users.columns, config.users.types))
        files.append(str(users_path))
    return RawData(
        config.name,
        interactions,
        items,
        users,
        {"source": config.name, "files": files},
        item_properties=log,
        types={table: t for table, t in types.items() if t},
    )


def _types(mapping: dict[str, str], declared: dict[str, ColumnType]) -> dict[str, str]:
    """Attribute -> type for the mapped attributes that have one (declared or by name)."""
    out = {}
    for attr in mapping:
        kind = attribute_type(attr, declared)
        if kind is not None and attr not in (Columns.ITEM_ID, Columns.USER_ID):
            out[attr] = str(kind)
    return out


def _table_path(config: SourceConfig, table: TableConfig, name: str) -> Path:
    path = config.resolve(table.path)
    if path is None:
        raise ConfigError(f"[{name}] has no `path`")
    return path


def read_raw_interactions(path: Path, cfg: InteractionsConfig) -> pd.DataFrame:
    """Read a raw interaction export and map it to the contract's columns (see RawData).

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
    text += _text_columns(cfg.item_columns, cfg.item_types)
    text += _text_columns(cfg.user_columns, cfg.user_types)
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
    out[Columns.EVENT_TYPE] = _event_types(frame, mapping, cfg.event_type, cfg.event_names)
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
    for prefix, attrs, declared in (
        (ITEM_PREFIX, cfg.item_columns, cfg.item_types),
        (USER_PREFIX, cfg.user_columns, cfg.user_types),
    ):
        for attr, col in attrs.items():
            kind = attribute_type(attr, declared)
            out[prefix + attr] = parse_typed(frame[col], kind, file=file, column=col)
    return pd.DataFrame(out).reset_index(drop=True)


def _event_types(
    frame: pd.DataFrame, mapping: dict[str, str], constant: str | None, names: dict[str, str]
) -> pd.Series:
    """The event column as text, the shop's names replaced by tailor's (``event_names``)."""
    if Columns.EVENT_TYPE not in mapping:
        return pd.Series(constant or "purchase", index=frame.index, dtype="str")
    events = frame[mapping[Columns.EVENT_TYPE]]
    if not names:
        return events.astype("str")
    codes, uniques = pd.factorize(events)  # map the few distinct names, not every row
    written = pd.Series(uniques).astype("str")
    mapped = written.str.strip().map(names).fillna(written)
    lookup = np.empty(len(mapped) + 1, dtype=object)  # the last entry, None, for code -1 (blank)
    lookup[:-1] = mapped.to_numpy(dtype=object)
    return pd.Series(lookup[codes], index=frame.index, dtype="str")


def _text_columns(mapping: dict[str, str], declared: dict[str, ColumnType]) -> list[str]:
    """Columns to read as text (CSV): every typed attribute but numbers, so ``330`` is never
    read as a number and written back as ``330.0``."""
    return [
        col
        for attr, col in mapping.items()
        if attribute_type(attr, declared) in ("id", "category", "text", "flag")
    ]


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
        text_columns=[mapping[key], *_text_columns(mapping, cfg.types)],
    )
    file = str(path)
    require_columns(frame, mapping, file=file, table=f"{table}.columns")
    out = {key: parse_ids(frame[mapping[key]], file=file, column=mapping[key])}
    for attr, col in mapping.items():
        if attr != key:
            kind = attribute_type(attr, cfg.types)
            out[attr] = parse_typed(frame[col], kind, file=file, column=col)
    if cfg.keep_unmapped:
        mapped = set(mapping.values())
        for col in frame.columns:
            if col not in mapped and col not in out:
                out[str(col)] = frame[col]
    return pd.DataFrame(out).reset_index(drop=True)


def read_property_log(path: Path, cfg: ItemsConfig) -> pd.DataFrame:
    """Read a long-form catalogue (one row per time, item, property, value) into a property
    log (:mod:`tailor.data.properties`): the mapped properties (every one with
    ``keep_unmapped``) under their attribute names, values checked against their types.

    Raises:
        DataError: the file or a value is bad, naming the file's column and row.
    """
    mapping = dict(cfg.columns)
    id_col, ts_col = mapping[Columns.ITEM_ID], mapping[Columns.TIMESTAMP]
    prop_col, value_col = mapping[props.PROPERTY], mapping[props.VALUE]
    frame = read_table(
        path,
        cfg.format,
        delimiter=cfg.delimiter,
        encoding=cfg.encoding,
        text_columns=[id_col, prop_col, value_col],
    )
    file = str(path)
    require_columns(frame, mapping, file=file, table="items.columns")
    names = normalise_ids(frame[prop_col])  # a property named 790 is "790", never "790.0"
    codes, uniques = pd.factorize(names)
    code_of = {str(p): k for k, p in enumerate(uniques)}
    attribute_of = {prop: attr for attr, prop in cfg.properties.items()}
    if cfg.keep_unmapped:
        for prop in code_of:
            attribute_of.setdefault(prop, prop)
    by_code = np.argsort(codes, kind="stable")  # each property's rows, in file order
    bounds = np.searchsorted(codes[by_code], np.arange(len(uniques) + 1))
    parts = []
    for prop, attr in attribute_of.items():
        if prop not in code_of:
            continue
        rows = by_code[bounds[code_of[prop]] : bounds[code_of[prop] + 1]]
        kind = attribute_type(attr, cfg.types) or "text"
        sub = frame.iloc[rows]
        typed = _at_rows(rows, parse_typed, sub[value_col], kind, file=file, column=value_col)
        parts.append(
            pd.DataFrame(
                {
                    Columns.ITEM_ID: _at_rows(
                        rows, parse_ids, sub[id_col], file=file, column=id_col
                    ),
                    Columns.TIMESTAMP: _at_rows(
                        rows,
                        parse_timestamps,
                        sub[ts_col],
                        cfg.timestamp_format,
                        file=file,
                        column=ts_col,
                    ),
                    props.PROPERTY: attr,
                    props.VALUE: props.canonical_text(typed, kind),
                    props.TYPE: kind,
                }
            )
        )
    if not parts:
        have = ", ".join(map(str, pd.unique(names.dropna())[:20]))
        raise DataError(
            f"no row holds a property mapped in [items.properties] "
            f"({', '.join(cfg.properties.values())}); the file has: {have}",
            file=file,
            column=prop_col,
        )
    log = pd.concat(parts, ignore_index=True)
    for col in (Columns.ITEM_ID, props.PROPERTY, props.VALUE, props.TYPE):
        log[col] = log[col].astype("str")
    return log


def _at_rows(
    rows: np.ndarray, parse: Callable[..., pd.Series], values: pd.Series, *args: Any, **kwargs: Any
) -> pd.Series:
    """``parse(values.reset_index(drop=True), ...)`` on a subset of a file's rows, with an error
    naming the row of the file (``rows`` are the subset's positions in it)."""
    try:
        return parse(values.reset_index(drop=True), *args, **kwargs)
    except DataError as exc:
        if exc.row is None:
            raise
        raise DataError(
            exc.problem, file=exc.file, column=exc.column, row=int(rows[exc.row - 1]) + 1
        ) from None
