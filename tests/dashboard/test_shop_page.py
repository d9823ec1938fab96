"""The demo shop in headless Chromium against a real server: every slot shows items with
their titles, the cart's list depends on the cart, and exposure and click events reach the
event log with the list's recommendation_id and the slot's placement."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from dashboard_browser import Browser
from dashboard_planted import CATALOG

TITLES = dict(zip(CATALOG["item_id"], CATALOG["title"], strict=True))


def logged(path: Path, visitor: str) -> list[dict[str, Any]]:
    """The visitor's events in the log, in append order."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT body FROM events ORDER BY seq").fetchall()
    events = [orjson.loads(body) for (body,) in rows]
    return [e for e in events if e.get("session_id") == visitor]


def slot(browser: Browser, name: str) -> dict[str, Any]:
    """A slot's recommendation_id and its items (ids and shown titles), once it is ready."""
    browser.wait_for(f"document.getElementById('{name}').dataset.ready === 'true'")
    return browser.eval(
        f"(() => {{ const s = document.getElementById('{name}'); return {{"
        "rec: s.dataset.recommendationId, "
        "items: Array.from(s.querySelectorAll('a.item'), a => a.dataset.item), "
        "titles: Array.from(s.querySelectorAll('a.item .title'), t => t.textContent)}; })()"
    )


def exposures(events: list[dict[str, Any]], placement: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "exposure" and e.get("placement") == placement]


@pytest.mark.browser
def test_slots_show_items_and_log_exposures_and_clicks(
    server: Any, browser: Browser, tmp_path: Path
) -> None:
    browser.goto(server.url + "/demo-shop/")
    visitor = browser.eval("localStorage.getItem('tailor-visitor')")
    assert visitor.startswith("s-")
    banner, carousel = slot(browser, "home-banner"), slot(browser, "home-carousel")
    assert len(banner["items"]) == 1 and len(carousel["items"]) == 8
    assert banner["items"][0] not in carousel["items"]
    for shown in (banner, carousel):
        assert shown["titles"] == [TITLES[i] for i in shown["items"]]
    events = logged(server.log, visitor)
    for name, shown in (("home-banner", banner), ("home-carousel", carousel)):
        exposed = exposures(events, name)
        assert [e["item_id"] for e in exposed] == shown["items"]
        assert {e["recommendation_id"] for e in exposed} == {shown["rec"]}
        assert [e["value"] for e in exposed] == list(range(1, len(shown["items"]) + 1))

    # a click on the carousel's second item: logged, then the product page
    clicked = carousel["items"][1]
    browser.eval("document.querySelectorAll('#home-carousel a.item')[1].click()")
    similar = slot(browser, "product-similar")
    assert browser.eval("document.getElementById('product-title').textContent") == TITLES[clicked]
    events = logged(server.log, visitor)
    clicks = [e for e in events if e["type"] == "click"]
    assert [(c["item_id"], c["recommendation_id"], c.get("placement")) for c in clicks] == [
        (clicked, carousel["rec"], "home-carousel")
    ]
    with server.client() as client:
        expected = client.get(f"/v1/items/{clicked}/similar?n=6").json()
    assert similar["items"] == [i["item_id"] for i in expected["items"]]
    assert [e["item_id"] for e in exposures(events, "product-similar")] == similar["items"]

    # the cart: its "complete your basket" list is the API's answer for that cart
    browser.eval("document.getElementById('add-to-cart').click()")
    browser.wait_for("document.getElementById('cart-count').textContent === '1'")
    lists = []
    other = next(i for i in CATALOG["item_id"] if int(i[1:]) % 4 != int(clicked[1:]) % 4)
    for cart in ([clicked], [clicked, other]):  # a second taste group changes the list
        browser.eval(f"localStorage.setItem('tailor-cart', '{json.dumps(cart)}')")
        # asked before the page: the page's own exposures then join the visitor's recent items
        body = {"user_ids": [visitor], "n": 6, "context": {"cart_items": cart}}
        with server.client() as client:
            answer = client.post("/v1/recommendations", json=body).json()["results"][0]
        browser.goto(server.url + "/demo-shop/cart.html")
        shown = slot(browser, "cart-complete")
        assert shown["items"] == [i["item_id"] for i in answer["items"]]
        assert not set(cart) & set(shown["items"])
        assert shown["titles"] == [TITLES[i] for i in shown["items"]]
        exposed = exposures(logged(server.log, visitor), "cart-complete")
        assert [e["item_id"] for e in exposed if e["recommendation_id"] == shown["rec"]] == (
            shown["items"]
        )
        lists.append(shown["items"])
    assert lists[0] != lists[1]
    adds = [e for e in logged(server.log, visitor) if e["type"] == "add_to_cart"]
    assert [(a["item_id"], a.get("recommendation_id")) for a in adds] == [
        (clicked, carousel["rec"])
    ]

    # "Buy": one purchase per cart item (value = price), attributed through the clicked list
    browser.eval("document.getElementById('buy').click()")
    browser.wait_for("document.getElementById('cart-count').textContent === '0'")
    bought = [e for e in logged(server.log, visitor) if e["type"] == "purchase"]
    prices = dict(zip(CATALOG["item_id"], CATALOG["price"], strict=True))
    assert [(p["item_id"], p["value"], p.get("recommendation_id")) for p in bought] == [
        (clicked, prices[clicked], carousel["rec"]),
        (other, prices[other], None),  # never clicked in a list: not attributed
    ]
    # ... and the dashboard counts the shop's carousel with the planted lists r1 and r2
    with server.client() as client:
        kpis = client.get("/v1/dashboard/kpis?window_s=86400").json()
    row = next(r for r in kpis["placements"] if r["placement"] == "home-carousel")
    assert (row["lists"], row["visitors"], row["clicks"], row["orders"]) == (3, 3, 3, 2)
    assert row["revenue"] == 10.0 + prices[clicked]
    assert row["conversion"] == round(2 / 3, 6)
    banner_row = next(r for r in kpis["placements"] if r["placement"] == "home-banner")
    assert (banner_row["lists"], banner_row["clicks"]) == (1, 0)
    assert browser.errors() == []
    browser.goto(server.url + "/demo-shop/")
    slot(browser, "home-carousel")
    shot = browser.screenshot(tmp_path / "shop-home.png")
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("TAILOR_SCREENSHOT_DIR")  # set it to keep the PNG for a person
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "shop-home.png")
