"""ANN candidate retrieval for factor models: same answers as exact scoring, filters, built once."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.data.dataset import Dataset
from tailor.models import ALS, create_model
from tailor.models.artifacts import load_model
from tailor.pipeline.ann import AnnIndex, AnnSettings, build_ann, factor_view
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.scoring import ModelIndex, score_user
from tailor.serving import state as state_module
from tailor.serving.app import create_app
from tailor.testing.serving import items_of, serve_settings, write_factor_model_dir


@pytest.fixture(scope="module", autouse=True)
def _hnswlib(require: Callable[[bool, str], None]) -> None:
    require(importlib.util.find_spec("hnswlib") is not None, "hnswlib (the serve extra) is missing")


@pytest.fixture(scope="module")
def factor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_factor_model_dir(tmp_path_factory.mktemp("ann") / "model")


def test_factor_view_reproduces_model_scores(factor_dir: Path) -> None:
    model: Any = load_model(factor_dir)
    view = factor_view(model)
    assert view is not None
    assert view.items.shape == (300, 17)  # 16 factors + the item bias
    nums = np.arange(300)
    for user in (0, 7, 39):
        exact = model._score(np.array([user]))[0]
        np.testing.assert_allclose(view.scores(user, nums), exact, rtol=1e-5, atol=1e-5)


def test_non_factor_models_get_no_index(tmp_path: Path) -> None:
    from tailor.testing.data import planted_frame

    ease = create_model("ease").fit(Dataset.from_frame(planted_frame()))
    assert factor_view(ease) is None
    assert build_ann(ease, AnnSettings(min_items=1)) is None


def test_index_only_above_the_catalogue_size(factor_dir: Path) -> None:
    model = load_model(factor_dir)
    assert build_ann(model, AnnSettings(min_items=301)) is None
    assert build_ann(model, None) is None
    assert isinstance(build_ann(model, AnnSettings(min_items=300)), AnnIndex)


def test_small_catalogue_ann_equals_exact_for_every_user(factor_dir: Path) -> None:
    model: Any = load_model(factor_dir)
    catalog = Catalog.read(factor_dir / "items.parquet")
    index = ModelIndex.build(model, catalog)
    ann = build_ann(model, AnnSettings(min_items=1, candidate_factor=5))
    assert ann is not None
    used = 0
    for user in range(len(model.users)):
        for options in ({}, {"exclude": ["i0", "i5", "i10"]}, {"category": "c1"}):
            exact = score_user(model, index, user, 10, **options)  # type: ignore[arg-type]
            approx = score_user(model, index, user, 10, ann=ann, **options)  # type: ignore[arg-type]
            assert [i for i, _ in approx] == [i for i, _ in exact]  # recall@10 = 1.0, same order
            np.testing.assert_allclose(
                [s for _, s in approx], [s for _, s in exact], rtol=1e-5, atol=1e-5
            )
        found = ann.top(user, 10, allowed=index.allowed(None), banned=np.empty(0, np.int64))
        used += found is not None
    assert used == len(model.users)  # k = 5 * 10 < 300 / 2: the index answered, not the fallback


def test_too_few_candidates_falls_back_to_exact(factor_dir: Path) -> None:
    model = load_model(factor_dir)
    ann = build_ann(model, AnnSettings(min_items=1, candidate_factor=1))
    assert ann is not None
    nothing_allowed = np.zeros(300, dtype=bool)
    assert ann.top(0, 10, allowed=nothing_allowed, banned=np.empty(0, np.int64)) is None
    # a request for most of the catalogue is scored exactly
    assert ann.top(0, 200, allowed=None, banned=np.empty(0, np.int64)) is None


def test_recall_on_a_random_20k_item_factor_model() -> None:
    rng = np.random.default_rng(0)
    items, users, factors = 20_000, 1_000, 16
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k % users}" for k in range(items)],
            "item_id": [f"i{k}" for k in range(items)],
            "weight": np.float32(1.0),
        }
    )
    model = ALS(factors=factors, iterations=1, seed=0).fit(Dataset.from_frame(frame))
    arrays = dict(model.state_arrays())
    arrays["user_factors"] = rng.normal(size=(users, factors)).astype(np.float32)
    arrays["item_factors"] = rng.normal(size=(items, factors)).astype(np.float32)
    model.load_state(arrays)
    index = ModelIndex.build(model, Catalog())
    # the default search settings; a lighter build keeps the test quick
    ann = build_ann(model, AnnSettings(min_items=1, ef_construction=100))
    assert ann is not None
    recalls = []
    for user in range(0, users, 5):
        exact = {i for i, _ in score_user(model, index, user, 10)}
        approx = score_user(model, index, user, 10, ann=ann)
        assert len(approx) == 10
        recalls.append(len(exact & {i for i, _ in approx}) / 10)
    assert np.mean(recalls) >= 0.95


def _answers(client: TestClient, requests: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    out = []
    for params in requests:
        r = client.get("/v1/recommendations/" + params.pop("user"), params=params)
        assert r.status_code == 200
        out.append((r.json()["source"], items_of(r)))
    return out


def test_service_answers_through_the_index_like_exact_scoring(
    factor_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[AnnIndex | None] = []
    searches: list[int] = []

    def counting_build(model: Any, settings: AnnSettings | None) -> AnnIndex | None:
        built = build_ann(model, settings)
        builds.append(built)
        return built

    real_top = AnnIndex.top

    def counting_top(self: AnnIndex, *args: Any, **kwargs: Any) -> Any:
        searches.append(1)
        return real_top(self, *args, **kwargs)

    monkeypatch.setattr(state_module, "build_ann", counting_build)
    monkeypatch.setattr(AnnIndex, "top", counting_top)
    requests = [{"user": f"u{k}", "n": 10, "exclude_seen": "false"} for k in range(0, 40, 3)] + [
        {"user": "u1", "n": 5, "category": "c2", "exclude_seen": "false"},
        {"user": "u2", "n": 5, "exclude": ["i1", "i2", "i3"], "exclude_seen": "false"},
        {"user": "u3", "n": 10},  # a cache miss, then a hit from the written-back list
        {"user": "u3", "n": 10},
    ]
    with TestClient(create_app(serve_settings(factor_dir, ann_min_items=1))) as c:
        approx = _answers(c, [dict(r) for r in requests])
    assert len(builds) == 1 and builds[0] is not None  # one index for the version
    assert len(searches) >= len(requests) - 1  # every live request went through it
    with TestClient(create_app(serve_settings(factor_dir))) as c:  # default: exact (300 items)
        exact = _answers(c, [dict(r) for r in requests])
    assert len(builds) == 2 and builds[1] is None
    assert approx == exact
    assert [source for source, _ in approx][-2:] == ["model", "cache"]
    unavailable = {f"i{k}" for k in range(300) if k % 7 == 3}
    for params, (_, got) in zip(requests, approx, strict=True):
        assert len(got) == params["n"]
        assert not unavailable & set(got)
        if "category" in params:
            assert all(int(i[1:]) % 5 == 2 for i in got)
        assert not set(params.get("exclude", [])) & set(got)
