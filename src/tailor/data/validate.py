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

from tailor.errors import DataError

FileFormat: TypeAlias = Literal["csv", "parquet", "jsonl"]
TIMESTAMP_FORMAT_ISO = "iso"
TIMESTAMP_FORMAT_UNIX = "unix"
TIMESTAMP_FORMAT_UNIX_MS = "unix_ms"
_PARSER_LINE = re.compile(r"line (\d+)")
_INTEGRAL_TEXT = re.compile(r"^(-?\d+)\.0+$")


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
        raise _parser_error(path, exc) from None
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


def _parser_error(path: Path, exc: Exception) -> DataError:
    message = _first_line(exc)
    match = _PARSER_LINE.search(message)
    row = int(match.group(1)) - 1 if match else None
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
    """Ids as text, missing as NA: ``17850.0`` -> ``"17850"``, blanks -> missing.

    Raises:
        DataError: a float id that is not a whole number (ids must be exact).
    """
    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=np.float64)
        present = ~np.isnan(arr)
        bad = present & (arr != np.round(arr))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"id {float(arr[row])!r} is not a whole number; read ids as text",
                file=file,
                column=column,
                row=row + 1,
            )
        return pd.Series(pd.array(values, dtype="Int64").astype("str"), index=values.index)
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype("str")
    text = values.astype("str").str.strip()
    if text.str.contains(".", regex=False).any():
        text = text.str.replace(_INTEGRAL_TEXT, r"\1", regex=True)
    return text.mask(text == "")


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


def parse_timestamps(values: pd.Series, fmt: str | None, *, file: str, column: str) -> pd.Series:
    """Timestamps as naive UTC ``datetime64[ns]``; blanks become NaT.

    Args:
        values: the column as read.
        fmt: a ``strftime`` format (fast and unambiguous), ``"iso"`` (ISO 8601, the default),
            ``"unix"`` (seconds since the epoch) or ``"unix_ms"`` (milliseconds). Values with a
            UTC offset are converted to UTC; values without one are taken as UTC.
        file: file name for messages.
        column: column name for messages.

    Raises:
        DataError: at the first value that does not parse, naming its row and the format.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        return parsed.astype("datetime64[ns]")
    fmt = fmt or TIMESTAMP_FORMAT_ISO
    if fmt in (TIMESTAMP_FORMAT_UNIX, TIMESTAMP_FORMAT_UNIX_MS):
        numbers = parse_numbers(values, file=file, column=column)
        unit = "s" if fmt == TIMESTAMP_FORMAT_UNIX else "ms"
        return pd.to_datetime(numbers, unit=unit).astype("datetime64[ns]")
    text = values.astype("str").str.strip()
    text = text.mask(text == "")
    pd_format = "ISO8601" if fmt == TIMESTAMP_FORMAT_ISO else fmt
    parsed = pd.to_datetime(text, format=pd_format, errors="coerce", utc=True)
    bad = parsed.isna().to_numpy() & text.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"cannot parse timestamp {text.iloc[row]!r} with format {fmt!r}; set "
            "`timestamp_format` in the source config",
            file=file,
            column=column,
            row=row + 1,
        )
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")
