"""Interactions read in Spark by the rules of :func:`tailor.data.io.read_interactions`, and their
(user, item) pairs: what the Spark engine fits on, where the data is too large for the driver.

Ids become text by :func:`tailor.data.ids.normalise_ids`' rule (whole floats lose ``.0``, text
is trimmed, ``"17850.0"`` -> ``"17850"``); the weight is ``weight``, else ``value``, else 1; the
timestamp may be a timestamp, a date, ISO text or integer Unix seconds. A missing id or
timestamp, or a missing, non-finite or negative weight, is a DataError naming the file, the
column, how many rows and the first one's ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

ROWS = "rows"
"""A pair's number of input rows."""
ROW = "row"
"""Each input row's position key (``monotonically_increasing_id``: increasing in file order)."""
FIRST = "first_row"
"""A pair's first row: sorting pairs by it numbers users and items in first-appearance order, as
a local ``Dataset.from_frame`` of the same file does."""
_INTEGRAL_TEXT = r"^(-?\d+)\.0+$"


def read_interactions(spark: SparkSession, source: str) -> DataFrame:
    """``source`` (a Parquet file or folder, on any file system Spark reads: ``s3a://``,
    ``hdfs://``, ``gs://``, a local path) as user_id, item_id (text), weight (double), timestamp
    (int64 Unix seconds) and ``row``.

    Raises:
        DataError: the source cannot be read, a required column is missing, or a value breaks
            ``read_interactions``' rules (see the module docstring).
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        raw = spark.read.parquet(source)
    except (AnalysisException, Py4JJavaError) as exc:
        # a missing path is an AnalysisException; a file that is not Parquet fails in the JVM
        text = exc.java_exception.getMessage() if isinstance(exc, Py4JJavaError) else str(exc)
        reason = (text or "").strip().splitlines()[0] if (text or "").strip() else "unreadable"
        raise DataError(f"cannot read the Parquet input ({reason})", file=source) from None
    for col in Columns.INTERACTION_REQUIRED:
        if col not in raw.columns:
            have = ", ".join(raw.columns[:20])
            raise DataError(
                f"required column is missing (the file has: {have})", file=source, column=col
            )
    weight = next((c for c in (Columns.WEIGHT, Columns.VALUE) if c in raw.columns), None)
    weight_col = F.col(weight).cast("double") if weight else F.lit(1.0)
    frame = raw.select(
        _id_text(raw, Columns.USER_ID, source).alias(Columns.USER_ID),
        _id_text(raw, Columns.ITEM_ID, source).alias(Columns.ITEM_ID),
        weight_col.alias(Columns.WEIGHT),
        _unix_seconds(raw, source).alias(Columns.TIMESTAMP),
        F.monotonically_increasing_id().alias(ROW),
    )
    _check_values(raw, frame, source, weight)
    return frame


def interaction_pairs(frame: DataFrame) -> DataFrame:
    """One row per (user_id, item_id): the summed weight, the newest timestamp, the first row and
    the number of rows."""
    from pyspark.sql import functions as F

    return frame.groupBy(Columns.USER_ID, Columns.ITEM_ID).agg(
        F.sum(Columns.WEIGHT).alias(Columns.WEIGHT),
        F.max(Columns.TIMESTAMP).alias(Columns.TIMESTAMP),
        F.min(ROW).alias(FIRST),
        F.count(F.lit(1)).alias(ROWS),
    )


def collect_pairs(pairs: DataFrame) -> tuple[pd.DataFrame, int]:
    """The pairs on the driver, in first-appearance order (user_id, item_id, weight, timestamp),
    and the number of input rows they summarise."""
    local = cast(pd.DataFrame, pairs.toPandas())
    local = local.sort_values(FIRST, kind="stable").reset_index(drop=True)
    frame = pd.DataFrame(
        {
            Columns.USER_ID: local[Columns.USER_ID].astype(str),
            Columns.ITEM_ID: local[Columns.ITEM_ID].astype(str),
            Columns.WEIGHT: local[Columns.WEIGHT].to_numpy(np.float64),
            Columns.TIMESTAMP: local[Columns.TIMESTAMP].to_numpy(np.int64),
        }
    )
    return frame, int(local[ROWS].sum())


def _id_text(raw: DataFrame, column: str, source: str) -> Column:
    """The id column as text, by ``normalise_ids``' rule for its Spark type."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kind = raw.schema[column].dataType
    col = F.col(column)
    if isinstance(kind, T.DecimalType):
        return F.when(col == F.floor(col), col.cast("long").cast("string"))
    if isinstance(kind, T.FloatType | T.DoubleType):
        # a fractional, NaN or infinite id becomes null, reported by _check_values; a whole
        # number loses its ".0" (Spark's NaN equals itself, hence the explicit tests)
        whole = ~F.isnan(col) & (F.abs(col) != float("inf")) & (col == F.floor(col))
        return F.when(whole, col.cast("long").cast("string"))
    if isinstance(kind, T.IntegralType):
        return col.cast("string")
    if isinstance(kind, T.BooleanType):
        return F.when(col, F.lit("True")).when(~col, F.lit("False"))
    if isinstance(kind, T.StringType):
        text = F.regexp_replace(F.trim(col), _INTEGRAL_TEXT, "$1")
        return F.when(text != "", text)
    raise DataError(
        f"ids must be text or numbers, not {kind.simpleString()}", file=source, column=column
    )


def _unix_seconds(raw: DataFrame, source: str) -> Column:
    """The timestamp as int64 Unix seconds (naive times are UTC: the session's time zone)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kind = raw.schema[Columns.TIMESTAMP].dataType
    col = F.col(Columns.TIMESTAMP)
    if isinstance(kind, T.TimestampType | T.TimestampNTZType | T.DateType):
        return F.unix_seconds(col.cast("timestamp"))
    if isinstance(kind, T.NumericType):
        return col.cast("long")
    if isinstance(kind, T.StringType):
        return F.unix_seconds(F.to_timestamp(col))
    raise DataError(
        f"timestamps must be times, dates, ISO text or Unix seconds, not {kind.simpleString()}",
        file=source,
        column=Columns.TIMESTAMP,
    )


def _check_values(raw: DataFrame, frame: DataFrame, source: str, weight: str | None) -> None:
    """One pass counting every kind of bad row; a DataError for the first kind found."""
    from pyspark.sql import functions as F

    w = F.col(Columns.WEIGHT)
    checks: list[tuple[str, Column, str]] = [
        (Columns.USER_ID, F.col(Columns.USER_ID).isNull(), "the id is missing or not whole"),
        (Columns.ITEM_ID, F.col(Columns.ITEM_ID).isNull(), "the id is missing or not whole"),
        (Columns.TIMESTAMP, F.col(Columns.TIMESTAMP).isNull(), "the timestamp is missing or "
         "not a time"),
    ]  # fmt: skip
    if weight is not None:
        checks += [
            (weight, w.isNull() | F.isnan(w), "the value is missing"),
            (weight, (w == float("inf")) | (w == float("-inf")), "not a finite number"),
            (weight, w < 0, "weights must be >= 0"),
        ]
    counts = frame.select(
        *[F.sum(bad.cast("int")).alias(str(i)) for i, (_, bad, _) in enumerate(checks)]
    ).first()
    assert counts is not None
    for i, (column, bad, why) in enumerate(checks):
        n = int(counts[str(i)] or 0)
        if n:
            example = frame.where(bad).select(ROW).first()
            assert example is not None
            shown = _example_row(raw, frame, example[ROW])
            raise DataError(
                f"{n:,} row{'s' if n > 1 else ''}: {why} (the first: {shown})",
                file=source,
                column=column,
            )


def _example_row(raw: DataFrame, frame: DataFrame, row: int) -> str:
    """The raw values of the row with position key ``row``, for the message."""
    from pyspark.sql import functions as F

    keyed = raw.select(
        *[F.col(c) for c in Columns.INTERACTION_REQUIRED],
        *[F.col(c) for c in (Columns.WEIGHT, Columns.VALUE) if c in raw.columns],
        F.monotonically_increasing_id().alias(ROW),
    )
    found = keyed.where(F.col(ROW) == row).drop(ROW).first()
    if found is None:  # pragma: no cover - the same scan numbers rows the same way
        return "row not found again"
    return ", ".join(f"{k}={v!r}" for k, v in found.asDict().items())
