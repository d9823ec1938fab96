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

    A file is refused rather than scored differently from what it says: an item listed twice for
    one user, a rank that is not a positive integer (0, -1, 1.5), or a rank given twice within
    one user's list. (Scores may tie: ties keep file order.)

    Raises:
        DataError: also when neither ``rank`` nor ``score`` is present, or one is not numeric,
            or on the problems above, naming the file, column and row (from 1).
    """
    file = str(path)
    frame = read_frame(path)
    order = Columns.RANK if Columns.RANK in frame.columns else Columns.SCORE
    if order not in frame.columns:
        raise DataError("needs a 'rank' or a 'score' column to order each user's list", file=file)
    _require_numbers(frame, order, file)
    users = _codes(frame[Columns.USER_ID])
    repeat = _first_repeat(users, _codes(frame[Columns.ITEM_ID]))
    if repeat is not None:
        row, first = repeat
        pair = (str(frame[Columns.USER_ID].iloc[row]), str(frame[Columns.ITEM_ID].iloc[row]))
        raise DataError(
            f"(user_id, item_id) {pair} repeats row {first + 1}; an item may appear once in a "
            "user's list",
            file=file,
            row=row + 1,
        )
    if order == Columns.RANK:
        _check_ranks(frame, users, file)
    return frame


def _check_ranks(frame: pd.DataFrame, users: np.ndarray, file: str) -> None:
    """Ranks are positive integers, each at most once per user."""
    ranks = pd.to_numeric(frame[Columns.RANK]).to_numpy(dtype=np.float64)
    bad = np.flatnonzero((ranks < 1) | (ranks != np.round(ranks)))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"rank {_number(ranks[row])} is not a positive integer (1 = first)",
            file=file,
            column=Columns.RANK,
            row=row + 1,
        )
    repeat = _first_repeat(users, ranks)
    if repeat is not None:
        row, first = repeat
        user = str(frame[Columns.USER_ID].iloc[row])
        raise DataError(
            f"rank {_number(ranks[row])} repeats row {first + 1} of user {user!r}; give each "
            "position of a list once (or a score column, whose ties keep file order)",
            file=file,
            column=Columns.RANK,
            row=row + 1,
        )


def _codes(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.array.codes)
    return pd.factorize(values)[0]


def _first_repeat(*keys: np.ndarray) -> tuple[int, int] | None:
    """The first row (in file order) whose keys equal an earlier row's, and that earlier row."""
    n = len(keys[0])
    if n < 2:
        return None
    order = np.lexsort(keys[::-1])  # stable: equal keys keep file order
    same = np.ones(n - 1, dtype=bool)
    for key in keys:
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    if not same.any():
        return None
    positions = np.flatnonzero(same) + 1
    j = int(positions[np.argmin(order[positions])])
    start = j
    while start > 0 and same[start - 1]:
        start -= 1
    return int(order[j]), int(order[start])


def _number(value: float) -> str:
    return str(int(value)) if value == np.round(value) else repr(float(value))


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
    finite_numbers(frame[column], file=file, column=column)


def finite_numbers(values: pd.Series, *, file: str, column: str, what: str = "value") -> np.ndarray:
    """``values`` as float64 numbers (numeric text is parsed).

    Raises:
        DataError: naming ``file``, ``column`` and the first row (from 1) whose ``what`` is
            missing, not a number or not finite.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        row = int(bad[0])
        value = values.iloc[row]
        shown = repr(value) if isinstance(value, str) else str(value)  # inf, not np.float64(inf)
        problem = f"{what} {shown} is not a finite number"
        raise DataError(problem, file=file, column=column, row=row + 1)
    return numbers
