r"""tailor's ALS fitted by Spark's implicit-feedback ALS (``pyspark.ml.recommendation.ALS``),
saved as the model folder a local ``tailor fit --model als`` writes.

**The parameter mapping.** Both libraries minimise Hu, Koren & Volinsky's weighted squared error
over every (user, item) cell with preference :math:`p_{ui} = [r_{ui} > 0]`; they differ in how
confidence and the penalty are written:

=================  ===================================  =======================================
                   tailor (``implicit``)                Spark
=================  ===================================  =======================================
confidence         :math:`c_{ui} = \alpha r_{ui}`       :math:`c_{ui} = 1 + \alpha' |r'_{ui}|`
                   (observed), 1 (unobserved)           (observed), 1 (unobserved)
penalty            :math:`\lambda (\sum_u \|p_u\|^2 +   :math:`\lambda' (\sum_u n_u \|p_u\|^2 +
                   \sum_i \|q_i\|^2)`                   \sum_i n_i \|q_i\|^2)` (ALS-WR)
=================  ===================================  =======================================

- ``binary`` (the default): :math:`r' = 1` and :math:`\alpha' = \alpha - 1`, the same
  confidences exactly (``alpha < 1`` would weigh an observed pair below an unobserved one,
  which Spark cannot express: refused).
- weights (``binary=false``): :math:`\alpha' = 1`, :math:`r' = \max(\alpha r - 1, 10^{-6})`,
  the same confidences wherever :math:`\alpha r > 1`; a pair with :math:`\alpha r \le 1` gets
  confidence :math:`1 + 10^{-6}` (Spark has no confidence below the unobserved cells'), a zero
  weight none at all.
- :math:`\lambda' = \lambda (n_{users} + n_{items}) / (2\,n_{pairs})`: Spark scales each row's
  penalty by its count of positive pairs (:math:`n_u`, :math:`n_i`; each sums to
  :math:`n_{pairs}`), so no :math:`\lambda'` equals a constant :math:`\lambda` for every row;
  this one gives both penalties the same total weight when the factor norms are alike.
- ``factors`` -> ``rank``; ``iterations`` -> ``maxIter`` (Spark solves each row's normal
  equations exactly, where implicit takes three conjugate-gradient steps: a sweep of Spark's is
  at least as converged); ``seed`` -> ``seed`` (None: Spark's fixed default).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.models._params import ITEMS_KEY, SEEN_KEYS, USERS_KEY, csr_params
from tailor.models.implicit_models import ALS, ALSConfig
from tailor.models.model_dir import FitSummary, ModelDir, validation_dataset, validation_metrics
from tailor.models.popular import Popularity
from tailor.outputs import check_output
from tailor.training.spark.frames import collect_pairs, interaction_pairs, read_interactions

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SPARK_RECORD_FILE = "spark.json"
"""Written into the model folder: the Spark parameters the fit ran with, the master, versions."""
MIN_RATING = 1e-6
"""Spark's rating for a weighted pair whose confidence :math:`\\alpha r` is at most 1."""
USER_NUM, ITEM_NUM, RATING = "user_num", "item_num", "rating"


@dataclass(frozen=True)
class SparkALSParams:
    """Spark ALS's parameters for one tailor ALS config (see the module docstring)."""

    rank: int
    max_iter: int
    reg_param: float
    alpha: float
    seed: int | None
    binary: bool
    """Every pair's rating is 1; else ``max(config.alpha * weight - 1, MIN_RATING)``."""
    weight_scale: float
    """tailor's alpha, multiplying the weights of a weighted fit."""


def spark_config(params: Mapping[str, Any]) -> ALSConfig:
    """ALS's config from ``params``, checked for what Spark can fit: before any data is read.

    Raises:
        ConfigError: an invalid hyperparameter, or ``binary`` with ``alpha < 1`` (no Spark
            confidence is below an unobserved cell's).
    """
    config: ALSConfig = ALS(**dict(params)).config
    if config.binary and config.alpha < 1:
        raise ConfigError(
            f"--engine spark: alpha {config.alpha} < 1 weighs an observed pair below an "
            "unobserved one, which Spark's ALS cannot express (its confidence is 1 + alpha r); "
            "use alpha >= 1"
        )
    return config


def spark_als_params(config: ALSConfig, n_users: int, n_items: int, n_pairs: int) -> SparkALSParams:
    """Spark ALS's parameters for ``config`` on data of these sizes (``n_pairs``: the (user,
    item) pairs with a positive rating).

    Raises:
        ConfigError: as :func:`spark_config`.
    """
    spark_config(config.model_dump())
    reg = config.regularization * (n_users + n_items) / (2 * max(n_pairs, 1))
    return SparkALSParams(
        rank=config.factors,
        max_iter=config.iterations,
        reg_param=reg,
        alpha=config.alpha - 1 if config.binary else 1.0,
        seed=config.seed,
        binary=config.binary,
        weight_scale=config.alpha,
    )


def spark_rating(params: SparkALSParams, weight: Column) -> Column:
    """Spark's rating of a pair with summed ``weight`` (see :class:`SparkALSParams`)."""
    from pyspark.sql import functions as F

    if params.binary:
        return F.lit(1.0)
    scaled = F.greatest(weight * params.weight_scale - 1.0, F.lit(MIN_RATING))
    return F.when(weight > 0, scaled).otherwise(F.lit(0.0))


def fit_als(
    spark: SparkSession, pairs: DataFrame, data: Dataset, config: ALSConfig
) -> tuple[ALS, SparkALSParams]:
    """Fit Spark's ALS on ``pairs`` (user_id, item_id, weight: one row per pair, numbered by
    ``data``'s vocabularies) and return tailor's ALS holding its factors, with ``data``'s
    vocabularies, seen pairs and :math:`r_{ui}` (``user_items``, for fold-in)."""
    from pyspark.ml.recommendation import ALS as SparkALS
    from pyspark.sql import functions as F

    user_items = _user_items(data, binary=config.binary)
    n_positive = int((user_items.data > 0).sum())
    params = spark_als_params(config, data.n_users, data.n_items, n_positive)
    users = spark.createDataFrame(
        pd.DataFrame({Columns.USER_ID: data.users.ids, USER_NUM: np.arange(data.n_users)})
    )
    items = spark.createDataFrame(
        pd.DataFrame({Columns.ITEM_ID: data.items.ids, ITEM_NUM: np.arange(data.n_items)})
    )
    ratings = (
        pairs.join(users, Columns.USER_ID)
        .join(items, Columns.ITEM_ID)
        .select(
            F.col(USER_NUM).cast("int"),
            F.col(ITEM_NUM).cast("int"),
            spark_rating(params, F.col(Columns.WEIGHT)).alias(RATING),
        )
    )
    blocks = max(1, spark.sparkContext.defaultParallelism)
    estimator = SparkALS(
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        alpha=params.alpha,
        implicitPrefs=True,
        nonnegative=False,
        userCol=USER_NUM,
        itemCol=ITEM_NUM,
        ratingCol=RATING,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
    )
    if params.seed is not None:
        estimator.setSeed(params.seed)
    _local_checkpoints(spark)
    fitted = estimator.fit(ratings)
    model = ALS(config)
    seen = sp.csr_array(
        (np.ones(user_items.nnz, np.float32), user_items.indices, user_items.indptr),
        shape=user_items.shape,
    )
    model.load_state(
        {
            USERS_KEY: data.users.ids,
            ITEMS_KEY: data.items.ids,
            SEEN_KEYS[0]: seen.indptr,
            SEEN_KEYS[1]: seen.indices,
            "user_factors": _factors(fitted.userFactors, data.n_users, params.rank),
            "item_factors": _factors(fitted.itemFactors, data.n_items, params.rank),
            **csr_params("user_items", user_items),
        },
        source="spark ALS",
    )
    return model, params


def fit_spark_model_dir(
    spark: SparkSession,
    train: str,
    params: Mapping[str, Any],
    out: Path,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    validation: pd.DataFrame | None = None,
    inputs: Sequence[Path | None] = (),
    force: bool = False,
) -> FitSummary:
    """``tailor fit --engine spark``: ALS with ``params`` fitted in Spark on the Parquet
    interactions at ``train`` (any URL the session reads), written to ``out`` as
    :func:`tailor.models.model_dir.fit_model_dir` writes a local fit: the model, the
    ``popularity/`` fallback, ``items.parquet``, ``users.parquet``, plus ``spark.json`` (the
    Spark parameters). The (user, item) pairs are collected to the driver: the folder holds them
    (``seen``, ``user_items``), as every model folder does; the ALS sweeps run in Spark.

    Raises:
        ConfigError: invalid hyperparameters (before Spark reads anything) or an output that
            would overwrite data.
        DataError: unreadable or invalid interactions (:func:`frames.read_interactions`).
    """
    check_output(out, inputs, force=force)
    config = spark_config(params)
    pairs = interaction_pairs(read_interactions(spark, train)).cache()
    try:
        frame, n_rows = collect_pairs(pairs)
        data = Dataset.from_frame(frame, item_features=items)
        start = time.perf_counter()
        model, spark_params = fit_als(spark, pairs, data, config)
        seconds = time.perf_counter() - start
    finally:
        pairs.unpersist()
    val = validation_dataset(validation, data) if validation is not None else None
    metrics = validation_metrics(model, val) if val is not None else {}
    record = {
        "engine": "spark",
        "train": train,
        "master": spark.sparkContext.master,
        "spark_version": spark.version,
        "parameters": dict(params),
        "spark_als": asdict(spark_params),
        "rows": n_rows,
        "pairs": len(frame),
        "fit_seconds": seconds,
    }

    def extras(staging: Path) -> None:
        (staging / SPARK_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")

    ModelDir.write(
        out,
        model,
        popularity=Popularity().fit(data),
        catalog=items,
        users=users,
        extras=extras,
        inputs=inputs,
        force=force,
        metrics=metrics,
        fit_seconds=seconds,
    )
    return FitSummary.of(model.name, data, seconds, validation, val, metrics, n_interactions=n_rows)


def _local_checkpoints(spark: SparkSession) -> None:
    """In local mode without a checkpoint directory, a temporary one (removed at exit): ALS
    checkpoints its factors every ``checkpointInterval`` (10) sweeps only with one, and without
    it the lineage of 15 sweeps overflowed the JVM's stack on ML-100K. A cluster needs a
    directory its executors share (docs/spark.md), which only its user can name."""
    context = spark.sparkContext
    if (context.master or "").startswith("local") and context.getCheckpointDir() is None:
        folder = tempfile.mkdtemp(prefix="tailor-spark-checkpoints-")
        atexit.register(shutil.rmtree, folder, True)
        context.setCheckpointDir(folder)


def _user_items(data: Dataset, *, binary: bool) -> sp.csr_array:
    """:math:`r_{ui}` as a local ALS keeps it: 1 per pair, or the pair's summed weights."""
    matrix = sp.csr_array(data.matrix(weights=not binary), dtype=np.float32)
    matrix.sort_indices()
    return matrix


def _factors(frame: DataFrame, n: int, rank: int) -> np.ndarray:
    """Spark's (id, features) factor rows as an ``n`` x ``rank`` float32 array; rows Spark has
    no factors for (ids without a rating) stay zero."""
    local = cast(pd.DataFrame, frame.toPandas())
    out = np.zeros((n, rank), np.float32)
    if len(local):
        out[local["id"].to_numpy(np.int64)] = np.stack(local["features"].to_numpy()).astype(
            np.float32
        )
    return out
