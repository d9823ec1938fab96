"""The server answers through the version's Pipeline: per-segment fallback lists (setting
``segment_column``, ``segment=`` for users the model does not know), backfill of short lists on
every path, and the same lists as the pipeline's batch path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.models import Popularity
from tailor.pipeline import Pipeline, Query
from tailor.serving.app import create_app
from tailor.testing.serving import items_of, serve_settings, write_model_dir

# planted_frame(): u0-u5 like i0-i3, u6-u11 like i4-i7; popularity i0, i4 (6 users), then 4 each;
# item numbers follow first appearance: i0 i2 i3 i1 i4 i6 i7 i5 (ties rank in this order)
USERS = pd.DataFrame({"user_id": [f"u{k}" for k in range(12)], "country": ["FR"] * 6 + ["UK"] * 6})


@pytest.fixture
def segmented_dir(tmp_path: Path) -> Path:
    path = write_model_dir(tmp_path / "model")
    USERS.to_parquet(path / "users.parquet", index=False)
    return path


def _client(path: Path, **options: Any) -> TestClient:
    settings = serve_settings(path, segment_column="country", scoring_budget_ms=2000, **options)
    return TestClient(create_app(settings))


def test_cold_start_uses_the_segment_list(segmented_dir: Path) -> None:
    with _client(segmented_dir) as c:
        fr = c.get("/v1/recommendations/new", params={"n": 3, "segment": "FR"})
        uk = c.get("/v1/recommendations/new", params={"n": 3, "segment": "UK"})
        anywhere = c.get("/v1/recommendations/new", params={"n": 3})
        batch = c.post("/v1/recommendations", json={"user_ids": ["new"], "n": 3, "segment": "UK"})
    assert fr.json()["source"] == uk.json()["source"] == "cold_start"
    assert items_of(fr) == ["i0", "i2", "i3"]  # FR users only bought i0-i3 (i0 by all six)
    assert items_of(uk) == ["i4", "i6", "i7"]
    assert items_of(anywhere) == ["i0", "i4", "i2"]  # the global list
    assert [x["item_id"] for x in batch.json()["results"][0]["items"]] == items_of(uk)


def test_a_known_users_fallback_uses_the_users_table_segment(segmented_dir: Path) -> None:
    with _client(segmented_dir) as c:
        state = c.app.state.services.holder.state  # type: ignore[attr-defined]

        def broken(*args: Any) -> Any:
            raise RuntimeError("boom")

        state.model._score = broken
        r = c.get("/v1/recommendations/u6", params={"n": 3})
    # u6 (UK) has seen i4, i6, i7 (its group's items but i5): the UK list without them, then
    # nothing else from UK users' purchases
    assert r.json()["source"] == "fallback"
    assert items_of(r) == ["i5"]


def test_every_path_backfills_short_model_lists(tmp_path: Path) -> None:
    """A model that can score only two items: the served list is those two, then popular
    items (same filters), from live scoring, a write-back miss and the warmed cache alike."""
    path = write_model_dir(tmp_path / "model")
    expected = None
    for options in ({"write_back": False}, {"write_back": True}, {"warm_on_start": True}):
        real = Popularity._score

        def two_items(self: Any, nums: np.ndarray, real: Any = real) -> np.ndarray:
            rows = np.array(real(self, nums), dtype=np.float32, copy=True)
            rows[:, 2:] = np.nan
            return rows

        Popularity._score = two_items  # type: ignore[method-assign]
        try:
            settings = serve_settings(path, scoring_budget_ms=2000, **options)
            with TestClient(create_app(settings)) as c:
                answers = [c.get("/v1/recommendations/u6", params={"n": 4}) for _ in range(2)]
                pipeline = c.app.state.services.holder.state.pipeline  # type: ignore[attr-defined]
                batch = pipeline.recommend(["u6"], Query(n=4)).lists()["u6"]
        finally:
            Popularity._score = real  # type: ignore[method-assign]
        for r in answers:
            assert r.json()["source"] in ("model", "cache")
            expected = expected or items_of(r)
            assert items_of(r) == expected == [i for i, _ in batch]
    # u6 saw i4, i6, i7: the model scores items 0 and 1 (i0, i2); then the popular list
    # without seen and listed items: i3, i1
    assert expected == ["i0", "i2", "i3", "i1"]


def test_server_pipeline_is_the_model_folders_pipeline(segmented_dir: Path) -> None:
    folder = Pipeline.from_model_dir(segmented_dir, segment_column="country")
    with _client(segmented_dir, warm_on_start=True) as c:
        for user in [*USERS["user_id"], "new"]:
            for params in ({"n": 3}, {"n": 2, "category": "b"}, {"n": 4, "exclude": ["i4"]}):
                r = c.get(f"/v1/recommendations/{user}", params=params)
                query = Query(
                    n=params["n"],
                    category=params.get("category"),
                    exclude=frozenset(params.get("exclude", [])),
                )
                assert items_of(r) == [i for i, _ in folder.recommend_user(user, query).items]
