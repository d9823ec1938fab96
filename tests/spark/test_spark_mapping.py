"""The Spark engine's parameter mapping, settings and errors: no Spark needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tailor.errors import ConfigError
from tailor.models.implicit_models import ALSConfig
from tailor.training.spark import session as spark_session_module
from tailor.training.spark.als import SparkALSParams, spark_als_params
from tailor.training.spark.session import parse_conf, spark_session


def test_binary_als_maps_alpha_minus_one_and_the_total_penalty() -> None:
    config = ALSConfig(factors=8, regularization=0.1, alpha=3.0, iterations=5, seed=7)
    # 3 users + 5 items, 8 positive pairs: lambda' = 0.1 * (3 + 5) / (2 * 8) = 0.05
    assert spark_als_params(config, 3, 5, 8) == SparkALSParams(
        rank=8, max_iter=5, reg_param=0.05, alpha=2.0, seed=7, binary=True, weight_scale=3.0
    )


def test_defaults_map_to_spark_alpha_zero() -> None:
    """alpha 1 with binary r: every observed confidence is 1, Spark's 1 + 0 * r."""
    params = spark_als_params(ALSConfig(), 943, 1612, 80_000)
    assert (params.rank, params.max_iter, params.alpha, params.seed) == (32, 15, 0.0, None)
    assert params.reg_param == pytest.approx(0.1 * (943 + 1612) / 160_000)


def test_weighted_als_scales_ratings_with_spark_alpha_one() -> None:
    params = spark_als_params(ALSConfig(binary=False, alpha=0.5), 2, 2, 4)
    assert (params.alpha, params.weight_scale, params.binary) == (1.0, 0.5, False)


def test_binary_alpha_below_one_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"alpha 0.5 < 1 weighs an observed pair below"):
        spark_als_params(ALSConfig(alpha=0.5), 2, 2, 4)


def test_spark_conf_pairs() -> None:
    assert parse_conf(("spark.executor.memory=8g", "a.b= x=y")) == {
        "spark.executor.memory": "8g",
        "a.b": " x=y",
    }
    with pytest.raises(ConfigError, match=r"--spark-conf 'spark.executor.memory' is not KEY=VALUE"):
        parse_conf(("spark.executor.memory",))


def test_no_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_session_module, "java_available", lambda: False)
    with pytest.raises(ConfigError, match=r"--engine spark needs a Java runtime \(Java 17\)"):
        spark_session("local[1]")


def test_java_found_through_java_home_or_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert not spark_session_module.java_available()
    java = tmp_path / "bin" / "java"  # type: ignore[operator]
    java.parent.mkdir()
    java.write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert spark_session_module.java_available()


SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"


def _pyspark_imports(tree: ast.Module) -> tuple[list[int], list[int]]:
    """Lines importing pyspark at module level (outside ``if TYPE_CHECKING:``), and anywhere."""
    top: list[int] = []
    every: list[int] = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n == "pyspark" or n.startswith(("pyspark.", "py4j")) for n in names):
            every.append(node.lineno)
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno in every:
            top.append(node.lineno)
    return top, every


def test_pyspark_is_imported_only_by_the_engine_and_lazily() -> None:
    """Models (and everything else) never import pyspark; the engine imports it inside its
    functions, so ``tailor fit`` without --engine spark never loads it."""
    outside, eager = [], []
    for path in sorted(SRC.rglob("*.py")):
        top, every = _pyspark_imports(ast.parse(path.read_text()))
        name = str(path.relative_to(SRC))
        if every and not name.startswith("training/spark/"):
            outside.append(name)
        if top:
            eager.append(name)
    assert outside == [] and eager == []
    code = (
        "import sys, tailor.cli.fit, tailor.training.spark.als, tailor.training.spark.topn; "
        "print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'py4j'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
