"""Reading recommendation and truth files (CSV or Parquet) with clear errors.

Problems become one :class:`~tailor.errors.DataError` naming the file, column, row and problem,
as the data readers do. Parquet id columns are read dictionary-encoded (pandas categoricals), so
evaluation maps ids to codes without hashing every row.

Stability: stable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tailor.data.columns import Columns
from tailor.data.validate import infer_format, read_table
from tailor.errors import DataError

ID_COLUMNS = (Columns.USER_ID, Columns.ITEM_ID)


def read_frame(path: str | Path, required: tuple[str, ...] = ID_COLUMNS) -> pd.DataFrame:
    """Read a CSV or Parquet file; ids stay text (CSV) or become categoricals (Parquet).

    Raises:
        DataError: the file is missing, empty, unreadable, or lacks a required column.
    """
    file = Path(path)
    if infer_format(file) == "parquet":
        frame = _read_parquet(file)
    else:
        frame = read_table(file, text_columns=ID_COLUMNS)
    for col in required:
        if col not in frame.columns:
            have = ", ".join(map(str, frame.columns[:20]))
            raise DataError(
                f"required column is missing (the file has: {have})", file=str(file), column=col
            )
    for col in ID_COLUMNS:
        if col in required:
            _require_ids(frame, col, str(file))
    return frame


def _read_parquet(file: Path) -> pd.DataFrame:
    if not file.is_file():
        raise DataError("file not found", file=str(file))
    try:
        schema = pq.read_schema(file)
        dictionary = [c for c in ID_COLUMNS if c in schema.names]
        table = pq.read_table(file, read_dictionary=dictionary)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"not a readable Parquet file: {first}", file=str(file)) from None
    if table.num_rows == 0:
        raise DataError("file has no data rows", file=str(file))
    return table.to_pandas()


def _require_ids(frame: pd.DataFrame, column: str, file: str) -> None:
    values = frame[column]
    missing = values.isna().to_numpy().copy()
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
        missing |= (values.astype("str").str.strip() == "").to_numpy(dtype=bool, na_value=True)
    if missing.any():
        raise DataError(
            "id is missing", file=file, column=column, row=int(np.flatnonzero(missing)[0]) + 1
        )


def read_recs(path: str | Path) -> pd.DataFrame:
    """Read recommendations: ``user_id, item_id`` and ``rank`` or ``score``.

    Raises:
        DataError: also when neither ``rank`` nor ``score`` is present, or one is not numeric.
    """
    frame = read_frame(path)
    order = Columns.RANK if Columns.RANK in frame.columns else Columns.SCORE
    if order not in frame.columns:
        raise DataError(
            "needs a 'rank' or a 'score' column to order each user's list", file=str(path)
        )
    _require_numbers(frame, order, str(path))
    return frame


def read_truth(path: str | Path, relevance: str | None = None) -> pd.DataFrame:
    """Read held-out truth: ``user_id, item_id`` and optionally a relevance column.

    Args:
        path: CSV or Parquet file.
        relevance: the column holding graded relevance; required when given. Without it, a
            ``relevance`` column is used when present, else every row has relevance 1.

    Raises:
        DataError: the file is unreadable or a required column is missing or non-numeric.
    """
    frame = read_frame(path, ID_COLUMNS + ((relevance,) if relevance else ()))
    column = relevance or (Columns.RELEVANCE if Columns.RELEVANCE in frame.columns else None)
    if column is not None:
        _require_numbers(frame, column, str(path))
    return frame


def _require_numbers(frame: pd.DataFrame, column: str, file: str) -> None:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"value {raw.iloc[row]!r} is not a finite number", file=file, column=column, row=row + 1
        )
