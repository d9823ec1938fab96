"""``/v1/recommendations``: one user by path, many users (and a ``context``) by POST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from tailor.models.explain import Explanation
from tailor.serving.deps import ReadAccess, Services, ServicesDep, get_services, require_read
from tailor.serving.schemas import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    BatchRecommendResponse,
    Identifier,
    RecommendParams,
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
_USER_ID: TypeAdapter[str] = TypeAdapter(Identifier)  # the same constraints as UserIdPath
_LIST_FIELDS = frozenset({"exclude"})
JSON = "application/json"


def to_response(user_id: str, answer: Answer) -> RecommendResponse:
    """The API shape of an Answer."""
    return RecommendResponse.model_validate(answer_document(user_id, answer))


def answer_document(user_id: str, answer: Answer) -> dict[str, Any]:
    """:class:`RecommendResponse` of ``answer`` as plain JSON values; items carry their
    explanation (and the answer ``explain_status``) only when the answer was explained."""
    document: dict[str, Any] = {
        "user_id": user_id,
        "items": [{"item_id": i, "score": s} for i, s in answer.items],
        "source": answer.source,
        "model_version": answer.version,
        "recommendation_id": answer.recommendation_id,
        "experiment": answer.experiment,
        "variant": answer.variant,
    }
    if answer.explanations is not None:
        for item, explanation in zip(document["items"], answer.explanations, strict=True):
            item["explanation"] = None if explanation is None else explanation_document(explanation)
        document["explain_status"] = answer.explain_status
    return document


def explanation_document(explanation: Explanation) -> dict[str, Any]:
    """:class:`ItemExplanation` of one model explanation."""
    return {
        "kind": explanation.kind,
        "score": explanation.score,
        "base_value": explanation.base_value,
        "contributions": [{"name": n, "value": v} for n, v in explanation.contributions],
    }


def encode_answer(user_id: str, answer: Answer) -> bytes:
    """JSON bytes of :class:`RecommendResponse` for ``answer``, without building the model.

    The values are already of the schema's types (str ids, float scores), so validating them
    again would only cost time; the schema tests check this shape against the OpenAPI spec.
    """
    return orjson.dumps(answer_document(user_id, answer))


def parse_recommend_one(request: Request) -> tuple[str, RecommendParams]:
    """Path and query of ``GET /v1/recommendations/{user_id}``, validated in two calls.

    Raises:
        RequestValidationError: with FastAPI's locations (``("query", "n")``...), so the error
            answer is the same problem+json document as for any other route.
    """
    errors: list[Any] = []
    user_id = ""
    try:
        user_id = _USER_ID.validate_python(request.path_params["user_id"])
    except ValidationError as exc:
        errors += [{**e, "loc": ("path", "user_id", *e["loc"])} for e in exc.errors()]
    query = request.query_params
    data: dict[str, Any] = {k: v for k, v in query.items() if k not in _LIST_FIELDS}
    for name in _LIST_FIELDS:  # always given: pydantic would deep-copy a list default
        data[name] = query.getlist(name)
    params = None
    try:
        params = RecommendParams.model_validate(data)
    except ValidationError as exc:
        errors += [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
    if errors or params is None:
        raise RequestValidationError(errors)
    return user_id, params


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class RecommendOneRoute(APIRoute):
    """The hot route, without FastAPI's per-parameter dependency solving.

    FastAPI validates each of the route's parameters separately and resolves its dependencies on
    every call, which was about 40 % of a cache hit's CPU. This route keeps the endpoint's
    signature for the OpenAPI spec but answers through :func:`parse_recommend_one` (one
    validation of the query model, one of the path) and calls the read-scope check itself.
    It runs no other FastAPI dependency: add any new one to the handler explicitly.
    """

    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            await require_read(request)
            user_id, params = parse_recommend_one(request)
            response: Response = await endpoint(user_id, params, request)
            return response

        return handler


async def recommend_one(
    user_id: UserIdPath,
    params: Annotated[RecommendParams, Query()],
    request: Request,
) -> Response:
    """The active model's top-n for one user, with business filters.

    An unknown user is answered with popular items (``source=cold_start``).
    """
    services = await get_services(request)
    query = RecQuery(
        n=params.n or services.settings.default_n,
        category=params.category,
        exclude=frozenset(params.exclude),
        exclude_seen=params.exclude_seen,
        segment=params.segment,
    )
    answer = await services.service.recommend(user_id, query)
    if params.explain:  # after the plain answer (cached or not), never in its place
        answer = await services.service.explain(user_id, answer, (), params.explain_top)
    return Response(encode_answer(user_id, answer), media_type=JSON)


router.add_api_route(
    "/{user_id}",
    recommend_one,
    methods=["GET"],
    response_model=RecommendResponse,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    route_class_override=RecommendOneRoute,
)


@router.post(
    "",
    dependencies=[ReadAccess],
    responses=problem_responses(401, 403, 413, 422, 429, 503),
    response_model_exclude_unset=True,  # explanations only when asked, as GET
)
async def recommend_many(body: RecommendRequest, services: ServicesDep) -> BatchRecommendResponse:
    """Top-n for many users at once (same options for all), in request order."""
    if len(body.user_ids) > services.settings.max_batch_users:
        from tailor.serving.problems import ProblemError

        limit = services.settings.max_batch_users
        raise ProblemError(422, f"at most {limit} users per request", field="body.user_ids")
    query = body_query(body, services)
    answers = await asyncio.gather(*(answer_body(services, u, body, query) for u in body.user_ids))
    return BatchRecommendResponse(
        results=[to_response(u, a) for u, a in zip(body.user_ids, answers, strict=True)]
    )


def body_query(body: RecommendRequest, services: Services) -> RecQuery:
    """The query of a request body's options."""
    return RecQuery(
        n=body.n or services.settings.default_n,
        category=body.category,
        exclude=frozenset(body.exclude),
        exclude_seen=body.exclude_seen,
        segment=body.segment,
    )


async def answer_body(
    services: Services, user_id: str, body: RecommendRequest, query: RecQuery
) -> Answer:
    """One user's answer: through the context when the body has context items; explained
    when the body asks."""
    items = body.context.item_ids if body.context is not None else []
    if items:
        answer = await services.service.recommend_context(user_id, items, query)
    else:
        answer = await services.service.recommend(user_id, query)
    if body.explain:
        answer = await services.service.explain(user_id, answer, items, body.explain_top)
    return answer
