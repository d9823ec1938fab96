"""SIGKILL `tailor fit` at random instants: the model folder is always the complete old model
or the complete new one, never a mix (issue: ALS manifest beside EASE arrays in 3 of 12 tries)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.models.model_dir import POPULARITY_DIR, load_model_dir
from tailor.outputs import MARKER
from tailor.testing.data import random_frame

TRIES = 20
TAILOR = str(Path(sys.executable).parent / "tailor")


def _fit(train: Path, model: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [TAILOR, "fit", "--train", str(train), "--model", model, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _state(out: Path) -> tuple[str, str]:
    """(model name, version) of a folder that loads completely, with all its parts."""
    model, popularity = load_model_dir(out)  # validates manifest against arrays
    assert popularity is not None and (out / POPULARITY_DIR / "params.npz").is_file()
    assert (out / MARKER).is_file() and (out / "items.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == model.name
    return model.name, manifest["version"]


@pytest.mark.slow
def test_killed_fit_leaves_old_or_new_model_whole(tmp_path: Path) -> None:
    train = tmp_path / "split" / "train.parquet"
    train.parent.mkdir()
    random_frame(n_users=2000, n_items=1500, n=30_000, seed=1).to_parquet(train, index=False)
    pd.DataFrame({"item_id": [f"i{k}" for k in range(1500)]}).to_parquet(
        train.parent / "items.parquet", index=False
    )
    out = tmp_path / "model"
    start = time.perf_counter()
    assert _fit(train, "itemknn", out).wait() == 0
    full = time.perf_counter() - start
    old = _state(out)
    rng = np.random.default_rng(0)
    outcomes = []
    for attempt in range(TRIES):
        name = "ease" if attempt % 2 == 0 else "itemknn"
        process = _fit(train, name, out)
        time.sleep(rng.uniform(0.3, 1.1) * full)  # most kills land in the fit and write phases
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        state = _state(out)
        assert state == old or state[0] == name, (attempt, state, old)
        if state != old:
            old = state  # a completed run: its result is the new reference
        outcomes.append(process.returncode)
    assert -signal.SIGKILL in outcomes  # the test did interrupt runs
    assert _fit(train, "ease", out).wait() == 0
    assert _state(out)[0] == "ease"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "split"]  # leftovers removed
