"""Reading and validating input tables: every problem becomes one DataError naming where it is.

Row numbers in messages count data rows from 1 (the first row after a CSV header is row 1), so
row ``r`` of a CSV file with a header is on line ``r + 1``.

Stability: stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tailor.data.ids import normalise_ids
from tailor.errors import ConfigError, DataError

FileFormat: TypeAlias = Literal["csv", "parquet", "jsonl"]
TIMESTAMP_FORMAT_ISO = "iso"
TIMESTAMP_FORMAT_UNIX = "unix"
TIMESTAMP_FORMAT_UNIX_MS = "unix_ms"
TIMESTAMP_FORMAT_UNIX_US = "unix_us"
TIMESTAMP_FORMAT_UNIX_NS = "unix_ns"
UNIX_FORMATS = {
    TIMESTAMP_FORMAT_UNIX: ("s", 1.0, "seconds"),
    TIMESTAMP_FORMAT_UNIX_MS: ("ms", 1e3, "milliseconds"),
    TIMESTAMP_FORMAT_UNIX_US: ("us", 1e6, "microseconds"),
    TIMESTAMP_FORMAT_UNIX_NS: ("ns", 1e9, "nanoseconds"),
}
"""``timestamp_format`` of numbers since 1970-01-01 UTC -> (pandas unit, units a second, name)."""
TIMESTAMP_KEYWORDS = (TIMESTAMP_FORMAT_ISO, *UNIX_FORMATS)
_FIRST_TIME = pd.Timestamp.min.ceil("s")
_LAST_TIME = pd.Timestamp.max.floor("s")
"""Timestamps are datetime64[ns]: 1677-09-21 to 2262-04-11."""
_PLAUSIBLE_SECONDS = 4.2e9
"""About 2103-01-01 in seconds since 1970: a magnitude this small suggests the right unit."""
_PARSER_LINE = re.compile(r"line (\d+)")


def infer_format(path: Path) -> FileFormat:
    """The file format from the name: ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``, else CSV.

    Compression suffixes (``.gz``, ``.bz2``, ``.zst``, ``.xz``, ``.zip``) are looked through.
    """
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in {".gz", ".bz2", ".zst", ".xz", ".zip"}:
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    if last in {".parquet", ".pq"}:
        return "parquet"
    if last in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "csv"


def read_table(
    path: Path,
    fmt: FileFormat | None = None,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    text_columns: Iterable[str] = (),
    header: bool = True,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """Read one CSV, Parquet or JSON-lines file, turning every failure into a DataError.

    Args:
        path: the file.
        fmt: ``csv``, ``parquet`` or ``jsonl``; inferred from the name when None.
        delimiter: CSV field separator.
        encoding: CSV / JSON text encoding.
        text_columns: CSV columns read as text, never as numbers (ids: keeps leading zeros).
        header: whether a CSV has a header line; without one, ``names`` names the columns.
        names: column names of a CSV without a header.

    Raises:
        DataError: the file is missing, empty, undecodable or malformed.
    """
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("expected a file but found a folder", file=str(path))
    if path.stat().st_size == 0:
        raise DataError("file is empty", file=str(path))
    fmt = fmt or infer_format(path)
    try:
        if fmt == "parquet":
            frame = read_parquet(path)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False, encoding=encoding)
        else:
            frame = pd.read_csv(
                path,
                sep=delimiter,
                encoding=encoding,
                dtype=dict.fromkeys(text_columns, str),
                keep_default_na=False,
                na_values=[""],
                header=0 if header else None,
                names=names,
            )
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("file is empty", file=str(path)) from None
    except UnicodeDecodeError:
        raise DataError(
            f"cannot decode the file as {encoding}; set `encoding` in the source config",
            file=str(path),
        ) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc, header=header) from None
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"cannot read the file as {fmt}: {_first_line(exc)}", file=str(path)
        ) from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError("file has no data rows", file=str(path))
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file (it may have zero rows).

    Raises:
        DataError: the file is missing or not readable Parquet.
    """
    if not path.is_file():
        raise DataError("file not found", file=str(path))
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DataError(
            f"not a readable Parquet file: {_first_line(exc)}", file=str(path)
        ) from None


def _parser_error(path: Path, exc: Exception, *, header: bool = True) -> DataError:
    """The parser's line number as a data row (from 1): line - 1 below a header line."""
    message = _first_line(exc)
    match = _PARSER_LINE.search(message)
    row = int(match.group(1)) - (1 if header else 0) if match else None
    return DataError(f"malformed CSV: {message}", file=str(path), row=row)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_columns(
    frame: pd.DataFrame, mapping: Mapping[str, str], *, file: str, table: str
) -> None:
    """Check that every column a mapping names exists in the file.

    Args:
        frame: the table as read.
        mapping: contract name -> column name in the file.
        file: the file name for the message.
        table: the config table holding the mapping (``interactions.columns``...).

    Raises:
        DataError: naming the first missing column and listing the columns the file has.
    """
    for field, column in mapping.items():
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns[:20]))
            raise DataError(
                f"column is missing: the mapping [{table}] {field} = {column!r} names a column "
                f"the file lacks (it has: {have})",
                file=file,
                column=column,
            )


def parse_ids(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """Ids as text, missing as NA (:func:`tailor.data.ids.normalise_ids`, the one rule every
    reader applies): ``17850.0`` -> ``"17850"``, blanks -> missing.

    Raises:
        DataError: a float id that is not a whole number (ids must be exact).
    """
    return normalise_ids(values, file=file, column=column)


def parse_numbers(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """Numbers as float64; blanks become NaN.

    Raises:
        DataError: at the first value that is not a number, naming its row.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    text = values.astype("str").str.strip()
    text = text.mask(text == "")
    numbers = pd.to_numeric(text, errors="coerce").astype(np.float64)
    bad = numbers.isna().to_numpy() & text.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"value {text.iloc[row]!r} is not a number", file=file, column=column, row=row + 1
        )
    return numbers


FLAG_TRUE = frozenset({"1", "true", "yes"})
FLAG_FALSE = frozenset({"0", "false", "no"})
"""How a flag may be written (any case; ``1.0``/``0.0`` count as ``1``/``0``)."""


def parse_flags(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """Flags as pandas ``boolean`` (NA when blank): ``1/0``, ``true/false``, ``yes/no`` in any
    case, or booleans and the numbers 1 and 0 as stored.

    Raises:
        DataError: at the first value that is none of these, naming its row.
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isnan(numbers) & (numbers != 0) & (numbers != 1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(_not_a_flag(values.iloc[row]), file=file, column=column, row=row + 1)
        out = pd.array(numbers == 1, dtype="boolean")
        out[np.isnan(numbers)] = pd.NA
        return pd.Series(out, index=values.index)
    codes, uniques = pd.factorize(values)  # classify the few distinct spellings, not every row
    kinds = np.array([_flag_kind(u) for u in uniques] + [2], dtype=np.int8)[codes]
    bad = kinds == 3
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(_not_a_flag(values.iloc[row]), file=file, column=column, row=row + 1)
    out = pd.array(kinds == 1, dtype="boolean")
    out[kinds == 2] = pd.NA
    return pd.Series(out, index=values.index)


def _flag_kind(value: object) -> int:
    """0 false, 1 true, 2 blank, 3 not a flag."""
    text = _ZERO_FRACTION.sub("", str(value).strip().lower())
    if text in FLAG_TRUE:
        return 1
    if text in FLAG_FALSE:
        return 0
    return 2 if text == "" else 3


_ZERO_FRACTION = re.compile(r"(?<=^[01])\.0+$")


def _not_a_flag(value: object) -> str:
    return f"value {value!r} is not a flag: write 1/0, true/false or yes/no"


def parse_typed(values: pd.Series, kind: str | None, *, file: str, column: str) -> pd.Series:
    """An attribute column by its declared type (see ``tailor.data.sources.config.ColumnType``):
    ``id``/``category`` -> text with whole numbers unchanged (``330.0`` -> ``"330"``), ``text``
    -> trimmed text, ``number`` -> float64, ``flag`` -> boolean; None -> as read.

    Raises:
        DataError: a value that does not fit the type, naming its row.
    """
    if kind in ("id", "category"):
        return normalise_ids(values, file=file, column=column)
    if kind == "text":
        text = values.astype("str").str.strip()
        return text.mask(text == "")
    if kind == "number":
        return parse_numbers(values, file=file, column=column)
    if kind == "flag":
        return parse_flags(values, file=file, column=column)
    return values


def parse_timestamps(values: pd.Series, fmt: str | None, *, file: str, column: str) -> pd.Series:
    """Timestamps as naive UTC ``datetime64[ns]``; blanks become NaT.

    Args:
        values: the column as read.
        fmt: a ``strftime`` format (fast and unambiguous), ``"iso"`` (ISO 8601, the default),
            ``"unix"`` (seconds since the epoch), ``"unix_ms"``, ``"unix_us"`` or ``"unix_ns"``
            (milli-, micro-, nanoseconds). Values with a UTC offset are converted to UTC; values
            without one are taken as UTC.
        file: file name for messages.
        column: column name for messages.

    Raises:
        DataError: at the first value that does not parse, is not finite, or lies outside
            1677-09-21 .. 2262-04-11 (what datetime64[ns] holds), naming its row and the format;
            a Unix number out of range names the unit it looks like.
        ConfigError: ``fmt`` is not a usable format.
    """
    where = {"file": file, "column": column}
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        _check_range(parsed, values, **where)
        return parsed.astype("datetime64[ns]")
    fmt = fmt or TIMESTAMP_FORMAT_ISO
    if fmt in UNIX_FORMATS:
        return _unix_timestamps(parse_numbers(values, **where), fmt, **where)
    # pandas 2's astype("str") writes missing values as "nan"/"None": keep them missing
    text = values.astype("str").str.strip().where(values.notna())
    text = text.mask(text == "")
    pd_format = "ISO8601" if fmt == TIMESTAMP_FORMAT_ISO else fmt
    try:
        parsed = pd.to_datetime(text, format=pd_format, errors="coerce", utc=True)
    except pd.errors.OutOfBoundsDatetime:
        parsed = _parse_one_by_one(text, pd_format)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"timestamp_format {fmt!r} is not a usable timestamp format: {_first_line(exc)}"
        ) from None
    bad = parsed.isna().to_numpy() & text.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"cannot parse timestamp {text.iloc[row]!r} with format {fmt!r}; set "
            "`timestamp_format` in the source config",
            row=row + 1,
            **where,
        )
    naive = parsed.dt.tz_localize(None)
    _check_range(naive, text, **where)
    return naive.astype("datetime64[ns]")


def check_timestamp_format(fmt: str) -> str:
    """``fmt`` when it is a keyword or a ``strftime`` format pandas can parse with.

    Raises:
        ValueError: the message says why (for the source config's validation).
    """
    if fmt in TIMESTAMP_KEYWORDS:
        return fmt
    if "%" not in fmt:
        raise ValueError(
            f"{fmt!r} is not a usable timestamp format: give a strftime format such as "
            f"'%Y-%m-%d %H:%M:%S' or one of {', '.join(TIMESTAMP_KEYWORDS)}"
        )
    sample = pd.Timestamp("2001-02-03 04:05:06.789", tz="UTC")
    try:
        pd.to_datetime(pd.Series([sample.strftime(fmt)]), format=fmt, utc=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{fmt!r} is not a usable timestamp format: {_first_line(exc)}") from None
    return fmt


def _parse_one_by_one(text: pd.Series, pd_format: str) -> pd.Series:
    """Parse value by value (an out-of-range value made the vectorised parse raise); values
    that do not parse or are out of range become NaT."""
    out = []
    for value in text:
        try:
            out.append(pd.to_datetime(value, format=pd_format, utc=True))
        except (ValueError, TypeError, OverflowError):
            out.append(pd.NaT)
    return pd.Series(pd.to_datetime(out, utc=True), index=text.index)


def _check_range(parsed: pd.Series, shown: pd.Series, *, file: str, column: str) -> None:
    """Raise at the first timestamp datetime64[ns] cannot hold (its text shown as read)."""
    unit = np.datetime_data(parsed.dtype)[0] if parsed.dtype.kind == "M" else "ns"
    if unit == "ns":
        return
    times = parsed.to_numpy()
    outside = (times < np.datetime64(_FIRST_TIME.to_pydatetime(), "s")) | (
        times > np.datetime64(_LAST_TIME.to_pydatetime(), "s")
    )
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"timestamp {str(shown.iloc[row])!r} is out of range: timestamps must lie between "
            f"{_FIRST_TIME.date()} and {_LAST_TIME.date()}",
            file=file,
            column=column,
            row=row + 1,
        )


def _unix_timestamps(numbers: pd.Series, fmt: str, *, file: str, column: str) -> pd.Series:
    """Numbers since the epoch in the unit of ``fmt``, checked to be finite and in range."""
    unit, per_second, name = UNIX_FORMATS[fmt]
    values = numbers.to_numpy(dtype=np.float64)
    present = ~np.isnan(values)
    seconds = values / per_second
    infinite = present & ~np.isfinite(values)
    outside = present & np.isfinite(values)
    outside &= (seconds < _FIRST_TIME.timestamp()) | (seconds > _LAST_TIME.timestamp())
    for mask, problem in ((infinite, "is not a finite number"), (outside, "is out of range")):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            message = f"timestamp {values[row]:g} {problem}"
            if problem == "is out of range":
                message += f" as {name} since 1970 ({fmt!r})" + _unit_hint(values[row], fmt)
            raise DataError(message, file=file, column=column, row=row + 1)
    return pd.to_datetime(numbers, unit=unit).astype("datetime64[ns]")


def _unit_hint(value: float, fmt: str) -> str:
    """``; looks like milliseconds: set timestamp_format = "unix_ms"`` when a finer unit puts
    ``value`` within 1970..2100, else a reminder of the range."""
    own = UNIX_FORMATS[fmt][1]
    for other, (_, per_second, name) in UNIX_FORMATS.items():
        if per_second > own and 0 < abs(value) / per_second <= _PLAUSIBLE_SECONDS:
            return f'; looks like {name}: set timestamp_format = "{other}"'
    return f"; timestamps must lie between {_FIRST_TIME.date()} and {_LAST_TIME.date()}"
