"""The dashboard's and the shop's routes in process: read-scope auth, documents without an
event log or a registry, the catalogue route."""

from __future__ import annotations

from pathlib import Path

from dashboard_planted import write_store
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.serving.auth import hash_key
from tailor.testing.serving import serve_settings, write_model_dir

READ_KEY = "read-key-0123456789"
KEYS = [{"name": "shop", "sha256": hash_key(READ_KEY), "scope": "read"}]


def test_data_needs_a_read_key_the_page_shell_does_not(tmp_path: Path) -> None:
    write_store(tmp_path / "store")
    settings = serve_settings(tmp_path / "store", api_keys=KEYS)
    with TestClient(create_app(settings)) as client:
        for path in (
            "/v1/dashboard/kpis",
            "/v1/dashboard/service",
            "/v1/dashboard/model",
            "/v1/catalog/items?item_id=i1",
        ):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"X-API-Key": READ_KEY}).status_code == 200, path
        # the page and its scripts hold no data: a browser loads them, then asks for a key
        for path in ("/dashboard", "/dashboard/assets/dashboard.js", "/demo-shop/"):
            assert client.get(path).status_code == 200, path
        model = client.get("/v1/dashboard/model", headers={"X-API-Key": READ_KEY}).json()
    assert model["active"] == "v2" and model["history"] == ["v1", "v2"]
    assert [v["model"] for v in model["versions"]] == ["popularity", "ease"]


def test_without_an_event_log_the_kpis_say_why(tmp_path: Path) -> None:
    settings = serve_settings(write_model_dir(tmp_path / "model"))
    with TestClient(create_app(settings)) as client:
        kpis = client.get("/v1/dashboard/kpis").json()
        service = client.get("/v1/dashboard/service").json()
        model = client.get("/v1/dashboard/model").json()
    assert kpis["available"] is False
    assert kpis["reason"] == "no event log is configured (set event_log_url)"
    assert service["event_lag"] is None and service["event_lag_reason"] == kpis["reason"]
    assert model["model"] == "popularity" and model["history"] == []  # a single model folder
    assert [v["version"] for v in model["versions"]] == [model["active"]]


def test_other_event_logs_are_not_read(tmp_path: Path) -> None:
    settings = serve_settings(
        write_model_dir(tmp_path / "model"), event_log_url="redis://127.0.0.1:1/0?stream=s"
    )
    with TestClient(create_app(settings)) as client:
        kpis = client.get("/v1/dashboard/kpis").json()
    assert kpis["available"] is False
    assert kpis["reason"] == "the dashboard reads the embedded (sqlite://) event log only"


def test_catalog_items_in_the_order_asked(tmp_path: Path) -> None:
    write_store(tmp_path / "store")
    with TestClient(create_app(serve_settings(tmp_path / "store"))) as client:
        found = client.get("/v1/catalog/items?item_id=i3&item_id=nope&item_id=i0&item_id=i3")
        bad = client.get("/v1/catalog/items")
    assert found.json() == {
        "items": [
            {"item_id": "i3", "title": "Item number 3", "price": 5.5, "category": "c3"},
            {"item_id": "i0", "title": "Item number 0", "price": 2.5, "category": "c0"},
        ]
    }
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.item_id"


def test_experiment_results_from_the_ab_analysis(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from dashboard_planted import experiment_events

    from tailor.streaming.sqlite_log import SqliteEventLog

    log = SqliteEventLog(tmp_path / "events.db")
    log.append(experiment_events(datetime.now(UTC)))
    log.close()
    declared = [{"name": "ab", "variants": [{"name": "A"}, {"name": "B"}],
                 "primary_metric": "ctr"}]  # fmt: skip
    settings = serve_settings(
        write_model_dir(tmp_path / "model"),
        event_log_url=f"sqlite:///{tmp_path / 'events.db'}",
        experiments=declared,
    )
    with TestClient(create_app(settings)) as client:
        doc = client.get("/v1/dashboard/experiments").json()
    (result,) = doc["experiments"]
    assert result["experiment"] == "ab" and result["control"] == "A"
    variants = {v["variant"]: v for v in result["variants"]}
    assert [variants[v]["visitors"] for v in "AB"] == [10, 10]
    assert [variants[v]["clicks"] for v in "AB"] == [2, 5]
    assert [variants[v]["orders"] for v in "AB"] == [1, 3]
    assert [variants[v]["revenue"] for v in "AB"] == [10.0, 12.0]
    assert [variants[v]["ctr"]["value"] for v in "AB"] == [0.2, 0.5]
    assert [variants[v]["conversion"]["value"] for v in "AB"] == [0.1, 0.3]
    assert [variants[v]["aov"]["value"] for v in "AB"] == [10.0, 4.0]
    assert result["srm"] == {"p_value": 1.0, "alarm": False}  # 10 and 10 of a 50/50 split
    ctr = next(t for t in result["tests"] if t["metric"] == "ctr")
    assert ctr["variant"] == "B" and ctr["delta"]["value"] == 0.3
    assert 0 < ctr["p_fixed"] < 1 and 0 < ctr["p_always_valid"] <= 1
    assert variants["A"]["verdict"] is None and variants["B"]["verdict"]
