"""Reading prepared interaction, catalog and users files, and writing result frames, by file
extension.

Prepared files are the contract's columns (``user_id``, ``item_id``, ``timestamp`` and optionally
``value``/``weight``...) in Parquet or CSV, as written by ``tailor data prepare``/``split`` or by
hand. Every problem is one :class:`~tailor.errors.DataError` naming the file, column and row.

Stability: stable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.ids import normalise_ids
from tailor.data.validate import (
    TIMESTAMP_FORMAT_UNIX,
    infer_format,
    parse_numbers,
    parse_timestamps,
    read_table,
)
from tailor.errors import DataError

NUMERIC_COLUMNS = (Columns.VALUE, Columns.WEIGHT, Columns.PRICE)


def read_interactions(path: Path | str) -> pd.DataFrame:
    """A prepared interaction file with ids as text, naive UTC timestamps and numeric values.

    Timestamps may be datetimes, ISO 8601 text or integer Unix seconds. The weight (``weight``,
    else ``value``, which models use as the weight without one) must be present, finite and
    >= 0; with a ``weight`` column, a ``value`` may be missing (a view without a quantity) but
    not infinite. Float columns keep their dtype (``weight`` stays float32).

    Raises:
        DataError: the file is missing, unreadable, empty, lacks ``user_id``/``item_id``/
            ``timestamp``, or holds a missing id, a bad timestamp, a non-numeric value, or a
            missing, non-finite or negative weight, naming the file, column and row (from 1).
    """
    file = Path(path)
    frame = read_table(file, text_columns=(Columns.USER_ID, Columns.ITEM_ID))
    for col in Columns.INTERACTION_REQUIRED:
        if col not in frame.columns:
            have = ", ".join(map(str, frame.columns[:20]))
            raise DataError(
                f"required column is missing (the file has: {have})", file=str(file), column=col
            )
    out = frame.copy()
    for col in (Columns.USER_ID, Columns.ITEM_ID):
        out[col] = _ids(out[col], file=str(file), column=col)
    ts = out[Columns.TIMESTAMP]
    fmt = TIMESTAMP_FORMAT_UNIX if pd.api.types.is_numeric_dtype(ts) else None
    out[Columns.TIMESTAMP] = parse_timestamps(ts, fmt, file=str(file), column=Columns.TIMESTAMP)
    _no_missing(out[Columns.TIMESTAMP], file=str(file), column=Columns.TIMESTAMP)
    for col in NUMERIC_COLUMNS:
        if col in out.columns and not pd.api.types.is_float_dtype(out[col]):
            out[col] = parse_numbers(out[col], file=str(file), column=col)
    weight = Columns.WEIGHT if Columns.WEIGHT in out.columns else Columns.VALUE
    if weight in out.columns:
        _no_missing(out[weight], file=str(file), column=weight)
        _finite(out[weight], file=str(file), column=weight)
        _not_negative(out[weight], file=str(file), column=weight)
    if weight != Columns.VALUE and Columns.VALUE in out.columns:
        _finite(out[Columns.VALUE], file=str(file), column=Columns.VALUE)
    return out


def read_items(path: Path | str) -> pd.DataFrame:
    """A catalog file (Parquet or CSV) with an ``item_id`` column, ids as text.

    Raises:
        DataError: the file is missing or unreadable, or has no ``item_id`` column.
    """
    return _read_side_table(Path(path), Columns.ITEM_ID)


def read_users(path: Path | str) -> pd.DataFrame:
    """A users file (Parquet or CSV) with a ``user_id`` column and attributes (e.g. country),
    ids as text.

    Raises:
        DataError: the file is missing or unreadable, or has no ``user_id`` column.
    """
    return _read_side_table(Path(path), Columns.USER_ID)


def _read_side_table(file: Path, key: str) -> pd.DataFrame:
    """A side table keyed by ``key``, its ids by the one id rule (none missing)."""
    frame = read_table(file, text_columns=(key,))
    if key not in frame.columns:
        raise DataError("required column is missing", file=str(file), column=key)
    out = frame.copy()
    out[key] = _ids(out[key], file=str(file), column=key)
    return out


def write_frame(frame: pd.DataFrame, path: Path | str) -> None:
    """Write ``frame`` as Parquet (``.parquet``/``.pq``) or CSV (``.csv``, optionally compressed).

    Raises:
        DataError: any other extension.
    """
    file = Path(path)
    suffixes = [s.lower() for s in file.suffixes]
    if infer_format(file) == "parquet":
        file.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(file, index=False)
    elif ".csv" in suffixes:
        file.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(file, index=False)
    else:
        raise DataError("unsupported output format; use a .csv or .parquet name", file=str(file))


def _ids(values: pd.Series, *, file: str, column: str) -> pd.Series:
    ids = normalise_ids(values, file=file, column=column)
    _no_missing(ids, file=file, column=column)
    return ids.astype(str)


def _finite(values: pd.Series, *, file: str, column: str) -> None:
    """No infinite value (missing ones are checked, where they matter, by _no_missing)."""
    numbers = values.to_numpy(dtype=np.float64)
    _reject_first(
        np.isinf(numbers), lambda r: f"{column} {numbers[r]:g} is not a finite number", file, column
    )


def _not_negative(values: pd.Series, *, file: str, column: str) -> None:
    numbers = values.to_numpy(dtype=np.float64)
    _reject_first(
        np.abs(numbers) > np.finfo(np.float32).max,
        lambda r: f"{column} {numbers[r]:g} is too large for a weight (at most 3.4e+38)",
        file,
        column,
    )
    why = (
        "weights must be >= 0"
        if column == Columns.WEIGHT
        else "without a weight column the value is the weight, and weights must be >= 0"
    )
    _reject_first(
        numbers < 0, lambda r: f"{column} {float(numbers[r])!r} is negative; {why}", file, column
    )


def _no_missing(values: pd.Series, *, file: str, column: str) -> None:
    _reject_first(values.isna().to_numpy(), lambda r: "value is missing", file, column)


def _reject_first(bad: np.ndarray, message: Callable[[int], str], file: str, column: str) -> None:
    """Raise a DataError naming the first row (1-based) where ``bad`` holds."""
    if bad.any():
        row = int(bad.argmax())
        raise DataError(message(row), file=file, column=column, row=row + 1)
