"""``/docs``: Swagger UI served from the ``swagger-ui-bundle`` package, so it works offline.

FastAPI's own page loads Swagger UI's JavaScript and CSS from a CDN, which a server without
internet access (or a browser behind a strict proxy) cannot reach. Here the assets are mounted
as static files under ``/docs/assets`` and the page refers only to this server. ReDoc has no
offline asset in any installed package, so ``/redoc`` is off.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    """Mount the Swagger UI assets and add ``GET /docs`` (not part of the OpenAPI spec)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
