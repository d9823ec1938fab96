"""Issue 8, evaluation: K is bounded, memory is estimated before allocating, and any K costs no
more memory than the lists themselves; recommendation files are refused rather than re-scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tailor.evaluation.lists as lists_module
from tailor.cli.evaluate import MAX_K as CLI_MAX_K
from tailor.errors import ConfigError, DataError
from tailor.evaluation import evaluate, read_recs
from tailor.evaluation.runner import MAX_K


def _recs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c"],
            "item_id": ["x", "y", "z", "y", "w", "x"],
            "rank": [1, 2, 3, 1, 2, 1],
        }
    )


def _truth() -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": ["a", "a", "b", "c", "d"], "item_id": ["y", "q", "w", "z", "x"]}
    )


def test_cli_and_library_share_the_bound() -> None:
    assert CLI_MAX_K == MAX_K == 100_000


@pytest.mark.parametrize(
    ("k", "curve_k", "message"),
    [
        (MAX_K + 1, 0, "k must be in \\[1, 100000\\], got 100001"),
        (10, MAX_K + 1, "curve_k must be in \\[0, 100000\\], got 100001"),
        (10, -1, "curve_k must be in \\[0, 100000\\], got -1"),
    ],
)
def test_k_out_of_bounds(k: int, curve_k: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        evaluate(_recs(), _truth(), k, curve_k=curve_k)


def test_width_is_capped_at_the_longest_list_or_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    real = lists_module._fill_lists

    def spy(users, items, order, n_users, width):  # type: ignore[no-untyped-def]
        seen.append((n_users, width))
        return real(users, items, order, n_users, width)

    monkeypatch.setattr(lists_module, "_fill_lists", spy)
    big = evaluate(_recs(), _truth(), (2, MAX_K), curve_k=MAX_K, ci=False)
    assert seen == [(4, 3)]  # 4 truth users, the longest list has 3 items
    small = evaluate(_recs(), _truth(), (2, 3), curve_k=3, ci=False)
    for name in ("ndcg", "recall", "map", "mrr", "hit_rate"):
        assert big.metrics[f"{name}@{MAX_K}"] == pytest.approx(small.metrics[f"{name}@3"])
    assert big.metrics[f"precision@{MAX_K}"] == pytest.approx(
        small.metrics["precision@3"] * 3 / MAX_K
    )
    assert big.metrics["ndcg@2"] == small.metrics["ndcg@2"]


def test_curves_beyond_the_width_match_the_metrics() -> None:
    result = evaluate(_recs(), _truth(), (1, 3, 7, 50), curve_k=60, ci=False, segments=False)
    curves = result.curves.set_index("k")
    assert len(curves) == 60
    for k in (1, 3, 7, 50):
        for name in ("ndcg", "precision", "recall", "map", "mrr", "hit_rate"):
            assert curves.loc[k, name] == pytest.approx(result.metrics[f"{name}@{k}"]), (k, name)


def test_memory_is_estimated_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_module, "available_memory", lambda: 1000)

    def never(*args: object) -> None:
        raise AssertionError("allocated despite the estimate")

    monkeypatch.setattr(lists_module, "_fill_lists", never)
    with pytest.raises(ConfigError) as info:
        evaluate(_recs(), _truth(), 10, curve_k=100)
    message = str(info.value)
    assert "evaluating lists of up to 3 items for 4 users needs about" in message
    assert "more than the 0 MB available" in message


def test_available_memory_is_known_here() -> None:
    available = lists_module.available_memory()
    assert available is not None and available > 0


# ---------------------------------------------------------------------------------------------
# read_recs


def _write(tmp_path: Path, frame: pd.DataFrame, fmt: str) -> Path:
    path = tmp_path / f"recs.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_read_recs_accepts_gaps_and_tied_scores(tmp_path: Path, fmt: str) -> None:
    gaps = pd.DataFrame({"user_id": ["1", "1", "2"], "item_id": ["a", "b", "a"], "rank": [3, 7, 3]})
    assert len(read_recs(_write(tmp_path, gaps, fmt))) == 3
    tied = gaps.drop(columns="rank").assign(score=[1.0, 1.0, 0.5])
    assert len(read_recs(_write(tmp_path, tied, fmt))) == 3


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_read_recs_refuses_repeats_in_score_files(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {"user_id": ["1", "2", "2", "1"], "item_id": ["a", "a", "b", "a"], "score": [3, 2, 1, 0]}
    )
    path = _write(tmp_path, frame, fmt)
    with pytest.raises(DataError) as info:
        read_recs(path)
    assert str(info.value).startswith(
        f"file {path}, row 4: (user_id, item_id) ('1', 'a') repeats row 1"
    )


def test_first_repeat_is_the_earliest_in_file_order() -> None:
    from tailor.evaluation.io import _first_repeat

    users = np.array([0, 1, 1, 0, 1, 0])
    items = np.array([5, 6, 7, 8, 6, 5])
    assert _first_repeat(users, items) == (4, 1)
    assert _first_repeat(users[:4], items[:4]) is None
    assert _first_repeat(np.array([1])) is None


@pytest.mark.parametrize(
    ("relevance", "gain"), [([2000.0, 1.0], "exponential"), ([1e308, 1e308], "linear")]
)
def test_relevance_whose_gains_overflow_is_refused(relevance: list[float], gain: str) -> None:
    recs = pd.DataFrame({"user_id": ["1", "1"], "item_id": ["a", "b"], "rank": [1, 2]})
    truth = pd.DataFrame({"user_id": ["1", "1"], "item_id": ["a", "b"], "relevance": relevance})
    with pytest.raises(DataError, match=f"user '1' is too large: its {gain} gains overflow"):
        evaluate(recs, truth, 2, gain=gain, curve_k=0)  # type: ignore[arg-type]
    fine = evaluate(recs, truth.assign(relevance=[3.0, 1.0]), 2, gain=gain, curve_k=0)  # type: ignore[arg-type]
    assert fine.metrics["ndcg@2"] == 1.0
