from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ArtifactError, ConfigError
from tailor.models import Popularity, create_model
from tailor.models.artifacts import load_model, read_manifest, record_metrics
from tailor.models.registry import MODELS, model_class
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
    manifest = {"format": 1, "model": "nope", "config": {}, "version": "v", "n_users": 0}
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "n_items": 0}))
    with pytest.raises(ArtifactError, match=r"manifest\.json: unknown model 'nope'"):
        load_model(tmp_path)


def test_params_are_loaded_without_pickle(tmp_path: Path) -> None:
    Popularity().fit(Dataset.from_frame(planted_frame())).save(tmp_path)
    (tmp_path / "params.npz").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match=r"params\.npz is not an \.npz archive"):
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


# ---- loading is validated (issue 8) ---------------------------------------------------------

SMALL = {"mf-sgd": {"epochs": 2, "embedding_size": 4}, "als": {"factors": 4}, "bpr": {"factors": 4}}
FOLD_IN = pd.DataFrame(
    {
        "user_id": ["u0", "new"],
        "item_id": ["i9", "i1"],
        "value": 1.0,
        "timestamp": pd.Timestamp("2024-03-01"),
    }
)


FOLDABLE = [name for name in MODELS if hasattr(model_class(name), "partial_fit")]


@pytest.mark.parametrize(
    ("name", "folded"), [(n, False) for n in MODELS] + [(n, True) for n in FOLDABLE]
)
def test_every_model_passes_its_own_load_checks(tmp_path: Path, name: str, folded: bool) -> None:
    """Each model's params_spec matches what it saves, also after partial_fit grew it."""
    model = create_model(name, SMALL.get(name, {})).fit(Dataset.from_frame(planted_frame()))
    if folded:
        model.partial_fit(FOLD_IN)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    users = ["u0", "u3", "u7"]
    assert np.array_equal(
        loaded.recommend(users, 3).to_frame().to_numpy(),
        model.recommend(users, 3).to_frame().to_numpy(),
    )


def _ease_dir(tmp_path: Path) -> Path:
    path = tmp_path / "m"
    create_model("ease", {}).fit(Dataset.from_frame(planted_frame())).save(path)
    return path


def _rewrite_params(path: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    with np.load(path / "params.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    (path / "params.npz").unlink()
    np.savez(path / "params.npz", **arrays)  # type: ignore[arg-type]


def _set(key: str, value: Any) -> Callable[[dict[str, np.ndarray]], None]:
    return lambda arrays: arrays.__setitem__(key, value)


def _nan_weight(arrays: dict[str, np.ndarray]) -> None:
    arrays["weights"][1, 2] = np.nan


def _drop(key: str) -> Callable[[dict[str, np.ndarray]], None]:
    return lambda arrays: arrays.pop(key)


BAD_ARRAYS = {
    "nan weights": (_nan_weight, "array 'weights' has non-finite values"),
    "wrong shape": (
        _set("weights", np.zeros((8, 7), np.float32)),
        "array 'weights' has shape (8, 7), expected (8, 8)",
    ),
    "more items than the manifest": (
        _set("weights", np.zeros((9, 9), np.float32)),
        "array 'weights' has shape (9, 9), expected (8, 8)",
    ),
    "integer weights": (
        _set("weights", np.zeros((8, 8), np.int64)),
        "array 'weights' has dtype int64, expected float",
    ),
    "missing array": (_drop("profile_newest"), "array 'profile_newest' is missing"),
    "extra array": (
        _set("user_factors", np.zeros((12, 4), np.float32)),
        "unexpected array 'user_factors'",
    ),
    "profiles of other users": (
        _set("profiles_shape", np.array([11, 8])),
        "array 'profiles_shape' holds (11, 8), expected (12, 8)",
    ),
    "column index past the catalogue": (
        lambda a: a["profiles_indices"].__setitem__(0, 8),
        "array 'profiles_indices' has entries outside 0..7",
    ),
    "broken row pointer": (
        lambda a: a["_seen_indptr"].__setitem__(3, 99),
        "array '_seen_indptr' is not a valid CSR row pointer",
    ),
    "fewer item ids": (
        lambda a: a.__setitem__("_items", a["_items"][:7]),
        "array '_items' has shape (7,), expected (8,)",
    ),
    "duplicated user ids": (
        lambda a: a["_users"].__setitem__(1, a["_users"][0]),
        "vocabulary ids must be unique",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_arrays_are_checked_against_the_manifest_and_the_model(tmp_path: Path, case: str) -> None:
    path = _ease_dir(tmp_path)
    change, message = BAD_ARRAYS[case]
    _rewrite_params(path, change)
    with pytest.raises(ArtifactError) as info:
        load_model(path)
    assert str(info.value) == f"{path / 'params.npz'}: {message}" or message in str(info.value)
    assert str(info.value).startswith(str(path / "params.npz"))


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda path: (path / name).write_bytes(data)


def _manifest(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        manifest = json.loads((path / "manifest.json").read_text())
        change(manifest)
        (path / "manifest.json").write_text(json.dumps(manifest))

    return edit


def _other_models_params(path: Path) -> None:
    other = path.parent / "als"
    create_model("als", {"factors": 4}).fit(Dataset.from_frame(planted_frame())).save(other)
    (path / "params.npz").write_bytes((other / "params.npz").read_bytes())


def _truncated(path: Path) -> None:
    raw = (path / "params.npz").read_bytes()
    (path / "params.npz").write_bytes(raw[: len(raw) // 2])


def _object_array(path: Path) -> None:
    _rewrite_params(path, _set("weights", np.array([{"x": 1}], dtype=object)))


BROKEN_DIRS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "manifest is a list": (_write("manifest.json", b"[1, 2]"), "manifest.json", "not a list"),
    "manifest is a string": (_write("manifest.json", b'"ease"'), "manifest.json", "not a str"),
    "manifest not UTF-8": (
        _write("manifest.json", b'{"format": 1, "model": "\xff"}'),
        "manifest.json",
        "is not UTF-8 text",
    ),
    "manifest without model": (
        _manifest(lambda m: m.pop("model")),
        "manifest.json",
        "the key 'model' is missing",
    ),
    "manifest n_items not a number": (
        _manifest(lambda m: m.update(n_items="8")),
        "manifest.json",
        "'n_items' must be a whole number",
    ),
    "manifest of an unknown model": (
        _manifest(lambda m: m.update(model="nope")),
        "manifest.json",
        "unknown model 'nope'",
    ),
    "manifest with a bad config": (
        _manifest(lambda m: m["config"].update(regularization=-1)),
        "manifest.json",
        "invalid config: regularization",
    ),
    "arrays of another model": (_other_models_params, "params.npz", "is missing"),
    "truncated params": (_truncated, "params.npz", "is truncated or corrupt"),
    "empty params": (_write("params.npz", b""), "params.npz", "is empty"),
    "params not an archive": (_write("params.npz", b"garbage"), "params.npz", "not an .npz"),
    "params holding objects": (_object_array, "params.npz", "holds Python objects"),
    "params missing": (lambda p: (p / "params.npz").unlink(), "params.npz", "is missing"),
}


@pytest.mark.parametrize("case", list(BROKEN_DIRS))
def test_broken_model_folder_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Through ``tailor recommend --model-dir``: exit 2 and one line naming the file; never a
    traceback, numpy's hint to load with pickle, or exit 130 (click's Abort on EOFError)."""
    from tailor.cli import main

    path = _ease_dir(tmp_path)
    break_it, file, message = BROKEN_DIRS[case]
    break_it(path)
    args = ["recommend", "--model-dir", path, "--users", "all", "--out", tmp_path / "r.csv"]
    monkeypatch.setattr(sys, "argv", ["tailor", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {path / file}")
    assert message in err[0]
    assert "pickle" not in err[0]
    assert not (tmp_path / "r.csv").exists()


def test_artifact_files_follow_the_umask(tmp_path: Path) -> None:
    """Artifacts get the mode of any other output (0644 under umask 022), not mkstemp's 0600."""
    old = os.umask(0o022)
    try:
        Popularity().fit(Dataset.from_frame(planted_frame())).save(tmp_path / "m")
        record_metrics(tmp_path / "m", {"ndcg@10": 0.5})
    finally:
        os.umask(old)
    for name in ("manifest.json", "params.npz"):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == 0o644, name
