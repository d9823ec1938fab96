"""The Spark engine on planted data, in local mode: reading Parquet by tailor's rules, the model
folder a local ALS fit writes, the confidence mapping (Spark's users are tailor's least-squares
users), and batch lists equal to the pipeline's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tailor.cli import main
from tailor.data.io import read_interactions as read_local
from tailor.errors import DataError
from tailor.models.model_dir import ModelDir, fit_model_dir
from tailor.pipeline import Pipeline, Query
from tailor.testing import planted_frame
from tailor.testing.data import random_frame
from tailor.training.spark.als import SPARK_RECORD_FILE, fit_spark_model_dir
from tailor.training.spark.frames import collect_pairs, interaction_pairs, read_interactions
from tailor.training.spark.topn import recommend_spark

FAST = {"factors": 4, "iterations": 3, "seed": 0}
CATALOG = pd.DataFrame({"item_id": [f"i{k}" for k in range(8)], "category": list("aaaabbbb")})


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("planted") / "train.parquet"
    planted_frame().to_parquet(path)
    return path


class _Main(click.Command):
    """tailor's console entry point (its one-line errors, exit status 2) under CliRunner."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        main(list(args or ()))


def tailor(*args: object) -> Result:
    return CliRunner().invoke(_Main("tailor"), [str(a) for a in args])


@pytest.fixture(scope="module")
def spark_dir(spark: Any, planted: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tailor fit --engine spark`` on the planted data, with a catalogue."""
    folder = tmp_path_factory.mktemp("spark")
    CATALOG.to_parquet(folder / "catalog.parquet")
    params = [arg for key, value in FAST.items() for arg in ("--param", f"{key}={value}")]
    result = tailor(
        "fit", "--engine", "spark", "--spark-master", "local[2]", "--model", "als", *params,
        "--train", planted, "--items", folder / "catalog.parquet", "--out", folder / "model",
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Spark: the parameters it ran with are in" in result.stdout
    return folder / "model"


def test_ids_weights_and_times_follow_read_interactions(spark: Any, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": [17850.0, 17850.0, 3.0],
            "item_id": [" 85123A ", "7.0", "0042"],
            "value": [2.0, 1.0, 3.0],
            "timestamp": pd.to_datetime(
                ["2011-12-01 08:26", "2011-12-01 09:00", "2011-12-02 00:00"]
            ),
        }
    )
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    local = read_local(path)
    got = read_interactions(spark, str(path)).orderBy("row").toPandas()
    assert got["user_id"].tolist() == local["user_id"].tolist() == ["17850", "17850", "3"]
    assert got["item_id"].tolist() == local["item_id"].tolist() == ["85123A", "7", "0042"]
    assert got["weight"].tolist() == [2.0, 1.0, 3.0]  # no weight column: the value is the weight
    assert got["timestamp"].tolist() == [1322727960, 1322730000, 1322784000]


def test_pairs_sum_weights_in_first_appearance_order(spark: Any, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["b", "a", "b", "c"],
            "item_id": ["x", "y", "x", "x"],
            "weight": [1.0, 4.0, 2.5, 1.0],
            "timestamp": [30, 10, 20, 40],
        }
    )
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    pairs, rows = collect_pairs(interaction_pairs(read_interactions(spark, str(path))))
    assert rows == 4
    assert pairs.values.tolist() == [["b", "x", 3.5, 30], ["a", "y", 4.0, 10], ["c", "x", 1.0, 40]]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("weight", [1.0, -2.0, -1.0], r"2 rows: weights must be >= 0 \(the first: .*'u1'"),
        ("weight", [1.0, float("inf"), 1.0], r"1 row: not a finite number"),
        ("user_id", [1.0, 2.5, 3.0], r"1 row: the id is missing or not whole .*user_id=2.5"),
    ],
)
def test_bad_rows_are_named(
    spark: Any, tmp_path: Path, column: str, values: list[float], message: str
) -> None:
    frame = pd.DataFrame(
        {"user_id": ["u0", "u1", "u2"], "item_id": ["i0", "i1", "i2"], "timestamp": [1, 2, 3]}
    )
    frame[column] = values
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=message) as caught:
        read_interactions(spark, str(path))
    assert str(path) in str(caught.value) and column in str(caught.value)


def test_missing_column_and_missing_file(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "no_time.parquet"
    pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}).to_parquet(path)
    with pytest.raises(DataError, match=r"required column is missing \(the file has: user_id"):
        read_interactions(spark, str(path))
    with pytest.raises(DataError, match=r"cannot read the Parquet input"):
        read_interactions(spark, str(tmp_path / "absent.parquet"))
    csv = tmp_path / "rows.csv"
    csv.write_text("user_id,item_id,timestamp\n1,2,3\n")
    with pytest.raises(DataError, match=r"cannot read the Parquet input \(.*Parquet format"):
        read_interactions(spark, str(csv))


def test_the_folder_is_a_local_fits_folder(spark_dir: Path, planted: Path, tmp_path: Path) -> None:
    local_dir = tmp_path / "local"
    fit_model_dir(read_local(planted), "als", FAST, local_dir, items=CATALOG)
    files = {p.relative_to(spark_dir) for p in spark_dir.rglob("*") if p.is_file()}
    local_files = {p.relative_to(local_dir) for p in local_dir.rglob("*") if p.is_file()}
    # a local fit's content/ (cold-item slots, from a catalogue with text or categories) is not
    # written by the Spark engine (docs/spark.md, "Not available")
    local_files = {f for f in local_files if f.parts[0] != "content"}
    assert files - local_files == {Path(SPARK_RECORD_FILE)} and local_files <= files
    spark_folder, local_folder = ModelDir.load(spark_dir), ModelDir.load(local_dir)
    assert spark_folder.manifest["config"] == local_folder.manifest["config"]
    got, want = spark_folder.model.state_arrays(), local_folder.model.state_arrays()
    assert set(got) == set(want)
    for name in want:
        if "factors" in name:
            assert got[name].shape == want[name].shape == (len(want[name]), 4)
        else:  # vocabularies in first-appearance order, seen pairs, r_ui
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert spark_folder.popularity is not None and local_folder.popularity is not None
    for name, array in local_folder.popularity.state_arrays().items():
        np.testing.assert_array_equal(spark_folder.popularity.state_arrays()[name], array, name)
    pd.testing.assert_frame_equal(spark_folder.read_catalog(), local_folder.read_catalog())


def test_planted_users_get_their_groups_missing_item_first(spark_dir: Path) -> None:
    lists = Pipeline.from_model_dir(spark_dir).recommend(["u0", "u1", "u6"], Query(n=1)).recs
    # u0 lacks i1, u1 lacks i2 (group i0..i3); u6 lacks i5 (group i4..i7)
    assert lists["item_id"].tolist() == ["i1", "i2", "i5"]


@pytest.mark.parametrize("binary", [True, False])
def test_spark_users_are_tailors_least_squares_users(
    spark: Any, tmp_path: Path, binary: bool
) -> None:
    """Spark's last half-sweep solves each user's normal equations given the items; with
    lambda 0 they are tailor's (implicit's) equations exactly when the confidences map right:
    binary alpha 1 -> Spark alpha 0; weights r (summed, 1..15) with alpha 2 -> 1 + (2 r - 1)."""
    path = tmp_path / "random.parquet"
    random_frame(seed=3).to_parquet(path)
    params = {"factors": 3, "iterations": 2, "regularization": 0.0, "seed": 1}
    params.update({} if binary else {"binary": False, "alpha": 2.0})
    fit_spark_model_dir(spark, str(path), params, tmp_path / "m")
    model = ModelDir.load(tmp_path / "m").model
    users = np.arange(len(model.users))
    folded = np.stack([model.score_history(*model.user_history(int(u))) for u in users])
    np.testing.assert_allclose(model.score_rows(users), folded, rtol=1e-3, atol=1e-3)


def test_batch_lists_equal_the_pipelines(spark: Any, spark_dir: Path) -> None:
    users = np.array(["u6", "nobody", "u0", "u11", "u3"], dtype=object)
    for query in (Query(n=5, category="a"), Query(n=2, exclude_seen=False)):
        want = Pipeline.from_model_dir(spark_dir).recommend(users, query)
        got = recommend_spark(spark, spark_dir, users, query)
        pd.testing.assert_frame_equal(got.users, want.users)
        pd.testing.assert_frame_equal(got.recs, want.recs, check_exact=False, rtol=1e-5, atol=1e-6)
    every = recommend_spark(spark, spark_dir, None, Query(n=2))
    assert every.users["user_id"].tolist() == [f"u{k}" for k in range(12)]
    assert (every.users["source"] == "model").all() and len(every.recs) == 24


def test_tailor_recommend_with_spark_writes_the_local_file(spark_dir: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": ["u3", "stranger", "u7"]}).to_csv(users, index=False)
    for engine in ("local", "spark"):
        args = ["--model-dir", spark_dir, "--users", users, "--k", "4", "--category", "b"]
        result = tailor("recommend", *args, "--engine", engine, "--out", tmp_path / f"{engine}.csv")
        assert result.exit_code == 0, (result.stdout, result.stderr)
    local, spark = (pd.read_csv(tmp_path / f"{e}.csv") for e in ("local", "spark"))
    assert local["source"].tolist()[4:8] == ["cold_start"] * 4  # the stranger's popular list
    pd.testing.assert_frame_equal(spark, local, check_exact=False, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "ease"], "error: --engine spark fits model 'als' only, not 'ease'"),
        (["--model", "als", "--param", "alpha=0.5"], "error: --engine spark: alpha 0.5 < 1"),
        (["--model", "als", "--spark-conf", "oops"], "error: --spark-conf 'oops' is not KEY="),
    ],
)
def test_cli_errors_are_one_line(
    spark: Any, planted: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = tailor("fit", "--engine", "spark", *args, "--train", planted, "--out", tmp_path / "m")
    assert result.exit_code == 2 and result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "m").exists()
