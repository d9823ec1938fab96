"""Batch top-N in Spark: the lists of ``tailor recommend``, for many users, scored in Spark tasks.

The model folder is broadcast as its files; each Python worker writes them to a temporary folder
once and builds :meth:`tailor.pipeline.Pipeline.from_model_dir` from it, then answers its share of
the users with ``Pipeline.recommend``: the seen-item exclusion, the catalogue filters, the backfill
of short lists and the popular lists for unknown users are the pipeline's, so the rows equal
``tailor recommend``'s (scores of factor models may differ in the last bits between BLAS blocks
of other sizes). Workers need tailor installed, as for any PySpark code that imports a package.
"""

from __future__ import annotations

import atexit
import math
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import ArtifactError
from tailor.pipeline import FALLBACK_SIZE, Pipeline, PipelineResult, Query

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

USERS_PER_TASK = 50_000
"""At most this many users per Spark task (at least one task per core)."""
_POS, _PART = "pos", "part"
_SCHEMA = (
    "pos long, part string, user_id string, item_id string, rank int, score float, "
    "source string, n_items long, backfilled long"
)
_RECS = [Columns.USER_ID, Columns.ITEM_ID, Columns.RANK, Columns.SCORE, Columns.SOURCE]
_USERS = [Columns.USER_ID, Columns.SOURCE, "n_items", "backfilled"]
_TEXT = {_PART, Columns.USER_ID, Columns.ITEM_ID, Columns.SOURCE}


@dataclass(frozen=True)
class _Job:
    """What every task needs: the folder's files and how to build and query its pipeline."""

    key: str
    files: Mapping[str, bytes]
    query: Query
    fallback_size: int
    segment_column: str | None
    users_table: pd.DataFrame | None
    segments: Mapping[str, str] | None


_PIPELINES: dict[str, Pipeline] = {}
"""Per Python worker: the pipelines built so far, by job key (a worker runs many tasks)."""


def recommend_spark(
    spark: SparkSession,
    model_dir: Path,
    user_ids: np.ndarray | None,
    query: Query,
    *,
    fallback_size: int = FALLBACK_SIZE,
    segment_column: str | None = None,
    users_table: pd.DataFrame | None = None,
    segments: Mapping[str, str] | None = None,
) -> PipelineResult:
    """``Pipeline.from_model_dir(model_dir, ...).recommend(user_ids, query, segments=...)``,
    computed in Spark tasks; ``user_ids`` None means every user the model knows. The result is
    the pipeline's: users in request order, the same columns and dtypes.

    Raises:
        ArtifactError: the folder cannot be read (checked on the driver first).
        ConfigError: ``segment_column`` is not a column of the users table.
    """
    # the checks the workers' pipelines will make, here, where an error can be reported
    pipeline = Pipeline.from_model_dir(
        model_dir,
        fallback_size=fallback_size,
        segment_column=segment_column,
        users_table=users_table,
    )
    if pipeline.model is None:  # pragma: no cover - from_model_dir raises first
        raise ArtifactError(f"{model_dir} holds no model")
    ids = pipeline.model.users.ids if user_ids is None else np.asarray(user_ids, dtype=object)
    files = {
        str(path.relative_to(model_dir)): path.read_bytes()
        for path in sorted(Path(model_dir).rglob("*"))
        if path.is_file()
    }
    job = _Job(
        key=uuid.uuid4().hex,
        files=files,
        query=query,
        fallback_size=fallback_size,
        segment_column=segment_column,
        users_table=users_table,
        segments=segments,
    )
    shared = spark.sparkContext.broadcast(job)
    try:
        tasks = max(spark.sparkContext.defaultParallelism, math.ceil(len(ids) / USERS_PER_TASK))
        frame = spark.createDataFrame(
            pd.DataFrame({_POS: np.arange(len(ids), dtype=np.int64), Columns.USER_ID: ids})
        ).repartition(max(1, min(tasks, len(ids))))

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            return _score_batches(shared.value, batches)

        rows = frame.mapInPandas(score, _SCHEMA).toPandas()
    finally:
        shared.unpersist()
    return _result(rows)


def _score_batches(job: _Job, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """A task: the pipeline's lists for each batch of (pos, user_id) rows."""
    pipeline = _pipeline(job)
    for batch in batches:
        if not len(batch):
            continue
        ids = batch[Columns.USER_ID].to_numpy(dtype=object)
        result = pipeline.recommend(ids, job.query, segments=job.segments)
        position = dict(zip(ids.tolist(), batch[_POS].tolist(), strict=True))
        recs = result.recs[_RECS].assign(
            **{_POS: result.recs[Columns.USER_ID].map(position), _PART: "recs"}
        )
        users = result.users[_USERS].assign(
            **{_POS: result.users[Columns.USER_ID].map(position), _PART: "users"}
        )
        rows = pd.concat([recs, users], ignore_index=True)
        columns = [c.split()[0] for c in _SCHEMA.split(", ")]
        # pandas 3's Arrow-backed text columns trip PySpark's conversion: plain objects
        yield pd.DataFrame({c: rows[c].astype(object) if c in _TEXT else rows[c] for c in columns})


def _pipeline(job: _Job) -> Pipeline:
    """The job's pipeline in this worker, built from the broadcast files on first use."""
    found = _PIPELINES.get(job.key)
    if found is None:
        folder = Path(tempfile.mkdtemp(prefix="tailor-spark-model-"))
        atexit.register(shutil.rmtree, folder, True)
        for name, content in job.files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        found = Pipeline.from_model_dir(
            folder,
            fallback_size=job.fallback_size,
            segment_column=job.segment_column,
            users_table=job.users_table,
        )
        _PIPELINES[job.key] = found
    return found


def _result(rows: pd.DataFrame) -> PipelineResult:
    """The tasks' rows back as the pipeline's result, users in request order."""
    rows = rows.sort_values([_POS, Columns.RANK], kind="stable", na_position="first")
    recs = rows.loc[rows[_PART] == "recs", _RECS].reset_index(drop=True)
    users = rows.loc[rows[_PART] == "users", _USERS].reset_index(drop=True)
    recs = recs.astype({Columns.RANK: np.int32, Columns.SCORE: np.float32})
    users = users.astype({"n_items": np.int64, "backfilled": np.int64})
    return PipelineResult(recs=_text(recs), users=_text(users))


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as the pipeline's ``str`` dtype (Arrow hands them back as objects)."""
    out: dict[str, Any] = {
        c: frame[c].astype(str) if frame[c].dtype == object else frame[c] for c in frame.columns
    }
    return pd.DataFrame(out)
