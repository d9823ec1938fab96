"""The KPI dashboard (docs/dashboard.md): ``/v1/dashboard/*`` (JSON, read scope) and the page
``/dashboard`` with its assets (static files, no data; plotly.js from the installed plotly
package, never a CDN).

* ``GET /v1/dashboard/kpis``: CTR, conversion, AOV and revenue per time bucket, placement and
  variant, from the SQLite event log (:mod:`tailor.dashboard.kpis`).
* ``GET /v1/dashboard/service``: requests, fallback rate, cache hit ratio and latency
  percentiles per sampling interval (a background task samples this process's counters into a
  ring buffer, :mod:`tailor.dashboard.sampler`), and the event consumer's lag.
* ``GET /v1/dashboard/model``: the active version, its offline metrics, the published versions
  and the activation history.
* ``GET /v1/dashboard/experiments``: the declared experiments' results (the A/B analysis of
  ``tailor abtest report`` on the same events).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse

from tailor.dashboard.eventlog import LogView
from tailor.dashboard.sampler import ServiceSampler, totals
from tailor.errors import TailorError
from tailor.logging import get_logger
from tailor.models.artifacts import read_manifest
from tailor.serving.deps import ReadAccess, ServicesDep
from tailor.serving.problems import ProblemError
from tailor.serving.schemas import problem_responses

_log = get_logger(__name__)

STATIC = Path(__file__).resolve().parents[1] / "static"
PAGE = STATIC / "dashboard" / "index.html"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
SAMPLE_S = float(os.environ.get("TAILOR_DASHBOARD_SAMPLE_S", "5"))
"""Seconds between two samples of the server's counters (``TAILOR_DASHBOARD_SAMPLE_S``)."""
SAMPLES = 720
"""Samples kept per process (an hour at 5 s)."""
CONSUMER = os.environ.get("TAILOR_STREAM_CONSUMER", "tailor-stream")
DAY_S = 86_400
RESULTS_TTL_S = 10.0
"""Experiment results are recomputed at most this often (the analysis looks back daily)."""

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], dependencies=[ReadAccess])
pages = APIRouter(include_in_schema=False)
PROBLEMS = problem_responses(401, 403, 422, 429)


# ---- lifespan --------------------------------------------------------------------------------
def start(app: FastAPI) -> None:
    """Start sampling the app's counters and open the event log's tail (SQLite only)."""
    services = app.state.services
    sampler = ServiceSampler(services.metrics.registry, interval_s=SAMPLE_S, capacity=SAMPLES)
    app.state.dashboard_sampler = sampler
    app.state.dashboard_task = asyncio.get_running_loop().create_task(sampler.run())
    app.state.dashboard_experiments = _experiments(services.settings)
    url = services.settings.event_log_url
    app.state.dashboard_tail = None
    if url and url.startswith("sqlite:"):
        from tailor.streaming.sqlite_log import sqlite_path

        app.state.dashboard_tail = LogView(sqlite_path(url))


def _experiments(settings: Any) -> list[Any]:
    try:
        return list(settings.all_experiments())
    except TailorError as exc:  # the server's start-up reports it; the dashboard shows none
        _log.warning("dashboard_experiments_unreadable", error=str(exc))
        return []


async def stop(app: FastAPI) -> None:
    """Stop the sampling task."""
    task = getattr(app.state, "dashboard_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _tail(request: Request) -> tuple[LogView | None, str | None]:
    tail: LogView | None = getattr(request.app.state, "dashboard_tail", None)
    if tail is not None:
        return tail, None
    if request.app.state.services.settings.event_log_url is None:
        return None, "no event log is configured (set event_log_url)"
    return None, "the dashboard reads the embedded (sqlite://) event log only"


# ---- API ---------------------------------------------------------------------------------
@router.get("/kpis", responses=PROBLEMS)
async def kpis(
    request: Request,
    window_s: Annotated[int, Query(ge=60, le=90 * DAY_S)] = 7 * DAY_S,
    bucket_s: Annotated[int, Query(ge=60, le=7 * DAY_S)] = 3600,
    attribution_s: Annotated[int, Query(ge=1, le=30 * DAY_S)] = DAY_S,
) -> dict[str, Any]:
    """KPIs over the last ``window_s`` seconds in buckets of ``bucket_s`` seconds, per
    placement and variant (lists by the time they were shown; clicks and purchases attributed
    through ``recommendation_id`` within ``attribution_s`` seconds). Only buckets with lists
    have rows, so a small bucket costs no more than a large one."""
    tail, reason = _tail(request)
    now = time.time()
    doc: dict[str, Any] = {
        "available": tail is not None,
        "reason": reason,
        "generated_at": _iso(now),
        "window_s": window_s,
        "bucket_s": bucket_s,
        "attribution_s": attribution_s,
    }
    if tail is None:
        return doc
    try:
        doc.update(await asyncio.to_thread(_kpis, tail, window_s, bucket_s, attribution_s))
    except sqlite3.Error as exc:
        _log.warning("dashboard_log_unreadable", error=str(exc))
        doc.update(available=False, reason="the event log cannot be read now")
    return doc


def _kpis(view: LogView, window_s: int, bucket_s: int, attribution_s: int) -> dict[str, Any]:
    import pandas as pd

    from tailor.dashboard.kpis import kpis, list_table

    def compute(events: pd.DataFrame) -> dict[str, Any]:
        since = pd.Timestamp(time.time() - window_s, unit="s", tz="UTC")
        doc = kpis(list_table(events, attribution_s), bucket_s, since)
        doc["events"] = len(events)
        return doc

    return view.memo(("kpis", window_s, bucket_s, attribution_s), compute)


@router.get("/service", responses=PROBLEMS)
async def service(request: Request) -> dict[str, Any]:
    """This process's requests, fallback rate, cache hit ratio and latency percentiles of the
    recommendation routes per sampling interval, the totals since start, and the consumer's
    lag behind the event log."""
    sampler: ServiceSampler = request.app.state.dashboard_sampler
    snapshots = sampler.snapshots
    doc: dict[str, Any] = {
        "interval_s": sampler.interval_s,
        "pid": os.getpid(),
        "series": sampler.series(),
        "since_start": totals(snapshots),
        "event_lag": None,
    }
    tail, reason = _tail(request)
    if tail is None:
        doc["event_lag_reason"] = reason
        return doc
    try:
        lag = await asyncio.to_thread(tail.tail.lag, CONSUMER)
    except sqlite3.Error:
        doc["event_lag_reason"] = "the event log cannot be read now"
        return doc
    doc["event_lag"] = {
        "consumer": CONSUMER,
        "consumer_seen": lag.consumer,
        "events": lag.events,
        "oldest_waiting_s": lag.oldest_s,
        "newest_event_s": lag.newest_s,
    }
    return doc


@router.get("/model", responses=PROBLEMS)
async def model(services: ServicesDep) -> dict[str, Any]:
    """The active version (model, offline metrics from its manifest), the published versions
    and the activation history (oldest first)."""
    state = services.holder.state
    registry = services.registry
    doc: dict[str, Any] = {
        "active": state.version,
        "model": state.model_name,
        "metrics": dict(sorted(state.metrics.items())),
        "problem": state.problem,
        "versions": [],
        "history": [],
        "activated_at": None,
    }
    if registry is None:
        return doc
    doc.update(await asyncio.to_thread(_versions, registry.root, registry.is_single))
    if doc["problem"] is not None:
        doc["problem"] = registry.public(doc["problem"])
    return doc


def _versions(root: Path, single: bool) -> dict[str, Any]:
    from tailor.serving.registry import ModelRegistry

    registry = ModelRegistry(root)
    rows: list[dict[str, Any]] = []
    for version in registry.versions():
        try:
            manifest = read_manifest(registry.path(version))
        except (TailorError, OSError):
            rows.append({"version": version, "model": None, "created_at": None, "metrics": {}})
            continue
        rows.append(
            {
                "version": version,
                "model": manifest.get("model"),
                "created_at": manifest.get("created_at"),
                "metrics": manifest.get("metrics") or {},
            }
        )
    history: list[str] = []
    activated = None
    if not single:
        with contextlib.suppress(OSError):
            lines = (root / "HISTORY").read_text().splitlines()
            history = [line.strip() for line in lines if line.strip()]
        with contextlib.suppress(OSError):
            activated = _iso((root / "ACTIVE").stat().st_mtime)
    return {"versions": rows, "history": history, "activated_at": activated}


@router.get("/experiments", responses=PROBLEMS)
async def experiments(request: Request) -> dict[str, Any]:
    """Each declared experiment's variants (counts, KPIs with 95 % intervals), the comparison
    of each variant with the control (always-valid p-values), the sample-ratio check and the
    verdict, from the event log (recomputed at most every 10 s)."""
    declared = request.app.state.dashboard_experiments
    tail, reason = _tail(request)
    doc: dict[str, Any] = {"available": tail is not None, "reason": reason, "experiments": []}
    if tail is None or not declared:
        if tail is not None:
            doc["reason"] = "no experiment is declared"
        return doc
    try:
        results = await asyncio.to_thread(_results, tail, declared)
    except sqlite3.Error as exc:
        _log.warning("dashboard_log_unreadable", error=str(exc))
        return {**doc, "available": False, "reason": "the event log cannot be read now"}
    doc["experiments"] = results
    return doc


def _results(view: LogView, declared: list[Any]) -> list[dict[str, Any]]:
    from tailor.dashboard.experiments import experiment_results

    return view.memo(
        ("experiments",), lambda events: experiment_results(events, declared), RESULTS_TTL_S
    )


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# ---- the page --------------------------------------------------------------------------------
@pages.get("/dashboard")
async def page() -> FileResponse:
    """The dashboard page (no data in it: its script reads /v1/dashboard/*)."""
    return FileResponse(PAGE, media_type="text/html", headers={"Cache-Control": "no-cache"})


@pages.get("/dashboard/assets/{name}")
async def asset(name: str) -> FileResponse:
    """The page's script and style, and plotly.js from the installed plotly package."""
    if name == "plotly.min.js":
        path = plotly_js()
        if path is None:
            raise ProblemError(404, "plotly is not installed")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )
    if name not in ASSETS:
        raise ProblemError(404, "no such asset")
    return FileResponse(
        STATIC / "dashboard" / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"}
    )


def plotly_js() -> Path | None:
    """``plotly/package_data/plotly.min.js`` of the installed plotly, found without importing
    plotly (the server must not load it)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None
