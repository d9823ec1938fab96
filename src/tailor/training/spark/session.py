"""A SparkSession for tailor: local mode by default, any master URL otherwise.

Local runs get a small footprint (no UI, no console progress bars, few shuffle partitions); every
session computes times in UTC (tailor's timestamps are naive UTC) and moves frames to and from
pandas through Arrow.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tailor.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
LOCAL_SHUFFLE_PARTITIONS = 8
"""Spark's default, 200, makes every aggregation of a small local job schedule 200 tasks."""

BASE_CONF: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.log.level": "ERROR",
}


def java_available() -> bool:
    """Whether a Java runtime can be started (``JAVA_HOME`` or ``java`` on PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.isfile(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def spark_session(
    master: str = DEFAULT_MASTER,
    *,
    conf: Mapping[str, str] | None = None,
    app_name: str = "tailor",
) -> SparkSession:
    """The SparkSession to run on ``master`` (``local[*]``, ``local[2]``, ``spark://host:7077``,
    ``yarn``, ``k8s://...``), created or reused, with ``conf`` over tailor's defaults.

    Raises:
        ConfigError: pyspark is not installed, or no Java runtime is found.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "--engine spark needs the optional dependency 'pyspark': "
            "pip install 'tailor-recsys[spark]'"
        ) from None
    if not java_available():
        raise ConfigError(
            "--engine spark needs a Java runtime (Java 17): install it (Debian: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    # PySpark 4.3 warns on every pandas conversion under pandas 3; tailor's conversions are
    # tested with it (tests/spark), so the warnings only bury the command's output
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark\.")
    settings = dict(BASE_CONF)
    if master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = str(LOCAL_SHUFFLE_PARTITIONS)
        # local Python workers run this interpreter (the one with tailor): PySpark reads the
        # variable when the context starts (a cluster's come from its own config)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def parse_conf(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` options as a dict.

    Raises:
        ConfigError: an entry without ``=`` or with an empty key.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--spark-conf {pair!r} is not KEY=VALUE (e.g. spark.executor.memory=4g)"
            )
        out[key.strip()] = value
    return out
