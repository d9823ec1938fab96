"""``/health/live`` and ``/health/ready``: unauthenticated, booleans and a reason."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tailor.serving.deps import ServicesDep
from tailor.serving.schemas import Health
from tailor.serving.shutdown import draining

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> Health:
    """200 while the process runs."""
    return Health(status="ok")


@router.get(
    "/ready", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}}
)
async def ready(services: ServicesDep) -> JSONResponse:
    """200 when the model is loaded, the fallback list is non-empty, Redis (if configured)
    answers and the process is not shutting down; 503 otherwise, with the reason (model files
    named relative to the model store, never a server path)."""
    state = services.holder.state
    checks = {
        "model": state.model is not None,
        "fallback": len(state.popular) > 0,
        "cache": await services.cache.ping(),
    }
    reasons = []
    if not checks["model"]:
        reasons.append(f"model: {state.problem or 'not loaded'}")
    if not checks["fallback"]:
        reasons.append("fallback: no popular list")
    if not checks["cache"]:
        reasons.append("cache: Redis does not answer")
    if draining():
        reasons.append("shutting down")
    ok = not reasons
    body = Health(
        status="ok" if ok else "unavailable", checks=checks, reason="; ".join(reasons) or None
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
