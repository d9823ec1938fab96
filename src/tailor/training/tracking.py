"""Experiment tracking with MLflow: runs, the model registry, and a pyfunc flavour.

* :func:`log_run`: one MLflow run per fit: parameters, per-epoch metrics (``step`` = epoch), test
  metrics, the data fingerprints (:mod:`tailor.training.fingerprints`), ``report.html`` and the
  model folder as artifacts, and the folder as a pyfunc model (``model/``) that
  :func:`register_version` can put in the registry.
* :func:`register_version`: a model-store version (a ``tailor fit`` folder, or
  ``ModelRegistry(root).path(version)`` of ``tailor serve``'s store) as a version of a registered
  model, with aliases (``champion``, ``challenger``); :func:`set_alias` moves an alias.
* :class:`TailorPyfunc`: ``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"user_id":
  [...]}))`` returns the lists of :class:`tailor.pipeline.Pipeline` built from the model folder
  (user_id, item_id, rank, score, source), exactly what ``tailor recommend`` writes;
  ``params={"n": 20, "exclude_seen": False}`` changes the query.

**Where runs go.** ``tracking_uri``: an ``http(s)://`` URL is a tracking server; a
``sqlite:///...`` or other database URL, or a ``file:`` URI / plain folder, is a local store.
Default (None): ``$MLFLOW_TRACKING_URI`` when set (also over ``store``), else a SQLite store
``mlflow.db`` with artifacts under ``artifacts/`` in ``store`` (default ``./mlruns``; give a run
folder to keep the tracking beside the run). The registry uses the same store.

Metric names: MLflow allows letters, digits and ``_ - . / space :``, so ``ndcg@10`` is logged as
``ndcg_at_10`` (:func:`metric_key`).

Needs the ``train`` extra (``pip install 'tailor-recsys[train]'``: MLflow).

Stability: experimental.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tailor.errors import ConfigError

try:
    import mlflow
    import mlflow.pyfunc
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
except ModuleNotFoundError as exc:  # pragma: no cover - the train extra is missing
    raise ModuleNotFoundError(
        "tailor.training.tracking needs MLflow: pip install 'tailor-recsys[train]'"
    ) from exc

DEFAULT_STORE = Path("mlruns")
DEFAULT_EXPERIMENT = "tailor"
MODEL_ARTIFACT = "model"
"""The run's artifact path of the pyfunc model (the model folder is inside it)."""
FOLDER_ARTIFACT = "model_dir"
"""The pyfunc model's artifact key (and the run's artifact path) of the tailor model folder."""
CHAMPION = "champion"
CHALLENGER = "challenger"
_BAD_KEY = re.compile(r"[^\w\-. /:]")
_MAX_PARAM = 6000


def tracking_uri(uri: str | None = None, store: Path | str | None = None) -> str:
    """The tracking URI runs go to (see the module docstring); creates a local store's folder."""
    if uri:
        if "://" not in uri and not uri.startswith(("file:", "sqlite:")):
            return Path(uri).resolve().as_uri()  # a plain folder: a file store
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:  # the environment's store wins over a default folder (tailor train's run folder)
        return env
    folder = Path(store if store is not None else DEFAULT_STORE).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def _artifact_root(uri: str, store: Path | str | None) -> str | None:
    """Where a new experiment of a local SQLite store keeps artifacts (beside the database)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    return (database.parent / "artifacts").as_uri()


def client(uri: str | None = None, store: Path | str | None = None) -> MlflowClient:
    """An MLflow client on the tracking store and its registry."""
    resolved = tracking_uri(uri, store)
    return MlflowClient(tracking_uri=resolved, registry_uri=resolved)


def metric_key(name: str) -> str:
    """An MLflow-safe metric or parameter name: ``ndcg@10`` -> ``ndcg_at_10``."""
    return _BAD_KEY.sub("_", name.replace("@", "_at_"))


@dataclass(frozen=True)
class RunRecord:
    """A logged run.

    Attributes:
        run_id: MLflow's run id.
        experiment_id: its experiment.
        tracking_uri: the store it was logged to.
        artifact_uri: the run's artifact root.
        model_uri: ``runs:/<run_id>/model``, the pyfunc model (None when not logged).
    """

    run_id: str
    experiment_id: str
    tracking_uri: str
    artifact_uri: str
    model_uri: str | None


def log_run(
    model_dir: Path | str,
    *,
    params: Mapping[str, Any] | None = None,
    epoch_metrics: Sequence[Mapping[str, float]] | None = None,
    test_metrics: Mapping[str, Any] | Path | str | None = None,
    extra_metrics: Mapping[str, float] | None = None,
    fingerprints: Mapping[str, Any] | None = None,
    report: Path | str | None = None,
    artifacts: Iterable[Path | str] = (),
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    tracking: str | None = None,
    store: Path | str | None = None,
    log_model: bool = True,
) -> RunRecord:
    """Log a fitted model folder as one MLflow run.

    Args:
        model_dir: a ``tailor fit`` folder (manifest, params, popularity/, items.parquet).
        params: hyperparameters; default the manifest's ``params``. Also logged: ``model``,
            ``model_version`` (the manifest's version) and ``tailor_version``.
        epoch_metrics: one mapping per epoch (``train_loss``, ``validation_ndcg@10``...),
            logged with ``step`` = the epoch (from 1).
        test_metrics: a ``metrics.json`` (path or dict) or plain ``{name: value}``: top-level
            numbers are logged as ``test_<name>``. The manifest's ``metrics`` (validation) are
            logged as they are named there, except those the epoch history already holds.
        extra_metrics: more values, logged as named (step 0): ``tailor train`` logs the
            backtest objective's ``backtest_<metric>_<origin>`` per period and
            ``backtest_mean_<metric>`` here.
        fingerprints: data fingerprints; default the manifest's ``fingerprints``. Logged as
            ``fingerprints.json`` and as tags ``fingerprint.<section>.<name>``.
        report: ``report.html`` of the evaluation, logged under ``evaluation/``.
        artifacts: more files or folders to log (under ``extra/``).
        experiment: the experiment name (created when missing).
        run_name: the run's name; default the manifest's version.
        tags: more tags.
        tracking: a tracking URI (server URL, database URL or folder); see :func:`tracking_uri`.
        store: the local store's folder when ``tracking`` is None (default ``./mlruns``).
        log_model: also log the folder as a pyfunc model under ``model/``.

    Raises:
        ArtifactError: ``model_dir`` is not a readable model folder.
    """
    from tailor.models.artifacts import read_manifest

    folder = Path(model_dir)
    manifest = read_manifest(folder)
    uri = tracking_uri(tracking, store)
    mlc = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = _experiment(mlc, experiment, _artifact_root(uri, store))
    all_tags = {
        "tailor.model": str(manifest["model"]),
        "tailor.version": str(manifest["version"]),
        **(tags or {}),
    }
    run = mlc.create_run(
        experiment_id, run_name=run_name or str(manifest["version"]), tags=all_tags
    )
    run_id = run.info.run_id
    status = "FAILED"
    try:
        given = dict(params) if params is not None else dict(manifest.get("params") or {})
        given.update(
            model=manifest["model"],
            model_version=manifest["version"],
            tailor_version=manifest.get("tailor_version"),
        )
        now = int(time.time() * 1000)
        per_epoch = {key for values in epoch_metrics or () for key in values}
        fitted = manifest.get("metrics") or {}  # the last epoch's values repeat the history
        metrics = _metrics({k: v for k, v in fitted.items() if k not in per_epoch}, now, step=0)
        for epoch, values in enumerate(epoch_metrics or (), start=1):
            metrics += _metrics(values, now, step=epoch)
        metrics += _metrics(_test_values(test_metrics), now, step=0, prefix="test_")
        metrics += _metrics(dict(extra_metrics or {}), now, step=0)
        prints = dict(fingerprints) if fingerprints is not None else _manifest_prints(manifest)
        mlc.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(metric_key(k), _param(v)) for k, v in given.items()],
            tags=[RunTag(k, v) for k, v in _fingerprint_tags(prints).items()],
        )
        mlc.log_dict(run_id, prints, "fingerprints.json")
        if isinstance(test_metrics, str | Path):
            mlc.log_artifact(run_id, str(test_metrics), "evaluation")
        elif test_metrics is not None:
            mlc.log_dict(run_id, _jsonable(dict(test_metrics)), "evaluation/metrics.json")
        if report is not None:
            mlc.log_artifact(run_id, str(report), "evaluation")
        for extra in artifacts:
            path = Path(extra)
            if path.is_dir():
                mlc.log_artifacts(run_id, str(path), f"extra/{path.name}")
            else:
                mlc.log_artifact(run_id, str(path), "extra")
        mlc.log_artifacts(run_id, str(folder), FOLDER_ARTIFACT)
        model_uri = None
        if log_model:
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / MODEL_ARTIFACT
                save_pyfunc(folder, target)
                mlc.log_artifacts(run_id, str(target), MODEL_ARTIFACT)
            model_uri = f"runs:/{run_id}/{MODEL_ARTIFACT}"
        status = "FINISHED"
    finally:
        mlc.set_terminated(run_id, status=status)
    info = mlc.get_run(run_id).info
    return RunRecord(run_id, experiment_id, uri, info.artifact_uri, model_uri)


def register_version(
    model_dir: Path | str,
    name: str,
    *,
    aliases: Sequence[str] = (CHALLENGER,),
    run_id: str | None = None,
    description: str | None = None,
    tracking: str | None = None,
    store: Path | str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> dict[str, Any]:
    """Register a model-store version (a ``tailor fit`` folder) as a new version of the
    registered model ``name``, with ``aliases`` moved onto it.

    With ``run_id`` (a run from :func:`log_run`) the version's source is that run's pyfunc model;
    without, a run is logged first. The version is tagged with the folder's manifest version
    (``tailor.version``) and model name.

    Returns:
        ``{"name", "version", "aliases", "source", "run_id", "tailor_version"}``.
    """
    from tailor.models.artifacts import read_manifest

    manifest = read_manifest(model_dir)
    uri = tracking_uri(tracking, store)
    mlc = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if run_id is None:
        run_id = log_run(model_dir, tracking=uri, experiment=experiment).run_id
    try:
        mlc.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        mlc.create_registered_model(name, description="tailor recommender (pyfunc)")
    source = f"{mlc.get_run(run_id).info.artifact_uri}/{MODEL_ARTIFACT}"
    version = mlc.create_model_version(
        name,
        source,
        run_id=run_id,
        tags={"tailor.version": str(manifest["version"]), "tailor.model": str(manifest["model"])},
        description=description,
    )
    for alias in aliases:
        mlc.set_registered_model_alias(name, alias, version.version)
    return {
        "name": name,
        "version": str(version.version),
        "aliases": list(aliases),
        "source": source,
        "run_id": run_id,
        "tailor_version": str(manifest["version"]),
    }


def set_alias(
    name: str, alias: str, version: str | int, *, tracking: str | None = None,
    store: Path | str | None = None,
) -> None:  # fmt: skip
    """Point ``alias`` (e.g. ``champion`` after the gate passes) at ``version`` of ``name``."""
    client(tracking, store).set_registered_model_alias(name, alias, str(version))


def version_by_alias(
    name: str, alias: str, *, tracking: str | None = None, store: Path | str | None = None
) -> str:
    """The version number ``alias`` points at."""
    return str(client(tracking, store).get_model_version_by_alias(name, alias).version)


def model_uri(name: str, alias: str = CHAMPION) -> str:
    """``models:/NAME@ALIAS``, for ``mlflow.pyfunc.load_model``."""
    return f"models:/{name}@{alias}"


# ---- the pyfunc flavour ---------------------------------------------------------------------
class TailorPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """A tailor model folder as an MLflow pyfunc model.

    ``predict(frame)`` takes a frame with a ``user_id`` column and returns the pipeline's lists:
    one row per (user, item) with ``user_id, item_id, rank, score, source``; ``params`` may set
    ``n`` (default 10) and ``exclude_seen`` (default True). Users the model does not know get
    the popular list (``source`` ``cold_start``), as from ``tailor recommend``.
    """

    def load_context(self, context: Any) -> None:
        from tailor.pipeline import Pipeline

        self.pipeline = Pipeline.from_model_dir(context.artifacts[FOLDER_ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from tailor.data.ids import normalise_ids
        from tailor.pipeline import Query

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if "user_id" not in frame.columns:
            raise ConfigError("the input needs a user_id column")
        ids = normalise_ids(frame["user_id"], column="user_id").dropna()
        options = params or {}
        query = Query(
            n=int(options.get("n", 10)), exclude_seen=bool(options.get("exclude_seen", True))
        )
        return self.pipeline.recommend(ids.to_numpy(dtype=object), query).recs


def save_pyfunc(model_dir: Path | str, path: Path | str) -> None:
    """Write the pyfunc model of ``model_dir`` to the new folder ``path`` (the folder is copied
    in as its artifact)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    from tailor import __version__

    signature = ModelSignature(
        inputs=None,  # user ids may be numbers (17850): predict makes them text, as tailor does
        outputs=Schema(
            [
                ColSpec("string", "user_id"),
                ColSpec("string", "item_id"),
                ColSpec("long", "rank"),
                ColSpec("double", "score"),
                ColSpec("string", "source"),
            ]
        ),
        params=ParamSchema(
            [ParamSpec("n", "long", 10), ParamSpec("exclude_seen", "boolean", True)]
        ),
    )
    with warnings.catch_warnings():  # no input example: it would load and run the model here
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(
            path=str(path),
            python_model=TailorPyfunc(),
            artifacts={FOLDER_ARTIFACT: str(Path(model_dir).resolve())},
            signature=signature,
            pip_requirements=[
                f"tailor-recsys=={__version__}",
                f"mlflow-skinny=={mlflow.__version__}",
            ],
        )


# ---- helpers --------------------------------------------------------------------------------
def _experiment(mlc: MlflowClient, name: str, artifact_root: str | None) -> str:
    found = mlc.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = f"{artifact_root}/{name}" if artifact_root else None
    return str(mlc.create_experiment(name, artifact_location=location))


def _metrics(
    values: Mapping[str, Any], timestamp: int, *, step: int, prefix: str = ""
) -> list[Metric]:
    out = []
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out.append(Metric(metric_key(prefix + key), float(value), timestamp, step))
    return out


def _test_values(test: Mapping[str, Any] | Path | str | None) -> dict[str, Any]:
    if test is None:
        return {}
    if isinstance(test, str | Path):
        loaded = json.loads(Path(test).read_text())
        return loaded if isinstance(loaded, dict) else {}
    return dict(test)


def _manifest_prints(manifest: Mapping[str, Any]) -> dict[str, Any]:
    found = manifest.get("fingerprints")
    return dict(found) if isinstance(found, dict) else {}


def _fingerprint_tags(prints: Mapping[str, Any]) -> dict[str, str]:
    tags = {}
    for section, entries in prints.items():
        if not isinstance(entries, Mapping):
            continue
        for name, entry in entries.items():
            if isinstance(entry, Mapping):
                digest = entry.get("content") or entry.get("sha256")
                if digest:
                    tags[f"fingerprint.{section}.{metric_key(str(name))}"] = str(digest)
    return tags


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
