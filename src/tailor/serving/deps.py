"""FastAPI dependencies as ``Annotated`` aliases: the app's services and the auth checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tailor.serving.auth import FailureThrottle, RateLimiter, authorize, presented_key
from tailor.serving.cache import RecCache
from tailor.serving.instruments import ServingMetrics
from tailor.serving.problems import ProblemError
from tailor.serving.registry import ModelRegistry
from tailor.serving.service import RecService
from tailor.serving.sessions import RecentItems
from tailor.serving.settings import ServeSettings
from tailor.serving.state import StateHolder


@dataclass
class Services:
    """What the lifespan builds and the routes use; stored on ``app.state.services``."""

    settings: ServeSettings
    holder: StateHolder
    cache: RecCache
    metrics: ServingMetrics
    service: RecService
    limiter: RateLimiter
    registry: ModelRegistry | None
    throttle: FailureThrottle
    sessions: RecentItems
    """Recent items per user or session id: the events route adds to it, the recommendation
    service reads it for ids the model does not know."""


async def get_services(request: Request) -> Services:
    """The running app's services (async: a sync dependency would cost a thread hop)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def _require(request: Request, scope: str) -> None:
    services: Services = request.app.state.services
    settings = services.settings
    if not settings.auth_enabled:
        if scope == "admin" and not settings.admin_open:  # no keys must not mean "anyone"
            raise ProblemError(
                403,
                "the admin routes are off: configure an API key with the admin scope, "
                "or set TAILOR_ADMIN_OPEN=true",
            )
        return
    client = request.client.host if request.client else "unknown"
    try:
        services.throttle.check(client)
        try:
            spec = authorize(request, settings.api_keys, scope)
        except ProblemError as exc:
            if exc.status == 401 and presented_key(request) is not None:
                services.throttle.failed(client)  # a wrong key, not a missing one
            raise
        await services.limiter.check(spec.name)
    except ProblemError as exc:
        if exc.status == 429:
            services.metrics.rate_limited.inc()
        raise


async def require_read(request: Request) -> None:
    """Allow callers with a read or admin key (or anyone when auth is off)."""
    await _require(request, "read")


async def require_admin(request: Request) -> None:
    """Allow callers with an admin key (without keys: anyone if ``admin_open``, else nobody)."""
    await _require(request, "admin")


ReadAccess = Depends(require_read)
AdminAccess = Depends(require_admin)
