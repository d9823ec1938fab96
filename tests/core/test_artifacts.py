from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ArtifactError, ConfigError
from tailor.models import Popularity, create_model
from tailor.models.artifacts import load_model, read_manifest, record_metrics
from tailor.testing.data import planted_frame


def test_manifest_records_model_and_config(tmp_path: Path) -> None:
    Popularity(half_life_days=3.0).fit(Dataset.from_frame(planted_frame())).save(tmp_path)
    manifest = read_manifest(tmp_path)
    assert manifest["model"] == "popularity"
    assert manifest["config"]["half_life_days"] == 3.0
    assert manifest["n_users"] == 12 and manifest["n_items"] == 8
    assert manifest["version"].startswith("popularity-")


def test_broken_artifacts_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a tailor model directory"):
        load_model(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_model(tmp_path)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"format": 1, "model": "nope", "config": {}})
    )
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        load_model(tmp_path)


def test_params_are_loaded_without_pickle(tmp_path: Path) -> None:
    Popularity().fit(Dataset.from_frame(planted_frame())).save(tmp_path)
    (tmp_path / "params.npz").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_model(tmp_path)


def test_create_model_validates_parameters() -> None:
    assert create_model("popularity", {"measure": "count"}).config.measure == "count"
    with pytest.raises(ConfigError, match="measur"):
        create_model("popularity", {"measur": "count"})


def test_record_metrics_updates_the_manifest(tmp_path: Path) -> None:
    Popularity().fit(Dataset.from_frame(planted_frame())).save(str(tmp_path))
    record_metrics(tmp_path, {"ndcg@10": 0.25})
    record_metrics(str(tmp_path), {"recall@20": 0.5})
    assert read_manifest(tmp_path)["metrics"] == {"ndcg@10": 0.25, "recall@20": 0.5}
    assert load_model(str(tmp_path)).top_items(1)["item_id"].tolist() == ["i0"]
