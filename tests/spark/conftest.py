"""One local Spark session (``local[2]``) for every Spark test module: starting the JVM costs
seconds, so it starts once. Without Java the Spark tests skip, except under ``CI=true`` (the
suite-wide ``require`` rule), where a missing Java fails them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tailor.training.spark.session import java_available, spark_session


@pytest.fixture(scope="session")
def spark(require: Callable[[bool, str], None]) -> Iterator[Any]:
    require(importlib.util.find_spec("pyspark") is not None, "pyspark (extra 'spark') is missing")
    require(java_available(), "no Java runtime (Java 17) for Spark")
    session = spark_session(
        "local[2]",
        conf={
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            # small jobs: the JIT's optimising tier and a parallel GC cost more than they save;
            # the quick tier's larger frames get a larger stack
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss4m",
        },
        app_name="tailor-tests",
    )
    yield session
    session.stop()
