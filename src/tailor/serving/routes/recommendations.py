"""``/v1/recommendations``: one user by path, many users by POST."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from tailor.serving.deps import ReadAccess, ServicesDep
from tailor.serving.schemas import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_N,
    BatchRecommendResponse,
    ItemScore,
    RecommendRequest,
    RecommendResponse,
    problem_responses,
)
from tailor.serving.service import Answer, RecQuery

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])

UserIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, description="The user."),
]
CategoryQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, description="Only items "
          "of this catalog category."),
]  # fmt: skip
ExcludeQuery = Annotated[
    list[Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]],
    Query(max_length=MAX_N, description="Item ids never to return (repeat the parameter)."),
]


def to_response(user_id: str, answer: Answer) -> RecommendResponse:
    """The API shape of an Answer."""
    return RecommendResponse(
        user_id=user_id,
        items=[ItemScore(item_id=i, score=s) for i, s in answer.items],
        source=answer.source,  # type: ignore[arg-type]
        model_version=answer.version,
        recommendation_id=answer.recommendation_id,
    )


@router.get(
    "/{user_id}",
    dependencies=[ReadAccess],
    response_model=RecommendResponse,
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def recommend_one(
    user_id: UserIdPath,
    services: ServicesDep,
    category: CategoryQuery = None,
    n: Annotated[int | None, Query(ge=1, le=MAX_N, description="List length.")] = None,
    exclude: ExcludeQuery = [],  # noqa: B006 - FastAPI copies defaults per request
    exclude_seen: Annotated[bool, Query(description="Leave out items the user saw.")] = True,
) -> Response:
    """The active model's top-n for one user, with business filters.

    An unknown user is answered with popular items (``source=cold_start``).
    """
    query = RecQuery(
        n=n or services.settings.default_n,
        category=category,
        exclude=frozenset(exclude),
        exclude_seen=exclude_seen,
    )
    answer = await services.service.recommend(user_id, query)
    # serialized here once: the hot path skips FastAPI's re-validation of the response model
    return Response(to_response(user_id, answer).model_dump_json(), media_type="application/json")


@router.post(
    "",
    dependencies=[ReadAccess],
    responses=problem_responses(401, 403, 413, 422, 429),
)
async def recommend_many(body: RecommendRequest, services: ServicesDep) -> BatchRecommendResponse:
    """Top-n for many users at once (same options for all), in request order."""
    if len(body.user_ids) > services.settings.max_batch_users:
        from tailor.serving.problems import ProblemError

        limit = services.settings.max_batch_users
        raise ProblemError(422, f"at most {limit} users per request", field="body.user_ids")
    query = RecQuery(
        n=body.n or services.settings.default_n,
        category=body.category,
        exclude=frozenset(body.exclude),
        exclude_seen=body.exclude_seen,
    )
    answers = await asyncio.gather(*(services.service.recommend(u, query) for u in body.user_ids))
    return BatchRecommendResponse(
        results=[to_response(u, a) for u, a in zip(body.user_ids, answers, strict=True)]
    )
