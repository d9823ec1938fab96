"""The Spark engine on MovieLens 100K (local[2]): ALS with the default parameters, fitted by Spark,
scores NDCG@10 within 2 % of the same ALS fitted locally, on the benchmark's split (each user's
last 20 % of ratings by time to test, ``user_temporal_split(last_fraction=0.2)``; tailor's
``evaluate_model`` on the model folders), and ``tailor recommend`` lists from the Spark-made
folder as from any other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from tailor.cli.fit import recommend
from tailor.data.split import Split, user_temporal_split
from tailor.evaluation.fitted import evaluate_model
from tailor.models.model_dir import fit_model_dir
from tailor.training.spark.als import fit_spark_model_dir

ML100K = Path(__file__).resolve().parents[2] / "../shared/data/ml-100k"
PARAMS = {"seed": 0}  # ALS's defaults: 32 factors, lambda 0.1, alpha 1, 15 iterations


@pytest.fixture(scope="module")
def split(require: Callable[[bool, str], None]) -> Split:
    require((ML100K / "u.data").is_file(), f"{ML100K} (MovieLens 100K) is not available")
    frame = pd.read_csv(
        ML100K / "u.data", sep="\t", names=["user_id", "item_id", "value", "timestamp"]
    )
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
    return user_temporal_split(frame, last_fraction=0.2)


@pytest.fixture(scope="module")
def spark_dir(spark: Any, split: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ml100k")
    split.train.to_parquet(folder / "train.parquet")
    fit_spark_model_dir(spark, str(folder / "train.parquet"), PARAMS, folder / "spark")
    return folder / "spark"


def test_ndcg_within_two_percent_of_the_local_als(
    spark_dir: Path, split: Split, tmp_path: Path
) -> None:
    fit_model_dir(split.train, "als", PARAMS, tmp_path / "local")
    local = evaluate_model(tmp_path / "local", split).metrics["ndcg@10"]
    spark = evaluate_model(spark_dir, split).metrics["ndcg@10"]
    assert local > 0.15  # a real model (popularity scores about 0.09 here)
    assert abs(spark - local) <= 0.02 * local, (spark, local)


def test_tailor_recommend_lists_from_the_spark_folder(
    spark_dir: Path, split: Split, tmp_path: Path
) -> None:
    out = tmp_path / "recs.parquet"
    args = ["--model-dir", spark_dir, "--users", "all", "--k", "10", "--out", out]
    result = CliRunner().invoke(recommend, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    recs = pd.read_parquet(out)
    assert len(recs) == 943 * 10 and (recs["source"] == "model").all()
    seen = split.train[["user_id", "item_id"]].drop_duplicates()
    assert recs.merge(seen, on=["user_id", "item_id"]).empty  # seen items are left out
