"""Cold start through the model folder: the segment blend's default, the slots' options and
errors, and the ``tailor fit``/``tailor recommend`` switches, on a shop small enough to derive
the lists by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tailor.errors import ConfigError
from tailor.models import Popularity
from tailor.models.model_dir import ModelDir, fit_model_dir
from tailor.pipeline import Pipeline, Query
from tailor.pipeline.core import DEFAULT_SEGMENT_BLEND, segment_blend_for
from tailor.serving.settings import ServeSettings
from tailor.testing.cli import run_cli

# FR: a, b; UK: c, d, e. Distinct buyers: x 2, y 2, z 3 (of 7); FR's own: x 2, y 1 (of 3).
PAIRS = [("a", "x"), ("b", "x"), ("b", "y"), ("c", "z"), ("d", "z"), ("d", "y"), ("e", "z")]
USERS = pd.DataFrame({"user_id": list("abcde"), "country": ["FR", "FR", "UK", "UK", "UK"]})


def _frame() -> pd.DataFrame:
    """Every purchase at the same time: a half-life decays nothing, counts stay exact."""
    return pd.DataFrame(
        {
            "user_id": [u for u, _ in PAIRS],
            "item_id": [i for _, i in PAIRS],
            "timestamp": pd.Timestamp("2024-01-01"),
        }
    )


def _folder(tmp: Path, name: str, **options: Any) -> Path:
    path = tmp / name
    fit_model_dir(_frame(), "ease", {}, path, users=USERS, **options)
    return path


def test_blend_default_follows_the_fallback(tmp_path: Path) -> None:
    assert segment_blend_for(Popularity(), None) == 0.0
    assert segment_blend_for(Popularity(half_life_days=7.0), None) == DEFAULT_SEGMENT_BLEND == 1
    assert segment_blend_for(Popularity(half_life_days=7.0), 0.0) == 0.0  # asked for: kept
    plain = Pipeline.from_model_dir(_folder(tmp_path, "plain"), segment_column="country")
    # plain counts, no blend: FR's own buyers only (z has none there)
    assert plain.popular.top(segment="FR") == [("x", 2.0), ("y", 1.0)]
    decayed = Pipeline.from_model_dir(
        _folder(tmp_path, "decayed", fallback_half_life=7.0), segment_column="country"
    )
    # share in FR + 1 x global share: x 2/3 + 2/7, y 1/3 + 2/7, z 0 + 3/7
    got = decayed.popular.top(segment="FR")
    assert [i for i, _ in got] == ["x", "y", "z"]
    assert [s for _, s in got] == pytest.approx([20 / 21, 13 / 21, 9 / 21])
    unblended = Pipeline.from_model_dir(
        tmp_path / "decayed", segment_column="country", segment_blend=0.0
    )
    assert [i for i, _ in unblended.popular.top(segment="FR")] == ["x", "y"]
    result = decayed.recommend(["new"], Query(n=3), segments={"new": "FR"})
    assert [i for i, _ in result.lists()["new"]] == ["x", "y", "z"]  # a new FR customer


def test_no_slots_unless_asked_and_clear_errors(tmp_path: Path) -> None:
    items = pd.DataFrame({"item_id": ["x", "y", "z", "w"], "title": ["red mug"] * 4})
    with_content = tmp_path / "content"
    fit_model_dir(_frame(), "ease", {}, with_content, items=items)
    assert ModelDir.load(with_content).content is not None
    assert Pipeline.from_model_dir(with_content).cold_items is None  # opt-in
    slots = Pipeline.from_model_dir(with_content, cold_item_slots=(3, 1)).cold_items
    assert slots is not None and slots.ranks == (1, 3) and slots.item_ids.tolist() == ["w"]
    with pytest.raises(ConfigError, match="distinct integers >= 1"):
        Pipeline.from_model_dir(with_content, cold_item_slots=(0,))
    with pytest.raises(ConfigError, match="no content/ folder"):
        Pipeline.from_model_dir(_folder(tmp_path, "plain"), cold_item_slots=(5,))


def test_serve_settings_check_the_slots() -> None:
    assert ServeSettings(cold_item_slots=(10, 5)).cold_item_slots == (5, 10)
    assert ServeSettings().cold_item_slots == () and ServeSettings().segment_blend is None
    for bad in ((0,), (5, 5)):
        with pytest.raises(ValueError, match="distinct ranks >= 1"):
            ServeSettings(cold_item_slots=bad)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        ServeSettings(segment_blend=-1.0)


def test_fit_and_recommend_switches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, items = tmp_path / "train.csv", tmp_path / "items.csv"
    _frame().to_csv(train, index=False)
    pd.DataFrame({"item_id": ["x", "y", "z", "w"], "title": ["red mug"] * 4}).to_csv(
        items, index=False
    )
    base = ("fit", "--train", train, "--model", "ease", "--items", items)
    assert run_cli(*base, "--out", tmp_path / "on", "--fallback-half-life", 7) == 0
    assert (tmp_path / "on" / "content").is_dir()
    popularity = ModelDir.load(tmp_path / "on").popularity
    assert popularity is not None and popularity.config.half_life_days == 7.0
    assert run_cli(*base, "--out", tmp_path / "off", "--no-cold-items") == 0
    assert not (tmp_path / "off" / "content").exists()
    users, out = tmp_path / "users.csv", tmp_path / "recs.csv"
    pd.DataFrame({"user_id": ["a"]}).to_csv(users, index=False)
    args = ("recommend", "--model-dir", tmp_path / "on", "--users", users, "--k", 3)
    assert run_cli(*args, "--cold-item-slots", "1", "--out", out) == 0
    recs = pd.read_csv(out, dtype=str)
    assert recs["item_id"].iloc[0] == "w"  # the only new item takes rank 1
    capsys.readouterr()
    assert run_cli(*args, "--cold-item-slots", "1,x", "--out", tmp_path / "r2.csv") == 2
    assert "--cold-item-slots must be ranks like 5,10" in capsys.readouterr().err
    off = ("recommend", "--model-dir", tmp_path / "off", "--users", users)
    assert run_cli(*off, "--cold-item-slots", "2", "--out", tmp_path / "r3.csv") == 2
    assert "no content/ folder" in capsys.readouterr().err


def test_server_state_uses_and_keeps_the_folder_options(tmp_path: Path) -> None:
    """The server's loader builds the same lists as ``from_model_dir``, and its periodic
    refresh of the popular lists keeps the blend and the slots."""
    import os

    from tailor.serving.registry import ModelRegistry
    from tailor.serving.state import StateOptions, load_state, reload_popular

    items = pd.DataFrame({"item_id": ["x", "y", "z", "w"], "title": ["red mug"] * 4})
    path = tmp_path / "m"
    fit_model_dir(_frame(), "ease", {}, path, items=items, users=USERS, fallback_half_life=7.0)
    registry = ModelRegistry(path)
    state = load_state(registry, registry.active(), StateOptions(200, None, "country", (2,), None))
    local = Pipeline.from_model_dir(path, segment_column="country", cold_item_slots=(2,))
    assert state.pipeline.popular == local.popular
    assert [i for i, _ in state.pipeline.popular.top(segment="FR")] == ["x", "y", "z"]
    assert state.pipeline.cold_items is not None and state.pipeline.cold_items.ranks == (2,)
    for user in ("a", "c", "new"):
        query = Query(n=3)
        assert state.pipeline.recommend_user(user, query) == local.recommend_user(user, query)
    params = path / "popularity" / "params.npz"
    os.utime(params, (params.stat().st_atime, params.stat().st_mtime + 10))
    fresh = reload_popular(state, 200)
    assert fresh is not None and fresh[0] == local.popular  # the blend is kept
    plain = tmp_path / "plain"  # no content/: served without slots (logged), not refused
    fit_model_dir(_frame(), "ease", {}, plain)
    no_content = load_state(ModelRegistry(plain), None, StateOptions(200, cold_item_slots=(2,)))
    assert no_content.model is not None and no_content.pipeline.cold_items is None
