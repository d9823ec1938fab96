"""Data versions: content fingerprints (tailor.training.fingerprints) and the repository's
dvc.yaml. ``dvc repro`` on a small generated shop in a temporary git repository gives outputs whose
fingerprints equal those of the same commands run directly."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tailor.models.artifacts import MANIFEST, load_model, read_manifest
from tailor.models.model_dir import ModelDir, fit_model_dir
from tailor.outputs import MARKER
from tailor.training.fingerprints import (
    content_fingerprint,
    file_sha256,
    fingerprints,
    frame_fingerprint,
    read_fingerprints,
    record_fingerprints,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUTS = ("data/prepared", "data/split", "data/model", "data/recs.parquet", "data/evaluation")


def tiny_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 500
    return pd.DataFrame(
        {
            "customer": rng.integers(0, 40, n).astype(str),
            "sku": ["i" + str(int(x) % 30) for x in rng.zipf(1.5, n)],
            "time": (
                pd.Timestamp("2024-01-01")
                + pd.to_timedelta(np.sort(rng.integers(0, 60 * 86400, n)), unit="s")
            ).strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


SOURCE_TOML = """name = "tiny"
[interactions]
path = "events.csv"
timestamp_format = "%Y-%m-%d %H:%M:%S"
event_type = "purchase"
[interactions.columns]
user_id = "customer"
item_id = "sku"
timestamp = "time"
"""

PARAMS = {
    "source": {"name": "generic", "args": "--config data/raw/shop.toml", "deps": "data/raw"},
    "split": {"cut": "2024-02-15", "validation_fraction": 0.15},
    "fit": {"model": "ease", "args": "--param regularization=50"},
    "evaluate": {"n": 20, "k": "5,10", "args": "--novel-only"},
}


# ---- fingerprints ---------------------------------------------------------------------------
def test_file_and_frame_fingerprints(tmp_path: Path) -> None:
    file = tmp_path / "a.bin"
    file.write_bytes(b"tailor" * 1000)
    assert file_sha256(file) == hashlib.sha256(b"tailor" * 1000).hexdigest()
    frame = tiny_frame()
    assert frame_fingerprint(frame) == frame_fingerprint(frame.copy())
    assert frame_fingerprint(frame) == frame_fingerprint(
        frame.set_index("sku", drop=False)
    )  # index out
    changed = frame.copy()
    changed.loc[3, "sku"] = "other"
    assert frame_fingerprint(changed) != frame_fingerprint(frame)
    assert frame_fingerprint(frame.iloc[::-1]) != frame_fingerprint(frame)  # order counts
    assert frame_fingerprint(frame.rename(columns={"sku": "item"})) != frame_fingerprint(frame)
    # the same rows read back from Parquet
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    assert frame_fingerprint(pd.read_parquet(tmp_path / "f.parquet")) == frame_fingerprint(frame)


def test_content_fingerprint_ignores_what_differs_between_identical_runs(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": list("aabbc"), "item_id": list("xyxzz")})
    frame["timestamp"] = pd.date_range("2024-01-01", periods=5, freq="D")
    first, second = tmp_path / "m1", tmp_path / "m2"
    fit_model_dir(frame, "ease", {"regularization": 1.0}, first)
    time.sleep(1.1)  # another second: created_at, the version stamp and the zip dates differ
    fit_model_dir(frame, "ease", {"regularization": 1.0}, second)
    assert read_manifest(first)["version"] != read_manifest(second)["version"]
    assert content_fingerprint(first) == content_fingerprint(second)
    assert (first / MARKER).is_file()  # the marker is there, and left out
    other = tmp_path / "m3"
    fit_model_dir(frame, "ease", {"regularization": 2.0}, other)
    assert content_fingerprint(other) != content_fingerprint(first)
    (first / "note.html").write_text("<p>rendered</p>")  # rendered pages are left out
    assert content_fingerprint(first) == content_fingerprint(second)


def test_record_fingerprints_in_the_manifest(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": list("aabbc"), "item_id": list("xyxzz")})
    frame["timestamp"] = pd.date_range("2024-01-01", periods=5, freq="D")
    train_file = tmp_path / "train.parquet"
    frame.to_parquet(train_file, index=False)
    model_dir = tmp_path / "model"
    fit_model_dir(frame, "ease", {"regularization": 1.0}, model_dir)
    before = content_fingerprint(model_dir)
    record = fingerprints(inputs={"train": train_file, "train_frame": frame, "items": None})
    stored = record_fingerprints(model_dir, record)
    assert stored["inputs"]["train"]["sha256"] == file_sha256(train_file)
    assert stored["inputs"]["train_frame"]["sha256"] == frame_fingerprint(frame)
    assert "items" not in stored["inputs"]
    assert stored["outputs"]["model"]["content"] == before
    manifest = json.loads((model_dir / MANIFEST).read_text())
    assert manifest["fingerprints"] == stored == read_fingerprints(model_dir)
    # merged, not replaced; the folder still loads; its content fingerprint is unchanged
    record_fingerprints(model_dir, fingerprints(outputs={"metrics": frame}))
    both = read_fingerprints(model_dir)
    assert {"train", "train_frame"} <= set(both["inputs"]) and "metrics" in both["outputs"]
    assert ModelDir.load(model_dir).model.name == "ease"
    assert load_model(model_dir).name == "ease"
    assert content_fingerprint(model_dir) == before
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".manifest")]


# ---- dvc.yaml -------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "true"
    return env


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _commands(dvc_yaml: Path, params: dict[str, Any]) -> list[str]:
    """Each stage's commands, in file order, with ${a.b} filled from the params."""

    def fill(text: str) -> str:
        def value(found: re.Match[str]) -> str:
            node: Any = params
            for part in found.group(1).split("."):
                node = node[part]
            return str(node)

        return re.sub(r"\$\{([\w.]+)\}", value, text)

    out = []
    for stage in yaml.safe_load(dvc_yaml.read_text())["stages"].values():
        cmds = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        out += [fill(c) for c in cmds]
    return out


def _fingerprints(repo: Path) -> dict[str, str]:
    return {name: content_fingerprint(repo / name) for name in OUTPUTS}


def test_dvc_repro_equals_the_commands_run_directly(tmp_path: Path, require: Any) -> None:
    require(shutil.which("git") is not None, "git is not installed")
    require((BIN / "dvc").is_file(), "DVC is not installed (the train extra)")
    repo = tmp_path / "project"
    (repo / "data" / "raw").mkdir(parents=True)
    tiny_frame().to_csv(repo / "data" / "raw" / "events.csv", index=False)
    (repo / "data" / "raw" / "shop.toml").write_text(SOURCE_TOML)
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    (repo / "params.yaml").write_text(yaml.safe_dump(PARAMS, sort_keys=False))
    _run(["git", "init", "-q"], repo)
    _run([str(BIN / "dvc"), "init", "-q"], repo)
    _run([str(BIN / "dvc"), "repro"], repo)
    assert (repo / "dvc.lock").is_file()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert list(lock["stages"]) == ["prepare", "split", "fit", "evaluate"]
    assert lock["stages"]["fit"]["params"]["params.yaml"]["fit"]["model"] == "ease"
    by_dvc = _fingerprints(repo)
    metrics = json.loads((repo / "data" / "evaluation" / "metrics.json").read_text())
    assert metrics["settings"]["k"] == [5, 10]
    assert read_manifest(repo / "data" / "model")["config"]["regularization"] == 50.0
    # nothing changed: nothing to rerun
    status = _run([str(BIN / "dvc"), "status"], repo)
    assert "up to date" in status

    # the same commands by hand, in the same folder (report.json names the input's full path)
    time.sleep(1.1)  # a different second: volatile stamps differ, fingerprints must not
    for name in OUTPUTS:
        target = repo / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for command in _commands(repo / "dvc.yaml", PARAMS):
        _run(["bash", "-c", command], repo)
    assert _fingerprints(repo) == by_dvc
