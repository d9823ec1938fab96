"""``/health/live`` and ``/health/ready``: unauthenticated, booleans only."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tailor.serving.deps import ServicesDep
from tailor.serving.schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> Health:
    """200 while the process runs."""
    return Health(status="ok")


@router.get(
    "/ready", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}}
)
async def ready(services: ServicesDep) -> JSONResponse:
    """200 when the model is loaded, the fallback list is non-empty and Redis (if configured)
    answers; 503 otherwise."""
    state = services.holder.state
    checks = {
        "model": state.model is not None,
        "fallback": len(state.popular) > 0,
        "cache": await services.cache.ping(),
    }
    ok = all(checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
