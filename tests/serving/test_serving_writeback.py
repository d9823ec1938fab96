"""Lists scored live on a cache miss are written back, so the user's next request is a hit."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.serving.cache import CacheUnavailable, MemoryRecCache
from tailor.testing.serving import U0_MODEL, items_of, serve_settings


def _get(client: TestClient, user: str, **params: object) -> tuple[str, list[str]]:
    r = client.get(f"/v1/recommendations/{user}", params=params)  # type: ignore[arg-type]
    assert r.status_code == 200
    return r.json()["source"], items_of(r)


def test_miss_is_written_back_and_next_request_hits(client: TestClient) -> None:
    assert _get(client, "u0", n=3) == ("model", U0_MODEL[:3])
    assert _get(client, "u0", n=3) == ("cache", U0_MODEL[:3])
    assert _get(client, "u0", n=5) == ("cache", U0_MODEL)  # the stored list is the full one
    text = client.get("/metrics").text
    assert 'tailor_serving_cache_writes_total{result="written"} 1.0' in text
    assert 'tailor_serving_cache_lookups_total{result="miss"} 1.0' in text
    assert 'tailor_serving_cache_lookups_total{result="hit"} 2.0' in text


def test_filtered_miss_stores_the_unfiltered_list(client: TestClient) -> None:
    assert _get(client, "u0", category="a") == ("model", ["i1"])
    assert _get(client, "u0") == ("cache", U0_MODEL)
    assert _get(client, "u0", category="b", exclude="i4") == ("cache", ["i6", "i7", "i5"])


def test_lists_with_seen_items_are_not_written(client: TestClient) -> None:
    assert _get(client, "u0", exclude_seen="false", n=2)[0] == "model"
    assert _get(client, "u0", n=2)[0] == "model"  # still a miss: nothing was stored
    assert _get(client, "u0", n=2)[0] == "cache"


def test_written_lists_expire_with_the_configured_ttl(model_dir: Path) -> None:
    with TestClient(create_app(serve_settings(model_dir, cache_ttl_s=1))) as c:
        assert _get(c, "u0")[0] == "model"
        assert _get(c, "u0")[0] == "cache"
        time.sleep(1.1)
        assert _get(c, "u0")[0] == "model"


def test_failed_write_back_does_not_change_the_answer(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_put(
        self: MemoryRecCache, version: str, lists: Mapping[str, Sequence[tuple[str, float]]]
    ) -> None:
        raise CacheUnavailable("down")

    monkeypatch.setattr(MemoryRecCache, "put_recs", failing_put)
    with TestClient(create_app(serve_settings(model_dir))) as c:
        assert _get(c, "u0") == ("model", U0_MODEL)
        assert _get(c, "u0") == ("model", U0_MODEL)
        text = c.get("/metrics").text
        assert 'tailor_serving_cache_writes_total{result="failed"} 2.0' in text


def test_write_back_can_be_turned_off(model_dir: Path) -> None:
    with TestClient(create_app(serve_settings(model_dir, write_back=False))) as c:
        assert _get(c, "u0") == ("model", U0_MODEL)
        assert _get(c, "u0") == ("model", U0_MODEL)
