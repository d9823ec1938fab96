"""Pure ASGI middleware (no per-request task switch): request latency by route template, body
limit, HEAD on GET routes, strict UTF-8 in paths and queries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tailor.serving.instruments import ServingMetrics


class LatencyMiddleware:
    """Observe ``tailor_serving_request_seconds{route, status}`` for every HTTP request.

    The route label is the matched template (``/v1/recommendations/{user_id}``), never the raw
    path, so user ids do not explode the label set; unmatched paths share ``unmatched``.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            self.metrics.observe_request(label, str(status), elapsed)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 problem document.

    A declared ``Content-Length`` over the limit is refused before the body is read; a streamed
    body is counted as it arrives and refused once it passes the limit.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})
        """Exact paths with their own limit (``/v1/events`` takes batches of events)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        total = 0

        async def counting_receive() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise HTTPException(413, f"request body over {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        from tailor.serving.problems import problem

        response = problem(413, f"request body over {limit} bytes")
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class HeadMiddleware:
    """Answer ``HEAD`` on every GET route: the GET response's status and headers, no body.

    FastAPI routes list only the methods they declare, so HEAD would be 405; HTTP says a GET
    resource answers HEAD too (monitors and caches use it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


class StrictUtf8Middleware:
    """422 for a path or query that is not valid UTF-8 once percent-decoded.

    Starlette decodes ``%FF`` to U+FFFD, so ``/v1/recommendations/a%FF`` and ``a%FE`` would be the
    same user; an id must be exactly what the client sent, or refused.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _invalid_utf8(scope)
            if field is not None:
                from tailor.serving.problems import problem

                errors = [{"field": field, "message": "not valid UTF-8 after percent-decoding"}]
                await problem(422, f"invalid request: {field}", errors=errors)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def plain_ascii(scope: Scope) -> bool:
    """Whether the path and query are ASCII without percent-escapes: then they are UTF-8 and
    decode to themselves (the common case, checked in well under a microsecond)."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
    query = scope.get("query_string", b"")
    return raw_path.isascii() and query.isascii() and b"%" not in raw_path and b"%" not in query


def _invalid_utf8(scope: Scope) -> str | None:
    """The first field (``path``, ``query`` or ``query.NAME``) that is not UTF-8, if any."""
    if plain_ascii(scope):
        return None
    raw_path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
    query = scope.get("query_string", b"")
    if not _is_utf8(raw_path):
        return "path"
    for pair in query.split(b"&"):
        name, _, value = pair.replace(b"+", b" ").partition(b"=")
        if not _is_utf8(name):
            return "query"
        if not _is_utf8(value):
            return f"query.{unquote_to_bytes(name).decode()}"
    return None


def _is_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
