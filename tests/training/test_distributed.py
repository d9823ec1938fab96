"""Distributed tuning on PostgreSQL: two worker processes share one study (a fresh database per
test, dropped after it), and two separate ``tailor tune`` processes share a study's budget."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from training_helpers import planted_shop

from tailor.training.spaces import SearchSpace
from tailor.training.tuning import TuningSettings, optimize, storage_of

pytestmark = pytest.mark.integration

TAILOR = str(Path(sys.executable).parent / "tailor")
SPACE = SearchSpace.from_table({"x": {"low": 0.0, "high": 10.0}})


def slow_parabola(params: dict[str, Any], trial: Any) -> float:
    """Module level, so worker processes can unpickle it; slow enough for both to take part."""
    time.sleep(0.3)
    return -((params["x"] - 4.0) ** 2)


def test_two_worker_processes_share_one_postgresql_study(pg_url: str) -> None:
    import optuna

    settings = TuningSettings(
        sampler="tpe", trials=12, seed=0, storage=pg_url, study="shared", workers=2
    )
    result = optimize(SPACE, slow_parabola, settings)
    stored = optuna.load_study(study_name="shared", storage=storage_of(pg_url))
    finished = [t for t in stored.trials if t.state.is_finished()]
    # the budget is shared: 12, plus at most one trial in flight in the other worker
    assert 12 <= len(finished) <= 13
    workers = {t.user_attrs["worker"] for t in finished}
    assert len(workers) == 2 and os.getpid() not in workers  # two processes, not this one
    assert len(result.trials) == len(finished)
    assert abs(result.best_params["x"] - 4.0) < 2.0
    assert stored.best_value == result.best_value


def test_two_tailor_tune_processes_on_one_study(pg_url: str, tmp_path: Path) -> None:
    """Two `tailor tune` commands with the same --storage and --study: together they run the
    budget (not twice), and both report the study's best."""
    frame = planted_shop(n_users=160, per_user=8).rename(
        columns={"customer": "user_id", "sku": "item_id", "time": "timestamp"}
    )
    frame.iloc[:1000].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[1000:].to_csv(tmp_path / "validation.csv", index=False)
    command = [
        TAILOR, "tune", "--model", "ease",
        "--train", str(tmp_path / "train.csv"), "--validation", str(tmp_path / "validation.csv"),
        "--trials", "10", "--storage", pg_url, "--study", "cli-shared", "--seed", "0",
    ]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200"}
    procs = [
        subprocess.Popen(
            [*command, "--out", str(tmp_path / f"out{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    import optuna

    stored = optuna.load_study(study_name="cli-shared", storage=storage_of(pg_url))
    finished = [t for t in stored.trials if t.state.is_finished()]
    assert 10 <= len(finished) <= 11  # one budget, shared
    best = f"validation ndcg@10 {stored.best_value:.4f}"
    assert all(best in out for out in outputs), outputs


def test_hyperopt_refuses_a_storage() -> None:
    from tailor.errors import ConfigError

    with pytest.raises(ConfigError, match="hyperopt"):
        TuningSettings(sampler="hyperopt", storage="sqlite:///x.db")


def test_a_bad_storage_is_one_clear_error(tmp_path: Path) -> None:
    from tailor.training.tuning import TuningError

    settings = TuningSettings(storage="postgresql://nobody@127.0.0.1:1/none", trials=1)
    with pytest.raises(TuningError, match="cannot open the study storage"):
        optimize(SPACE, slow_parabola, settings)
