"""report.html's global importances, from the model's explanations (planted EASE weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.evaluation import evaluate, write_report
from tailor.evaluation.importance import global_importance
from tailor.models import EASE, Popularity
from tailor.testing import planted_frame


@pytest.fixture
def planted() -> EASE:
    """Item numbers i0 i2 i3 i1 = 0..3. u0 bought i0 i2 i3; u1 bought i0 i1 i3. Weights into i1
    only: i0 0.5, i2 0.25, i3 -0.125. u0's top item is i1 (0.625: i0 largest); u1 has seen i1,
    so its top item scores 0 and nothing explains it."""
    model = EASE().fit(Dataset.from_frame(planted_frame()))
    b = np.zeros((8, 8), np.float32)
    b[0, 3], b[1, 3], b[2, 3] = 0.5, 0.25, -0.125
    model.load_state({**model.state_arrays(), "weights": b})
    return model


def test_importance_averages_absolute_contributions_over_explained_items(planted: EASE) -> None:
    importance = global_importance(planted, ["u0", "u1", "stranger"], n=1)
    assert importance is not None
    assert (importance.kind, importance.n_users, importance.n_pairs) == ("items", 2, 2)
    assert importance.table.to_dict("list") == {
        "name": ["i0", "i2", "i3"],
        "mean_abs": [0.25, 0.125, 0.0625],
        "top_share": [0.5, 0.0, 0.0],
    }


def test_the_user_sample_is_seeded_and_bounded(planted: EASE) -> None:
    first = global_importance(planted, users=5, seed=3)
    again = global_importance(planted, users=5, seed=3)
    assert first is not None and again is not None
    assert first.n_users == 5 and first.n_pairs == 25  # each user has 5 unseen items of 8
    pd.testing.assert_frame_equal(first.table, again.table)


def test_popularity_has_no_importances() -> None:
    assert global_importance(Popularity().fit(Dataset.from_frame(planted_frame()))) is None


def test_report_shows_the_importances_when_given(planted: EASE, tmp_path: Path) -> None:
    recs = pd.DataFrame({"user_id": ["u0"], "item_id": ["i1"], "rank": [1], "score": [0.6]})
    truth = pd.DataFrame({"user_id": ["u0"], "item_id": ["i1"]})
    result = evaluate(recs, truth, (1,), ci=False)
    importance = global_importance(planted, ["u0", "u1"], n=1)
    write_report(result, tmp_path / "with", importance=importance)
    write_report(result, tmp_path / "without")
    page = (tmp_path / "with" / "report.html").read_text()
    assert "<h2>Explanations: global importances (items)</h2>" in page
    assert "over 2 users (2 items)" in page
    assert "<tr><td class='text'>i0</td><td>0.25</td><td>50.0%</td></tr>" in page
    assert "Global importances (items): mean |contribution|" in page  # the bar chart
    assert "global importances" not in (tmp_path / "without" / "report.html").read_text()


def test_evaluate_with_the_model_folder_shows_its_importances(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tailor.cli.evaluate import evaluate as evaluate_cli
    from tailor.models.model_dir import fit_model_dir

    frame = planted_frame()
    fit_model_dir(frame, "ease", {}, tmp_path / "model")
    recs = pd.DataFrame({"user_id": ["u0", "u6"], "item_id": ["i1", "i5"], "rank": [1, 1]})
    truth = pd.DataFrame({"user_id": ["u0", "u6"], "item_id": ["i1", "i6"]})
    recs.to_csv(tmp_path / "recs.csv", index=False)
    truth.to_csv(tmp_path / "truth.csv", index=False)
    args = ["--recs", tmp_path / "recs.csv", "--truth", tmp_path / "truth.csv", "--k", "1"]
    result = CliRunner().invoke(
        evaluate_cli, [*map(str, args), "--model-dir", str(tmp_path / "model"), "--out",
                       str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Explanations: global importances (items)" in page
    assert "over 2 users (10 items)" in page  # u0 and u6, 5 unseen items each
