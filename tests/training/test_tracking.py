"""MLflow tracking (tailor.training.tracking) on a temporary SQLite-backed local store: a run holds
the parameters, per-epoch metrics with their steps, test metrics, fingerprints and artifacts; a
registered version carries its aliases; the pyfunc model's predict equals the Pipeline's lists."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_backtest import shop_log

from tailor.data.split import temporal_split, with_validation
from tailor.evaluation import evaluate_model, write_report
from tailor.models.model_dir import fit_model_dir
from tailor.pipeline import Pipeline, Query
from tailor.training.fingerprints import fingerprints, read_fingerprints, record_fingerprints


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An iterative model (per-epoch reports) fitted with validation, its test evaluation and
    report, and the fit's fingerprints in the manifest."""
    root = tmp_path_factory.mktemp("tracked")
    frame = shop_log(seed=1)
    split = with_validation(temporal_split(frame, cut="2024-06-01"), fraction=0.15)
    epochs: list[Mapping[str, float]] = []
    model_dir = root / "model"
    params = {"embedding_size": 8, "epochs": 4, "seed": 0}
    fit_model_dir(
        split.train,
        "mf-sgd",
        params,
        model_dir,
        validation=split.validation,
        on_epoch=lambda _epoch, values: epochs.append(dict(values)),
    )
    record_fingerprints(
        model_dir, fingerprints({"train": split.train, "validation": split.validation})
    )
    result = evaluate_model(Pipeline.from_model_dir(model_dir), split, (10,))
    evaluation = root / "evaluation"
    evaluation.mkdir()
    result.to_json(evaluation / "metrics.json")
    report = write_report(result, evaluation)
    return {
        "root": root,
        "model_dir": model_dir,
        "epochs": epochs,
        "metrics": result.metrics,
        "report": report,
        "params": params,
        "split": split,
    }


@pytest.fixture()
def store(tmp_path: Path, require: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    require(importlib.util.find_spec("mlflow") is not None, "MLflow is not installed (train extra)")
    from tailor.training.tracking import tracking_uri

    uri = tracking_uri(store=tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # where mlflow.pyfunc.load_model looks
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    return uri


def test_run_holds_params_metrics_fingerprints_and_artifacts(
    fitted: dict[str, Any], store: str
) -> None:
    from mlflow.tracking import MlflowClient

    from tailor.training.tracking import log_run

    assert store.startswith("sqlite:///")
    record = log_run(
        fitted["model_dir"],
        epoch_metrics=fitted["epochs"],
        test_metrics=fitted["root"] / "evaluation" / "metrics.json",
        report=fitted["report"],
        extra_metrics={"backtest_ndcg@10_2011-07-01": 0.1174, "backtest_mean_ndcg@10": 0.1097},
        tracking=store,
    )
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED"
    # parameters: every hyperparameter of the manifest, the model and its version
    manifest = json.loads((fitted["model_dir"] / "manifest.json").read_text())
    assert run.data.params["embedding_size"] == "8" and run.data.params["epochs"] == "4"
    assert run.data.params["model"] == "mf-sgd"
    assert run.data.params["model_version"] == manifest["version"]
    # per-epoch metrics, one step per epoch
    epoch_keys = [k for k in fitted["epochs"][0] if k.startswith(("train_", "validation_"))]
    assert epoch_keys
    for key in epoch_keys:
        history = client.get_metric_history(record.run_id, key.replace("@", "_at_"))
        assert [m.step for m in history] == list(range(1, len(fitted["epochs"]) + 1))
        assert [m.value for m in history] == pytest.approx([e[key] for e in fitted["epochs"]])
    # test metrics; extra metrics (the backtest objective's periods) as named, step 0
    assert run.data.metrics["test_ndcg_at_10"] == pytest.approx(fitted["metrics"]["ndcg@10"])
    assert run.data.metrics["backtest_ndcg_at_10_2011-07-01"] == 0.1174
    assert run.data.metrics["backtest_mean_ndcg_at_10"] == 0.1097
    history = client.get_metric_history(record.run_id, "backtest_mean_ndcg_at_10")
    assert [m.step for m in history] == [0]
    # the data fingerprints, as tags and as an artifact
    prints = read_fingerprints(fitted["model_dir"])
    train_print = prints["inputs"]["train"]["sha256"]
    assert run.data.tags["fingerprint.inputs.train"] == train_print
    assert run.data.tags["fingerprint.outputs.model"] == prints["outputs"]["model"]["content"]
    # artifacts: the model folder, the report, the metrics, the pyfunc model
    files = _artifacts(client, record.run_id)
    assert {
        "model_dir/manifest.json",
        "model_dir/params.npz",
        "model_dir/popularity/manifest.json",
    } <= files
    assert {"evaluation/report.html", "evaluation/metrics.json", "fingerprints.json"} <= files
    assert "model/MLmodel" in files
    logged = json.loads(
        Path(client.download_artifacts(record.run_id, "fingerprints.json")).read_text()
    )
    assert logged["inputs"]["train"]["sha256"] == train_print


def test_registered_version_has_alias_and_pyfunc_predict_equals_pipeline(
    fitted: dict[str, Any], store: str
) -> None:
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient

    from tailor.training.tracking import model_uri, register_version, set_alias, version_by_alias

    first = register_version(fitted["model_dir"], "shop-recs", aliases=["champion"], tracking=store)
    second = register_version(
        fitted["model_dir"], "shop-recs", aliases=["challenger"], tracking=store
    )
    assert (first["version"], second["version"]) == ("1", "2")
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    assert str(client.get_model_version_by_alias("shop-recs", "champion").version) == "1"
    assert version_by_alias("shop-recs", "challenger", tracking=store) == "2"
    version = client.get_model_version("shop-recs", "1")
    manifest = json.loads((fitted["model_dir"] / "manifest.json").read_text())
    assert version.tags["tailor.version"] == manifest["version"]
    set_alias("shop-recs", "champion", 2, tracking=store)  # the gate promotes the challenger
    assert sorted(client.get_model_version("shop-recs", "2").aliases) == ["challenger", "champion"]

    loaded = mlflow.pyfunc.load_model(model_uri("shop-recs", "champion"))
    users = [*fitted["split"].test["user_id"].unique()[:25], "never-seen"]
    got = loaded.predict(pd.DataFrame({"user_id": users}))
    pipeline = Pipeline.from_model_dir(fitted["model_dir"])
    expected = pipeline.recommend(users, Query(n=10)).recs
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    assert set(got.loc[got["user_id"] == "never-seen", "source"]) == {"cold_start"}
    # params: a shorter list, seen items kept; numeric ids are ids as text
    short = loaded.predict(
        pd.DataFrame({"user_id": users[:3]}), params={"n": 3, "exclude_seen": False}
    )
    expected = pipeline.recommend(users[:3], Query(n=3, exclude_seen=False)).recs
    assert short[["user_id", "item_id", "rank"]].values.tolist() == (
        expected[["user_id", "item_id", "rank"]].values.tolist()
    )


def _artifacts(client: Any, run_id: str, path: str | None = None) -> set[str]:
    out: set[str] = set()
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            out |= _artifacts(client, run_id, entry.path)
        else:
            out.add(entry.path)
    return out
