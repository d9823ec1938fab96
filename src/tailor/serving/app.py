"""``create_app(settings)``: the FastAPI application and its lifespan.

The lifespan opens the cache, loads the active model version, builds the fallback lists, starts
the background refreshers and stores everything on ``app.state``; shutdown closes them. No
import-time singletons: every app has its own settings, cache, metrics and state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from tailor import __version__
from tailor.experiments.assignment import Assigner
from tailor.experiments.exposures import ExposureLog
from tailor.logging import get_logger
from tailor.serving import problems
from tailor.serving.auth import FailureThrottle, RateLimiter
from tailor.serving.cache import open_cache, redact_url
from tailor.serving.deps import Services
from tailor.serving.fastpath import ServingApp
from tailor.serving.instruments import ServingMetrics
from tailor.serving.keys import Keys
from tailor.serving.lifecycle import Reloader, freeze_heap
from tailor.serving.middleware import (
    BodyLimitMiddleware,
    HeadMiddleware,
    LatencyMiddleware,
    StrictUtf8Middleware,
)
from tailor.serving.registry import ModelRegistry
from tailor.serving.routes import admin, docs, events, health, items, popular, recommendations
from tailor.serving.routes import dashboard as dashboard_routes
from tailor.serving.routes import metrics as metrics_route
from tailor.serving.routes import shop as shop_routes
from tailor.serving.schemas import Problem
from tailor.serving.service import RecService
from tailor.serving.sessions import open_recent_items
from tailor.serving.settings import ServeSettings, load_settings
from tailor.serving.state import ServingState, StateHolder, StateOptions, load_versions
from tailor.streaming.log import EventSink, LogUnavailable, open_sink

_log = get_logger(__name__)

DRAIN_TIMEOUT_S = 1.0
"""How long shutdown waits for live-scored lists still being written to the cache."""


def build_services(settings: ServeSettings, metrics: ServingMetrics) -> Services:
    """Cache, recent-items store, state holder, scoring service and rate limiter for
    ``settings``."""
    keys = Keys(settings.key_prefix)
    cache = open_cache(
        settings.redis_url,
        keys,
        timeout_s=settings.redis_timeout_ms / 1000,
        retries=settings.redis_retries,
        cooldown_s=settings.breaker_cooldown_s,
        threshold=settings.breaker_threshold,
        ttl_s=settings.cache_ttl_s,
        memory_max_lists=settings.memory_cache_max_lists,
    )
    sessions = open_recent_items(
        settings.redis_url,
        keys,
        max_items=settings.session_max_items,
        ttl_s=settings.session_ttl_s,
        timeout_s=settings.redis_timeout_ms / 1000,
        retries=settings.redis_retries,
        cooldown_s=settings.breaker_cooldown_s,
        threshold=settings.breaker_threshold,
        memory_max_keys=settings.memory_cache_max_lists,
    )
    holder = StateHolder()
    experiments = settings.all_experiments()
    service = RecService(
        holder,
        cache,
        metrics,
        budget_s=settings.scoring_budget_ms / 1000,
        threads=settings.scoring_threads,
        precompute_n=settings.precompute_n,
        write_back=settings.write_back,
        sessions=sessions,
        assigner=Assigner(experiments) if experiments else None,
    )
    registry = (
        ModelRegistry(settings.model_dir, history_limit=settings.history_limit)
        if settings.model_dir
        else None
    )
    limiter = RateLimiter(
        settings.rate_limit_per_s,
        settings.redis_url,
        key_prefix=settings.key_prefix,
        timeout_s=settings.redis_timeout_ms / 1000,
        cooldown_s=settings.breaker_cooldown_s,
        threshold=settings.breaker_threshold,
    )
    throttle = FailureThrottle(settings.auth_fail_limit, settings.auth_fail_window_s)
    return Services(
        settings, holder, cache, metrics, service, limiter, registry, throttle, sessions
    )


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The serving application for ``settings`` (default: from the environment)."""
    settings = settings or load_settings()
    metrics = ServingMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, metrics)
        reloader = Reloader(services.registry, services.holder, services.cache, metrics, settings)
        app.state.services = services
        app.state.reloader = reloader
        _log.info(
            "serving_start",
            cache=redact_url(settings.redis_url),
            model_dir=str(settings.model_dir),
            auth=settings.auth_enabled,
        )
        if services.registry is None:
            _log.warning("no_model_dir")
        if settings.admin_open and not settings.auth_enabled:
            _log.warning(
                "admin_open_without_keys",
                detail="anyone who reaches this port can switch model versions",
            )
        await reloader.sync(force=True)  # also publishes the active version to the cache
        services.service.variant_states = await _load_variant_versions(services, settings)
        app.state.event_sink = _open_event_sink(settings)
        exposures = _exposure_log(services, settings, app.state.event_sink)
        embedded = None
        if settings.stream:
            from tailor.streaming.embedded import start_embedded

            loop = asyncio.get_running_loop()
            embedded = await asyncio.to_thread(start_embedded, settings, services.cache, loop)
        freeze_heap(collect=True)  # before the first request: no full GC pass over the model
        reloader.start()
        dashboard_routes.start(app)  # samples the counters in a background task, never per request
        try:
            yield
        finally:
            await dashboard_routes.stop(app)
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            if exposures is not None:  # the last served lists, before the log closes
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exposures.stop(), DRAIN_TIMEOUT_S)
            if app.state.event_sink is not None:
                app.state.event_sink.close()
            await reloader.stop()
            with contextlib.suppress(TimeoutError):  # pending write-backs, briefly
                await asyncio.wait_for(services.service.drain(), DRAIN_TIMEOUT_S)
            services.service.close()
            await services.limiter.close()
            await services.cache.close()
            await services.sessions.close()

    app = ServingApp(  # FastAPI with the recommendation route's fast path (fastpath.py)
        title="tailor serving API",
        version=__version__,
        lifespan=lifespan,
        # no 307 to "the same path without the slash": its Location is built from the client's
        # Host header, and an empty id (GET /v1/recommendations/) is simply not found
        redirect_slashes=False,
        docs_url=None,  # served from local assets below (no CDN)
        redoc_url=None,  # no offline ReDoc asset is installed
    )
    problems.install(app)
    docs.install(app)
    for module in (recommendations, items, popular, health, metrics_route, admin):
        app.include_router(module.router)
    for module_ in (dashboard_routes, shop_routes):  # docs/dashboard.md
        app.include_router(module_.router)
        app.include_router(module_.pages)
    events_router = APIRouter(prefix="/v1/events", tags=["events"])
    events.add_route(events_router, settings.event_types)
    app.include_router(events_router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path={"/v1/events": settings.max_event_body_bytes},
    )
    app.add_middleware(StrictUtf8Middleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _load_variant_versions(
    services: Services, settings: ServeSettings
) -> dict[str, ServingState]:
    """The model versions that variants of experiments not stopped name, loaded beside the
    active one (once, at start-up). A version that does not load is left out: its variant's
    users are answered outside the experiment (the report's sample-ratio check shows it)."""
    registry = services.registry
    assigner = services.service.assigner
    if registry is None or assigner is None:
        return {}
    return await asyncio.to_thread(
        load_versions, registry, assigner.versions(), StateOptions.of(settings)
    )


def _exposure_log(
    services: Services, settings: ServeSettings, sink: EventSink | None
) -> ExposureLog | None:
    """Start logging served lists as exposures (setting ``exposure_log``), when there is a
    log to write to and something to log."""
    service = services.service
    mode = settings.exposure_log
    if sink is None or mode == "off" or (mode == "experiments" and service.assigner is None):
        return None
    exposures = ExposureLog(sink)
    service.exposures = exposures
    service.expose_all = mode == "all"
    exposures.start()
    return exposures


def _open_event_sink(settings: ServeSettings) -> EventSink | None:
    """The event log ``POST /v1/events`` appends to; None when none is configured or it cannot
    be opened now (the route then answers 503; the rest of the API is unaffected)."""
    if settings.event_log_url is None:
        return None
    try:
        return open_sink(settings.event_log_url)
    except LogUnavailable as exc:
        _log.error("event_log_unavailable", log=redact_url(settings.event_log_url), error=str(exc))
        return None


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated spec plus the Problem schema that problem+json responses refer to."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        app.openapi_schema = spec
    return app.openapi_schema


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (multi-worker): settings from the environment/file."""
    file = os.environ.get("TAILOR_SETTINGS_FILE")
    from pathlib import Path

    return create_app(load_settings(Path(file) if file else None))
