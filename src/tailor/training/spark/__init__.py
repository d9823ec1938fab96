"""The Spark engine: ``tailor fit --engine spark`` (ALS on Apache Spark) and
``tailor recommend --engine spark`` (batch top-N scored on the cluster). See docs/spark.md.

PySpark (the ``spark`` extra) and Java 17 are needed only here, and loaded only when these
modules are: the models never import pyspark, and a folder written by this engine is the folder a
local ALS fit writes, served and recommended from without Spark.

* :mod:`tailor.training.spark.session`  a SparkSession with tailor's defaults; clear errors
  without pyspark or Java
* :mod:`tailor.training.spark.frames`   Parquet interactions read in Spark by ``read_interactions``'
  rules, aggregated to one row per (user, item) pair
* :mod:`tailor.training.spark.als`      tailor's ALS parameters on Spark's implicit ALS, the fit,
  the model folder
* :mod:`tailor.training.spark.topn`     the pipeline's lists for many users, in Spark tasks
"""
