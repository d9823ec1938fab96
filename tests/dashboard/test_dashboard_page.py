"""The dashboard in headless Chromium against a real server: no console error, a screenshot,
and the numbers on the page equal the JSON API's (and the planted data's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from dashboard_browser import Browser
from dashboard_planted import V2_METRICS

PLANT_EXPERIMENT = True  # the server fixture declares experiment "ab" and plants its events
FORMATS = {
    "lists": "int", "visitors": "int", "clicks": "int", "orders": "int", "ctr": "pct",
    "conversion": "pct", "aov": "money", "revenue": "money",
}  # fmt: skip


def shown(value: Any, kind: str) -> str:
    """What the page's formatter writes for ``value`` (dashboard.js ``fmt``)."""
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value * 100:.2f} %"
    if kind == "money":
        return f"{value:.2f}"
    return str(value)


def page_cells(browser: Browser) -> dict[str, tuple[str, str | None]]:
    """data-name -> (text, data-value) of every named cell of the page."""
    cells = browser.eval(
        "Array.from(document.querySelectorAll('[data-name]')).map("
        "e => [e.dataset.name, e.textContent, e.dataset.value ?? null])"
    )
    return {name: (text, value) for name, text, value in cells}


@pytest.mark.browser
def test_dashboard_page_shows_the_api_numbers(
    server: Any, browser: Browser, tmp_path: Path
) -> None:
    browser.goto(server.url + "/dashboard")
    browser.wait_for("Number(document.body.dataset.loaded || 0) >= 1 && "
                     "document.querySelectorAll('#placements td').length > 0")  # fmt: skip
    with server.client() as client:
        kpis = client.get("/v1/dashboard/kpis?window_s=604800&bucket_s=3600").json()
        model = client.get("/v1/dashboard/model").json()
    cells = page_cells(browser)

    # the planted data (dashboard_planted.planted_events), then the API == the page
    placements = {row["placement"]: row for row in kpis["placements"]}
    assert placements["home-carousel"]["ctr"] == 1.0
    assert placements["home-carousel"]["conversion"] == 0.5
    variants = {row["variant"]: row for row in kpis["variants"]}
    assert variants["exp:B"]["aov"] == 5.0 and variants["exp:B"]["revenue"] == 10.0
    compared = 0
    for kind, rows in (("placement", kpis["placements"]), ("variant", kpis["variants"])):
        for row in rows:
            for key, fmt in FORMATS.items():
                text, value = cells[f"{kind}:{row[kind]}:{key}"]
                expected = row[key]
                assert text == shown(expected, fmt), (kind, row[kind], key)
                assert (value == "null") if expected is None else float(value) == expected
                compared += 1
    assert compared == (4 + 4) * len(FORMATS)  # placements (home: ab's) and variants
    assert cells["placement:home-carousel:conversion"][0] == "50.00 %"

    assert browser.eval("document.getElementById('active-version').textContent") == "v2"
    assert model["active"] == "v2" and model["metrics"] == V2_METRICS
    assert browser.eval("document.getElementById('active-model').textContent") == "ease"
    for name, value in V2_METRICS.items():
        assert float(cells[f"metric:{name}:value"][1]) == value
    assert browser.eval("Array.from(document.querySelectorAll('#history li'), e => e.textContent)"
                        ) == ["v1", "v2"] == model["history"]  # fmt: skip
    assert {n.split(":")[1] for n in cells if n.startswith("version:")} == {"v1", "v2"}
    # experiment ab from the A/B analysis: B's CTR 0.5 [interval] against A's 0.2
    with server.client() as client:
        (ab,) = client.get("/v1/dashboard/experiments").json()["experiments"]
    for variant in ab["variants"]:
        name = f"experiment:ab:{variant['variant']}"
        assert cells[f"{name}:visitors"][1] == "10"
        ctr = variant["ctr"]
        assert (
            cells[f"{name}:ctr_ci"][0]
            == f"{ctr['value']:.3g} [{ctr['low']:.3g}, {ctr['high']:.3g}]"
        )
    assert [v["ctr"]["value"] for v in ab["variants"]] == [0.2, 0.5]
    assert cells["experiment:ab:B:verdict"][0] == ab["variants"][1]["verdict"]
    # 4 KPI charts + 2 service charts drawn by the served plotly.js
    assert browser.eval("document.querySelectorAll('.js-plotly-plot').length") == 6
    assert browser.eval("typeof Plotly.version") == "string"
    assert "service:requests" in cells and "service:events" in cells
    assert cells["service:events"][1] == "44"  # no consumer: the whole planted log waits
    assert browser.errors() == []

    shot = browser.screenshot(tmp_path / "dashboard.png")
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("TAILOR_SCREENSHOT_DIR")  # set it to keep the PNG for a person
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "dashboard.png")


def test_the_page_loads_nothing_from_outside(server: Any) -> None:
    with server.client() as client:
        page = client.get("/dashboard")
        script = client.get("/dashboard/assets/dashboard.js")
        plotly = client.get("/dashboard/assets/plotly.min.js")
        missing = client.get("/dashboard/assets/other.js")
    assert page.status_code == 200 and "http" not in page.text.replace("http-equiv", "")
    assert "fetch(" in script.text and "http" not in script.text
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert missing.status_code == 404
