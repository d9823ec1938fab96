"""Data-parallel Wide & Deep: ``torchrun --nproc_per_node 2`` (gloo on CPU) on planted data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from tailor.models.wide_deep import WideDeep
from tailor.testing import planted_frame

PARAMS = ["embedding_size=8", "hidden=[16]", "epochs=40", "batch_size=4", "learning_rate=0.03",
          "negatives=4", "seed=3"]  # fmt: skip


def test_two_processes_end_with_identical_parameters(tmp_path: Path) -> None:
    train = tmp_path / "train.parquet"
    planted_frame().to_parquet(train)
    out, states = tmp_path / "model", tmp_path / "states"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "tailor.models.wide_deep.distributed", "--train", str(train), "--out", str(out),
        "--states", str(states), *[a for p in PARAMS for a in ("--param", p)],
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = np.load(states / "rank0.npz"), np.load(states / "rank1.npz")
    assert set(rank0.files) == set(rank1.files) >= {"user_emb", "item_emb", "deep_weights"}
    for key in rank0.files:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    # the planted answer: each user's one unseen item of their taste group comes first
    model = WideDeep.load(out)
    users = [f"u{k}" for k in range(12)]
    top = model.recommend(users, n=1)
    for k, user in enumerate(users):
        assert top.for_user(user) == [f"i{(0 if k < 6 else 4) + 1 + k % 3}"]
