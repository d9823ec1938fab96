"""The demo shop (docs/dashboard.md, "Demo shop"): static pages under ``/demo-shop/`` whose
recommendation slots call the API and send exposure and click events, and
``GET /v1/catalog/items``, the titles and prices the pages show (the active version's
``items.parquet``)."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from tailor.serving.deps import ReadAccess, ServicesDep
from tailor.serving.problems import ProblemError
from tailor.serving.schemas import ID_PATTERN, MAX_ID_LENGTH, problem_responses

SHOP = Path(__file__).resolve().parents[1] / "static" / "shop"
FILES = {
    "": ("index.html", "text/html"),
    "product.html": ("product.html", "text/html"),
    "cart.html": ("cart.html", "text/html"),
    "shop.js": ("shop.js", "text/javascript"),
    "shop.css": ("shop.css", "text/css"),
}
MAX_ITEMS = 100

router = APIRouter(prefix="/v1/catalog", tags=["catalog"], dependencies=[ReadAccess])
pages = APIRouter(include_in_schema=False)


class CatalogItem(BaseModel):
    """One item as the shop shows it (fields the catalogue lacks are null)."""

    item_id: str
    title: str | None = None
    price: float | None = None
    category: str | None = None


class CatalogItems(BaseModel):
    """The known items among those asked for, in the order asked; unknown ids are left out."""

    items: list[CatalogItem]


_tables: dict[tuple[str, float], dict[str, CatalogItem]] = {}
_lock = threading.Lock()


def _table(path: Path) -> dict[str, CatalogItem]:
    """item id -> item, from ``items.parquet`` (read once per file version)."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return {}
    key = (str(path), stamp)
    with _lock:
        found = _tables.get(key)
    if found is not None:
        return found
    import pandas as pd

    frame = pd.read_parquet(path)
    columns = [c for c in ("title", "price", "category") if c in frame.columns]
    table: dict[str, CatalogItem] = {}
    for row in frame[["item_id", *columns]].itertuples(index=False):
        values = dict(zip(["item_id", *columns], row, strict=True))
        price = values.get("price")
        table[str(values["item_id"])] = CatalogItem(
            item_id=str(values["item_id"]),
            title=None if pd.isna(values.get("title")) else str(values.get("title")),
            price=float(price) if price is not None and math.isfinite(float(price)) else None,
            category=None if pd.isna(values.get("category")) else str(values.get("category")),
        )
    with _lock:
        _tables.clear()  # one version at a time
        _tables[key] = table
    return table


@router.get("/items", responses=problem_responses(401, 403, 422, 429))
async def catalog_items(
    services: ServicesDep,
    item_id: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]],
        Query(max_length=MAX_ITEMS),
    ],
) -> CatalogItems:
    """Title, price and category of the given items (repeat ``item_id``, at most 100), from
    the active version's ``items.parquet``."""
    path = services.holder.state.path
    if path is None:
        return CatalogItems(items=[])
    table = await asyncio.to_thread(_table, path / "items.parquet")
    seen: set[str] = set()
    found: list[CatalogItem] = []
    for item in item_id:
        if item in table and item not in seen:
            seen.add(item)
            found.append(table[item])
    return CatalogItems(items=found)


@pages.get("/demo-shop")
async def shop_root() -> RedirectResponse:
    return RedirectResponse("/demo-shop/", status_code=307)


@pages.get("/demo-shop/{name}")
@pages.get("/demo-shop/", name="shop_home")
async def shop_file(name: str = "") -> FileResponse:
    """The shop's pages and their script (static, no data)."""
    if name not in FILES:
        raise ProblemError(404, "no such page")
    file, media = FILES[name]
    return FileResponse(SHOP / file, media_type=media, headers={"Cache-Control": "no-cache"})
