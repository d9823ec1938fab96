"""The recommendation routes on planted data: sources, filters, cold start, batch, validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.testing.serving import (
    CATALOG,
    POPULAR,
    U0_MODEL,
    U0_SEEN,
    items_of,
    serve_settings,
    write_model_dir,
)


def test_known_user_gets_model_list(client: TestClient) -> None:
    r = client.get("/v1/recommendations/u0", params={"n": 5})
    assert r.status_code == 200
    body = r.json()
    assert items_of(r) == U0_MODEL
    assert [e["score"] for e in body["items"]] == [6.0, 4.0, 4.0, 4.0, 4.0]
    assert body["source"] == "model"
    assert body["user_id"] == "u0"
    assert body["model_version"].startswith("popularity-")
    assert len(body["recommendation_id"]) == 32


def test_default_n_is_ten(client: TestClient) -> None:
    # u0 has 5 unseen items, fewer than the default 10
    assert items_of(client.get("/v1/recommendations/u0")) == U0_MODEL


def test_unknown_user_is_cold_start_not_error(client: TestClient) -> None:
    r = client.get("/v1/recommendations/stranger", params={"n": 3})
    assert r.status_code == 200
    assert r.json()["source"] == "cold_start"
    assert items_of(r) == POPULAR[:3]


def test_category_filter(client: TestClient) -> None:
    r = client.get("/v1/recommendations/u0", params={"category": "a"})
    assert items_of(r) == ["i1"]  # u0 saw i0, i2, i3 of category a
    cold = client.get("/v1/recommendations/nobody", params={"category": "b", "n": 2})
    assert items_of(cold) == ["i4", "i6"]
    assert items_of(client.get("/v1/recommendations/u0", params={"category": "zzz"})) == []


def test_exclude_list_and_exclude_seen(client: TestClient) -> None:
    r = client.get("/v1/recommendations/u0", params=[("exclude", "i4"), ("exclude", "i6")])
    assert items_of(r) == ["i1", "i7", "i5"]
    everything = client.get("/v1/recommendations/u0", params={"exclude_seen": "false", "n": 8})
    assert items_of(everything) == POPULAR
    assert U0_SEEN <= set(items_of(everything))


def test_unavailable_items_never_returned(tmp_path: Path) -> None:
    catalog = CATALOG.assign(available=[True] * 4 + [False, True, True, True])  # i4 is gone
    model = write_model_dir(tmp_path / "m", catalog=catalog)
    with TestClient(create_app(serve_settings(model))) as c:
        assert items_of(c.get("/v1/recommendations/u0")) == ["i1", "i6", "i7", "i5"]
        assert items_of(c.get("/v1/recommendations/new", params={"n": 3})) == ["i0", "i2", "i3"]
        assert "i4" not in items_of(c.get("/v1/popular", params={"n": 8}))


def test_batch_keeps_request_order(client: TestClient) -> None:
    # n=1: the model ties i1, i6, i7 and i5 after i4, and a cut inside a tie is arbitrary
    r = client.post("/v1/recommendations", json={"user_ids": ["nobody", "u0"], "n": 1})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["user_id"] for x in results] == ["nobody", "u0"]
    assert [x["source"] for x in results] == ["cold_start", "model"]
    assert [[e["item_id"] for e in x["items"]] for x in results] == [POPULAR[:1], U0_MODEL[:1]]


def test_popular_global_and_per_category(client: TestClient) -> None:
    assert items_of(client.get("/v1/popular", params={"n": 3})) == POPULAR[:3]
    r = client.get("/v1/popular", params={"category": "b"})
    assert items_of(r) == ["i4", "i6", "i7", "i5"]
    assert r.json()["source"] == "popular"
    assert items_of(client.get("/v1/popular", params={"category": "nope"})) == []


def test_similar_items_falls_back_to_category_popular(client: TestClient) -> None:
    # Popularity has no item similarity: the item's category list, without the item itself
    r = client.get("/v1/items/i0/similar", params={"n": 2})
    assert r.status_code == 200
    assert items_of(r) == ["i2", "i3"]
    assert r.json()["source"] == "fallback"
    missing = client.get("/v1/items/ghost/similar")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "path.item_id"


def test_precomputed_lists_are_served_from_cache(model_dir: Path) -> None:
    settings = serve_settings(model_dir, warm_on_start=True)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 3})
        assert r.json()["source"] == "cache"
        assert items_of(r) == U0_MODEL[:3]
        # filters still apply to a cached list
        assert items_of(c.get("/v1/recommendations/u0", params={"category": "a"})) == ["i1"]
        # the cache lists exclude seen items, so exclude_seen=false scores live
        r = c.get("/v1/recommendations/u0", params={"exclude_seen": "false", "n": 1})
        assert r.json()["source"] == "model"
        metrics = c.get("/metrics").text
        assert 'tailor_serving_cache_lookups_total{result="hit"} 2.0' in metrics
        assert 'tailor_serving_cache_lookups_total{result="miss"} 1.0' in metrics


def test_no_model_still_answers_from_popularity(tmp_path: Path) -> None:
    model = write_model_dir(tmp_path / "m")
    (model / "params.npz").write_bytes(b"broken")  # the model is corrupt, popularity/ is fine
    with TestClient(create_app(serve_settings(model))) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 2})
        assert r.status_code == 200
        assert r.json()["source"] == "fallback"
        assert items_of(r) == POPULAR[:2]
        assert c.get("/health/ready").status_code == 503
        assert c.get("/health/ready").json()["checks"] == {
            "model": False,
            "fallback": True,
            "cache": True,
        }


def test_missing_model_dir_starts_and_answers_503(tmp_path: Path) -> None:
    """Nothing to answer from: 503 (not an empty list that looks like an answer), never a
    crash; /health/ready says why."""
    with TestClient(create_app(serve_settings(tmp_path / "absent"))) as c:
        r = c.get("/v1/recommendations/u0")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "5"
        assert r.json()["detail"] == "no model and no fallback list are loaded; see /health/ready"
        assert c.post("/v1/recommendations", json={"user_ids": ["u0"]}).status_code == 503
        assert c.get("/v1/popular").status_code == 503
        assert c.get("/v1/items/i0/similar").status_code == 503
        assert c.get("/health/live").status_code == 200
        ready = c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["reason"] == (
            "model: no active version in the model store; fallback: no popular list"
        )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/recommendations/u0", {"n": 0}, "query.n"),
        ("/v1/recommendations/u0", {"n": 101}, "query.n"),
        ("/v1/recommendations/u0", {"n": "many"}, "query.n"),
        ("/v1/recommendations/u0", {"category": ""}, "query.category"),
        ("/v1/recommendations/bad%01id", {}, "path.user_id"),
        ("/v1/recommendations/c1%C2%85", {}, "path.user_id"),
        ("/v1/recommendations/" + "x" * 257, {}, "path.user_id"),
        ("/v1/recommendations/u0", {"exclude": "a\x7fb"}, "query.exclude.0"),
        ("/v1/popular", {"n": -1}, "query.n"),
        ("/v1/items/i0/similar", {"n": 1000}, "query.n"),
    ],
)
def test_invalid_input_is_422_problem_naming_field(
    client: TestClient, path: str, params: dict[str, object], field: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422
    assert [e["field"] for e in body["errors"]] == [field]


def test_id_of_256_characters_is_accepted(client: TestClient) -> None:
    r = client.get("/v1/recommendations/" + "x" * 256)
    assert r.status_code == 200
    assert r.json()["source"] == "cold_start"


def test_batch_validation(client: TestClient) -> None:
    r = client.post("/v1/recommendations", json={"user_ids": []})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.user_ids"
    r = client.post("/v1/recommendations", json={"user_ids": ["u0"], "surprise": 1})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.surprise"


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    r = client.get("/v2/whatever")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Not Found"


def test_oversized_body_is_413(model_dir: Path) -> None:
    with TestClient(create_app(serve_settings(model_dir, max_body_bytes=1000))) as c:
        users = [f"user-{k:05d}" for k in range(100)]
        r = c.post("/v1/recommendations", json={"user_ids": users})
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        small = c.post("/v1/recommendations", json={"user_ids": users[:3]})
        assert small.status_code == 200


def test_metrics_exposition(client: TestClient) -> None:
    client.get("/v1/recommendations/u0")
    client.get("/v1/recommendations/stranger")
    text = client.get("/metrics").text
    assert (
        'tailor_serving_request_seconds_count{route="/v1/recommendations/{user_id}",status="200"}'
        " 2.0" in text
    )
    assert 'tailor_serving_answers_total{source="cold_start"} 1.0' in text
    assert 'tailor_serving_answers_total{source="model"} 1.0' in text
    assert 'tailor_serving_model_info{model="popularity",version="popularity-' in text


def test_offline_metrics_from_manifest_are_exported(tmp_path: Path) -> None:
    import json

    model = write_model_dir(tmp_path / "m")
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["metrics"] = {"ndcg@10": 0.25}
    (model / "manifest.json").write_text(json.dumps(manifest))
    with TestClient(create_app(serve_settings(model))) as c:
        text = c.get("/metrics").text
        assert 'tailor_serving_model_offline_metric{metric="ndcg@10"} 0.25' in text


def test_category_from_popularity_when_no_catalog_file(tmp_path: Path) -> None:
    model = write_model_dir(tmp_path / "m")
    (model / "items.parquet").unlink()
    with TestClient(create_app(serve_settings(model))) as c:
        r = c.get("/v1/recommendations/u0", params={"category": "b", "n": 8})
        assert items_of(r) == ["i4", "i6", "i7", "i5"]


def test_catalog_without_available_column(tmp_path: Path) -> None:
    model = write_model_dir(tmp_path / "m", catalog=pd.DataFrame({"item_id": CATALOG["item_id"]}))
    with TestClient(create_app(serve_settings(model))) as c:
        assert items_of(c.get("/v1/recommendations/u0")) == U0_MODEL


def test_similar_items_from_a_model_that_supports_them(tmp_path: Path) -> None:
    from tailor.data.dataset import Dataset
    from tailor.models import create_model
    from tailor.testing.data import planted_frame

    model_dir = write_model_dir(tmp_path / "m")  # popularity/ and items.parquet
    create_model("ease").fit(Dataset.from_frame(planted_frame(), items=CATALOG)).save(model_dir)
    with TestClient(create_app(serve_settings(model_dir))) as c:
        r = c.get("/v1/items/i5/similar", params={"n": 1})
        assert (r.json()["source"], items_of(r)) == ("model", ["i4"])
        group = c.get("/v1/items/i0/similar", params={"n": 3})
        assert sorted(items_of(group)) == ["i1", "i2", "i3"]  # EASE ties them exactly
        # live scoring with EASE: u0's one unseen item of its group comes first
        rec = c.get("/v1/recommendations/u0", params={"n": 1})
        assert (rec.json()["source"], items_of(rec)) == ("model", ["i1"])


def test_hot_route_documents_each_query_parameter(client: TestClient) -> None:
    # the route validates the query itself (RecommendOneRoute); the spec must still list every
    # parameter with its constraints, as FastAPI generates it for plain parameters
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/v1/recommendations/{user_id}"]["get"]["parameters"]
    assert [(p["name"], p["in"]) for p in params] == [
        ("user_id", "path"),
        ("category", "query"),
        ("n", "query"),
        ("exclude", "query"),
        ("exclude_seen", "query"),
        ("segment", "query"),
        ("explain", "query"),
        ("explain_top", "query"),
    ]
    by_name = {p["name"]: p["schema"] for p in params}
    assert by_name["n"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert by_name["exclude"]["maxItems"] == 100
    assert by_name["exclude"]["default"] == []
    assert by_name["exclude_seen"]["default"] is True
    assert by_name["user_id"]["maxLength"] == 256
    assert by_name["segment"]["anyOf"][0]["maxLength"] == 256


def test_hot_route_reports_every_invalid_field_at_once(client: TestClient) -> None:
    r = client.get("/v1/recommendations/bad%01id", params={"n": 0, "exclude_seen": "maybe"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [
        "path.user_id",
        "query.n",
        "query.exclude_seen",
    ]


def test_batch_n_accepts_integral_json_numbers(client: TestClient) -> None:
    # JSON Schema's integer includes 2.0 (schemathesis sends such bodies); 2.5 and "2" are not
    ok = client.post("/v1/recommendations", json={"user_ids": ["u0"], "n": 2.0})
    assert ok.status_code == 200 and len(ok.json()["results"][0]["items"]) == 2
    for bad in (2.5, "2", 0.0):
        r = client.post("/v1/recommendations", json={"user_ids": ["u0"], "n": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.n"


def test_hit_ratio_counts_only_answers_from_the_cache(model_dir: Path) -> None:
    # u0's stored list is its top 2 (["i4", "i1"]): n=3 is too short after the filters
    settings = serve_settings(model_dir, warm_on_start=True, precompute_n=2)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/recommendations/u0", params={"n": 2})
        assert (r.json()["source"], items_of(r)) == ("cache", ["i4", "i1"])
        r = c.get("/v1/recommendations/u0", params={"n": 3})  # too short: scored live
        assert (r.json()["source"], items_of(r)) == ("model", U0_MODEL[:3])
        r = c.get("/v1/recommendations/u0", params={"n": 1, "exclude_seen": "false"})
        assert r.json()["source"] == "model"  # skips the cache: a miss
        r = c.get("/v1/popular", params={"n": 2})
        assert (r.json()["source"], items_of(r)) == ("popular", POPULAR[:2])
        metrics = c.get("/metrics").text
    assert 'tailor_serving_cache_lookups_total{result="hit"} 1.0' in metrics
    assert 'tailor_serving_cache_lookups_total{result="miss"} 2.0' in metrics
    assert 'tailor_serving_cache_lookups_total{result="error"}' not in metrics
    assert "tailor_serving_cache_hit_ratio 0.3333333333333333" in metrics
    assert 'tailor_serving_answers_total{source="cache"} 1.0' in metrics
    assert 'tailor_serving_answers_total{source="model"} 2.0' in metrics
    assert 'tailor_serving_answers_total{source="popular"} 1.0' in metrics
    assert 'source="fallback"' not in metrics
    assert "tailor_serving_fallback_total{" not in metrics
