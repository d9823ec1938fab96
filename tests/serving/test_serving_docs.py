"""``/docs`` works without internet: every asset it refers to is served by the app itself."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_refers_only_to_local_assets(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert re.findall(r"https?://[^\s\"'<>)]+", html) == []
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert "url: '/openapi.json'" in html
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert b"SwaggerUIBundle" in js.content
    assert "text/css" in client.get("/docs/assets/swagger-ui.css").headers["content-type"]
    assert client.get("/openapi.json").status_code == 200


def test_redoc_is_off_and_docs_are_not_in_the_spec(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/docs") for p in paths)
