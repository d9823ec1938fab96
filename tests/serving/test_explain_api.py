"""``?explain=true`` (GET) and ``"explain": true`` (POST): per-item explanations in the answer,
computed only when asked, never in place of the plain (cached) answer.

The model: EASE on the planted shop with planted weights B (item numbers: i0 i2 i3 i1 = 0..3,
i4 = 4, i5 = 7). u0 bought i0, i2, i3: B(i0->i1) = 0.5, B(i2->i1) = 0.25, B(i3->i1) = -0.125, so
u0's top item i1 scores 0.625 and is explained by exactly those three contributions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tailor.data.dataset import Dataset
from tailor.models import EASE, Popularity
from tailor.serving.app import create_app
from tailor.testing import planted_frame
from tailor.testing.serving import CATALOG, serve_settings, write_model_dir

I0_TO_I1 = [{"name": "i0", "value": 0.5}, {"name": "i2", "value": 0.25}]
I1 = {"kind": "items", "score": 0.625, "base_value": 0.0}


@pytest.fixture
def planted_dir(tmp_path: Path) -> Path:
    path = tmp_path / "model"
    data = Dataset.from_frame(planted_frame(), items=CATALOG)
    model = EASE().fit(data)
    b = np.zeros((8, 8), np.float32)
    b[0, 3], b[1, 3], b[2, 3] = 0.5, 0.25, -0.125  # i0, i2, i3 -> i1
    b[7, 4] = 0.75  # i5 -> i4
    model.load_state({**model.state_arrays(), "weights": b})
    model.save(path)
    Popularity().fit(data).save(path / "popularity")
    CATALOG.to_parquet(path / "items.parquet")
    return path


def _client(path: Path, **options: Any) -> TestClient:
    return TestClient(create_app(serve_settings(path, **{"scoring_budget_ms": 5000, **options})))


def _get(client: TestClient, user: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/recommendations/{user}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_get_explains_each_item_by_the_users_purchases(planted_dir: Path) -> None:
    with _client(planted_dir) as c:
        body = _get(c, "u0", n=1, explain="true")
        top2 = _get(c, "u0", n=1, explain="true", explain_top=2)
    assert body["explain_status"] == "ok"
    assert body["items"] == [
        {
            "item_id": "i1",
            "score": 0.625,
            "explanation": {
                **I1,
                "contributions": [*I0_TO_I1, {"name": "i3", "value": -0.125}],
            },
        }
    ]
    assert top2["items"][0]["explanation"] == {**I1, "contributions": I0_TO_I1}


def test_plain_answers_carry_no_explanation_and_explained_ones_the_same_list(
    planted_dir: Path,
) -> None:
    with _client(planted_dir) as c:
        plain = _get(c, "u0", n=3)  # scored live, written back
        explained = _get(c, "u0", n=3, explain="true")  # a cache hit, then explained
        again = _get(c, "u0", n=3)  # the cache holds the plain list
    assert "explain_status" not in plain and "explanation" not in plain["items"][0]
    assert "explain_status" not in again and "explanation" not in again["items"][0]
    assert explained["source"] == "cache" and again["source"] == "cache"
    assert items_of_body(plain) == items_of_body(explained) == items_of_body(again)
    assert [x["score"] for x in explained["items"]] == [x["score"] for x in plain["items"]]
    for item in explained["items"]:  # every listed item: u0's own purchases explain it
        e = item["explanation"]
        assert e["kind"] == "items" and e["score"] == pytest.approx(item["score"])
        assert {x["name"] for x in e["contributions"]} <= {"i0", "i2", "i3"}


def items_of_body(body: dict[str, Any]) -> list[str]:
    return [x["item_id"] for x in body["items"]]


def test_a_sessions_list_is_explained_by_its_recent_items(planted_dir: Path) -> None:
    with _client(planted_dir) as c:
        sessions = c.app.state.services.sessions  # type: ignore[attr-defined]
        c.portal.call(sessions.add, "s1", ["i5"])  # type: ignore[union-attr]
        body = _get(c, "s1", n=1, explain="true")
    assert body["source"] == "session"
    assert body["items"][0]["item_id"] == "i4"
    assert body["items"][0]["explanation"] == {
        "kind": "items",
        "score": 0.75,
        "base_value": 0.0,
        "contributions": [{"name": "i5", "value": 0.75}],
    }


def test_post_explains_with_the_context_and_leaves_others_plain(planted_dir: Path) -> None:
    with _client(planted_dir) as c:
        r = c.post(
            "/v1/recommendations",
            json={
                "user_ids": ["u0", "nobody"],
                "n": 2,
                "context": {"cart_items": ["i5"]},
                "explain": True,
                "explain_top": 1,
            },
        )
        plain = c.post("/v1/recommendations", json={"user_ids": ["u0"], "n": 2})
    assert r.status_code == 200, r.text
    u0, nobody = r.json()["results"]
    # u0's history plus the cart: i1 from u0's purchases, i4 from the cart's i5
    assert u0["source"] == "session" and items_of_body(u0) == ["i4", "i1"]
    assert [x["explanation"]["contributions"] for x in u0["items"]] == [
        [{"name": "i5", "value": 0.75}],
        [{"name": "i0", "value": 0.5}],
    ]
    assert nobody["source"] == "session"  # an unknown id with a cart: the cart alone
    assert nobody["items"][0]["explanation"]["contributions"] == [{"name": "i5", "value": 0.75}]
    assert "explanation" not in plain.json()["results"][0]["items"][0]


def test_popular_answers_are_not_explained(planted_dir: Path, tmp_path: Path) -> None:
    with _client(planted_dir) as c:
        cold = _get(c, "stranger", n=2, explain="true")
    with _client(write_model_dir(tmp_path / "popularity-model")) as c:
        popular_model = _get(c, "u0", n=2, explain="true")
    assert cold["source"] == "cold_start" and cold["explain_status"] == "ok"
    assert [x["explanation"] for x in cold["items"]] == [None, None]
    assert popular_model["explain_status"] == "ok"
    assert [x["explanation"] for x in popular_model["items"]] == [None, None]


def test_a_slow_or_failing_explanation_keeps_the_answer(planted_dir: Path) -> None:
    with _client(planted_dir) as c:
        plain = _get(c, "u0", n=2)
        service = c.app.state.services.service  # type: ignore[attr-defined]
        service.budget_s = 0.05  # after the plain answer: only the explanations run short
        pipeline = c.app.state.services.holder.state.pipeline  # type: ignore[attr-defined]

        def slow(*args: Any) -> Any:
            time.sleep(0.5)
            raise AssertionError("too late to matter")

        object.__setattr__(pipeline, "explain", slow)
        late = _get(c, "u0", n=2, explain="true")

        def broken(*args: Any) -> Any:
            raise RuntimeError("boom")

        object.__setattr__(pipeline, "explain", broken)
        failed = _get(c, "u0", n=2, explain="true")
    for body, status in ((late, "timeout"), (failed, "error")):
        assert body["explain_status"] == status
        assert items_of_body(body) == items_of_body(plain)
        assert [x["explanation"] for x in body["items"]] == [None, None]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"explain": "perhaps"}, "explain"), ({"explain": "true", "explain_top": 0}, "explain_top")],
)
def test_bad_explain_parameters_are_named(
    planted_dir: Path, params: dict[str, Any], field: str
) -> None:
    with _client(planted_dir) as c:
        r = c.get("/v1/recommendations/u0", params=params)
        body = c.post(
            "/v1/recommendations", json={"user_ids": ["u0"], "explain": True, "explain_top": 21}
        )
    assert r.status_code == 422 and field in r.text
    assert body.status_code == 422 and "explain_top" in body.text
