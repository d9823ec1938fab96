"""``/metrics``: Prometheus exposition of the app's own registry."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from tailor.serving.deps import ServicesDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(services: ServicesDep) -> Response:
    """Latency by route and status, fallbacks by reason, cache hit ratio, active version."""
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
