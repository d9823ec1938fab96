"""``POST /v1/events``: append a batch of live events to the event log.

The answer is 202 once the valid events are durably in the log (the consumer applies them
shortly after); invalid events are named by index and field and left out, the valid ones of the
same batch are kept. A batch with no valid event is 422; a log that cannot take the batch is 503
and nothing of it was accepted.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from tailor.data.columns import TRACKING_EVENT_TYPES
from tailor.logging import get_logger
from tailor.serving.deps import ReadAccess
from tailor.serving.problems import ProblemError
from tailor.serving.schemas import problem_responses
from tailor.streaming.events import MAX_BATCH, Event, event_json_schema, validate_events
from tailor.streaming.log import EventSink, LogUnavailable

_log = get_logger(__name__)


class EventBatch(BaseModel):
    """A batch of events; each is validated on its own (see ``Event`` for the fields)."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH)]
    """1 to 1,000 events: ``event_id``, ``user_id`` or ``session_id``, ``item_id``, ``type``,
    ``timestamp`` (ISO 8601 or epoch seconds), optional ``value`` and ``recommendation_id``."""


_BATCH: TypeAdapter[EventBatch] = TypeAdapter(EventBatch)


def batch_schema(event_types: Collection[str]) -> dict[str, Any]:
    """The documented request body: the batch, with each event's full schema."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_BATCH,
                            "items": event_json_schema(event_types),
                        }
                    },
                }
            }
        },
    }


async def read_batch(request: Request) -> EventBatch:
    """The body as a batch envelope (the events themselves are checked one by one)."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ProblemError(422, "invalid request: body", field="body") from None
    try:
        return _BATCH.validate_python(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


class EventProblem(BaseModel):
    """One rejected event."""

    index: int
    field: str
    message: str


class EventsAccepted(BaseModel):
    """What was appended to the log."""

    accepted: int
    """Valid events appended (the consumer applies them; repeats of an ``event_id`` are dropped
    there)."""
    rejected: list[EventProblem]
    """The invalid events, by index in the batch, left out."""


def event_sink(request: Request) -> EventSink:
    sink: EventSink | None = getattr(request.app.state, "event_sink", None)
    if sink is None:
        raise ProblemError(503, "no event log is configured (set event_log_url)")
    return sink


def add_route(router: APIRouter, event_types: Collection[str]) -> None:
    """``POST /v1/events``, its body documented for the server's accepted event types."""
    router.add_api_route(
        "",
        post_events,
        methods=["POST"],
        status_code=202,
        dependencies=[ReadAccess],
        response_model=EventsAccepted,
        responses=problem_responses(401, 403, 413, 422, 429, 503),
        openapi_extra={"requestBody": batch_schema(event_types)},
    )


async def post_events(request: Request) -> EventsAccepted:
    """Append live events (at most 1,000) to the event log."""
    body = await read_batch(request)
    sink = event_sink(request)
    settings = request.app.state.services.settings
    accepted, rejected = validate_events(body.events, frozenset(settings.event_types))
    metrics = request.app.state.services.metrics
    if rejected:
        metrics.events.labels("rejected").inc(len(rejected))
    if not accepted:
        raise ProblemError(
            422,
            "no valid event in the batch",
            errors=[
                {"field": f"body.events.{r.index}.{r.field}".rstrip("."), "message": r.message}
                for r in rejected
            ],
        )
    try:
        await run_in_threadpool(sink.append, accepted)
    except LogUnavailable as exc:
        _log.warning("events_not_appended", events=len(accepted), error=str(exc))
        raise ProblemError(503, "the event log is unavailable; no event was accepted") from None
    metrics.events.labels("accepted").inc(len(accepted))
    await _remember_items(request, accepted)
    return EventsAccepted(
        accepted=len(accepted),
        rejected=[EventProblem(**r.as_dict()) for r in rejected],
    )


async def _remember_items(request: Request, events: list[Event]) -> None:
    """Give the session store the items each visitor just touched (session-aware answers);
    exposures record what was shown, not what the visitor did, and are left out."""
    sessions = getattr(request.app.state.services, "sessions", None)
    if sessions is None:
        return
    by_key: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.type.strip().lower() in TRACKING_EVENT_TYPES:  # shown, not touched
            continue
        by_key.setdefault(event.key, []).append(event.item_id)
    for key, items in by_key.items():
        await sessions.add(key, items)
