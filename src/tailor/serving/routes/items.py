"""``/v1/items/{item_id}/similar``: items like a given one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from tailor.serving.deps import ReadAccess, ServicesDep
from tailor.serving.problems import ProblemError
from tailor.serving.schemas import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_N,
    ItemScore,
    SimilarResponse,
    problem_responses,
)

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.get(
    "/{item_id}/similar",
    dependencies=[ReadAccess],
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def similar_items(
    item_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)],
    services: ServicesDep,
    n: Annotated[int | None, Query(ge=1, le=MAX_N)] = None,
) -> SimilarResponse:
    """Items similar to ``item_id`` (from the model when it supports it, else popular items of
    the item's category with ``source=fallback``). 404 when the item is unknown."""
    answer = await services.service.similar(item_id, n or services.settings.default_n)
    if answer is None:
        raise ProblemError(404, "unknown item", field="path.item_id")
    return SimilarResponse(
        item_id=item_id,
        items=[ItemScore(item_id=i, score=s) for i, s in answer.items],
        source=answer.source,
        model_version=answer.version,
    )
