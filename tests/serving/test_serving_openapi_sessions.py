"""The recommendation routes against their OpenAPI spec with a model that scores histories
(EASE), so ``context`` bodies and ``source=session`` answers are generated and validated too
(``test_serving_openapi.py`` serves a Popularity model, whose sessions are cold starts)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from tailor.data.dataset import Dataset
from tailor.models import EASE, Popularity
from tailor.serving.app import create_app
from tailor.testing import planted_frame
from tailor.testing.serving import CATALOG, serve_settings


def _ease_dir(path: Path) -> Path:
    data = Dataset.from_frame(planted_frame(), items=CATALOG)
    EASE().fit(data).save(path)
    Popularity().fit(data).save(path / "popularity")
    CATALOG.to_parquet(path / "items.parquet")
    return path


_WORKDIR = Path(tempfile.mkdtemp(prefix="tailor-schemathesis-sessions-"))
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)
_APP = create_app(serve_settings(_ease_dir(_WORKDIR / "model"), scoring_budget_ms=5000))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP).include(
    path_regex=r"^/v1/recommendations"
)


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_recommendation_routes_conform_to_their_spec(case: Any) -> None:
    case.call_and_validate()


def test_session_answers_conform_to_the_spec() -> None:
    operation = schema.find_operation_by_label("POST /v1/recommendations")
    case = schema.make_case(
        operation=operation,
        body={
            "user_ids": ["s1", "u0", "nobody"],
            "n": 3,
            "context": {"recent_items": ["i5"], "cart_items": ["i6"]},
        },
        media_type="application/json",
    )
    response = case.call_and_validate()
    results = response.json()["results"]
    assert [r["source"] for r in results] == ["session"] * 3
    assert [[x["item_id"] for x in r["items"]] for r in results] == [
        ["i4", "i7", "i0"],
        ["i4", "i1", "i7"],  # u0's i0 i2 i3 plus two of group b: i4 leads, then u0's i1
        ["i4", "i7", "i0"],
    ]


def test_the_spec_documents_the_context() -> None:
    spec = _APP.openapi()
    components = spec["components"]["schemas"]
    context = components["RecommendContext"]["properties"]
    assert context["recent_items"]["maxItems"] == context["cart_items"]["maxItems"] == 50
    assert components["RecommendRequest"]["properties"]["context"]["anyOf"][0] == {
        "$ref": "#/components/schemas/RecommendContext"
    }
    assert "session" in components["RecommendResponse"]["properties"]["source"]["enum"]
