"""``/v1/popular``: the in-process popular lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tailor.serving.deps import ReadAccess, ServicesDep
from tailor.serving.schemas import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_N,
    ItemScore,
    PopularResponse,
    problem_responses,
)

router = APIRouter(prefix="/v1/popular", tags=["popular"])


@router.get("", dependencies=[ReadAccess], responses=problem_responses(401, 403, 422, 429, 503))
async def popular(
    services: ServicesDep,
    category: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)
    ] = None,
    n: Annotated[int | None, Query(ge=1, le=MAX_N)] = None,
) -> PopularResponse:
    """The most popular available items, globally or in one category (empty if unknown)."""
    answer = services.service.popular(n or services.settings.default_n, category)
    return PopularResponse(
        category=category,
        items=[ItemScore(item_id=i, score=s) for i, s in answer.items],
        source="popular",
        model_version=answer.version,
    )
