"""The hot route without the layers that do nothing for it: ``GET /v1/recommendations/{id}``.

Every request normally passes FastAPI's telemetry and body-limit wrappers, four tailor
middlewares, the exception and exit-stack middlewares and a router that tries the app's routes
one by one: about 40 microseconds per request before the route's handler runs (measured
in-process, ``bench/serving/hot_path.py``), a quarter to a third of a cache hit's CPU in the
app. :class:`ServingApp` sends a request that can only be ``GET /v1/recommendations/{id}`` without
a body, in plain ASCII without percent-escapes, straight to that route, behind the layers that
act on such a request: ``ServerErrorMiddleware`` (unexpected errors, with the app's handler),
every user middleware except the three that are no-ops for it (:data:`NO_OPS`: HEAD, UTF-8 and
body limits), ``ExceptionMiddleware`` (problem+json errors, with the app's handlers) and
FastAPI's exit stack. The route itself is unchanged: the same matching, auth and rate limit,
validation, service call and encoding, so every answer (cache hit, miss, cold start, fallback,
422, 401, 429, 503, ``explain``) and every metric is the one the full stack gives; anything
else (HEAD, escapes, a body, OpenTelemetry configured, a ``root_path``) takes the full stack.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.routing import APIRoute
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tailor.serving.middleware import (
    BodyLimitMiddleware,
    HeadMiddleware,
    StrictUtf8Middleware,
    plain_ascii,
)

TELEMETRY_RECHECK_S = 1.0
ROUTE = "/v1/recommendations/{user_id}"
PREFIX = "/v1/recommendations/"
NO_OPS: frozenset[Any] = frozenset({HeadMiddleware, StrictUtf8Middleware, BodyLimitMiddleware})
"""User middlewares that pass a taken request through untouched: it is a GET (HEAD), plain
ASCII without ``%`` (the UTF-8 check) and has no body (the body limit). Any other middleware
stays in front of the route."""


class FastPath:
    """The route behind the layers that act on it; :meth:`child_scope` decides what it takes."""

    def __init__(self, app: FastAPI, route: APIRoute) -> None:
        self.route = route
        stack: ASGIApp = AsyncExitStackMiddleware(route.handle)
        handlers: dict[Any, Any] = {}
        error_handler = None
        for key, value in app.exception_handlers.items():  # as Starlette splits them
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        stack = ExceptionMiddleware(stack, handlers=handlers, debug=app.debug)
        for middleware in reversed(app.user_middleware):
            if middleware.cls not in NO_OPS:
                stack = middleware.cls(stack, *middleware.args, **middleware.kwargs)
        self.stack: ASGIApp = ServerErrorMiddleware(stack, handler=error_handler, debug=app.debug)

    @classmethod
    def of(cls, app: FastAPI) -> FastPath | None:
        """The fast path of ``app``'s recommendation route; None when the app has no such GET
        route, or when another route could also answer such a path (a route under its prefix,
        or one before it that matches, such as a catch-all: the router's order would decide)."""
        routes = _flat_routes(app.routes)
        under = [r for r in routes if r.path.startswith(PREFIX)]
        if len(under) != 1 or not isinstance(under[0], APIRoute):
            return None
        route = under[0]
        if route.path != ROUTE or route.methods != {"GET"}:
            return None
        probe = {"type": "http", "method": "GET", "path": PREFIX + "x", "root_path": ""}
        if any(r.matches({**probe})[0] is not Match.NONE for r in routes if r is not route):
            return None
        return cls(app, route)

    def child_scope(self, scope: Scope) -> Scope | None:
        """What the router would add to ``scope`` for this route, when the request is one the
        fast path takes; None sends it through the full stack."""
        if scope["method"] != "GET" or not scope["path"].startswith(PREFIX):
            return None
        if scope.get("root_path") or not plain_ascii(scope):
            return None
        for name, value in scope["headers"]:
            if name in (b"content-length", b"transfer-encoding") and value != b"0":
                return None
        match, child = self.route.matches(scope)
        return child if match is Match.FULL else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stack(scope, receive, send)


class ServingApp(FastAPI):
    """FastAPI with :class:`FastPath` in front for the recommendation route.

    The fast path is built at the first request, like Starlette's middleware stack, so it sees
    the finished app (routes, middlewares, exception handlers). ``fast_path_enabled = False``
    sends every request through the full stack (the tests compare the two).
    """

    fast_path_enabled = True
    _fast: FastPath | None = None
    _fast_built = False
    _otel_until = 0.0
    _otel_on = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.fast_path_enabled:
            fast = self.fast_path()
            child = None if fast is None else fast.child_scope(scope)
            if fast is not None and child is not None and not self.telemetry_on():
                scope["app"] = self
                scope.setdefault("router", self.router)
                scope.update(child)
                await fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def telemetry_on(self) -> bool:
        """Whether FastAPI's OpenTelemetry is configured (then requests get spans: the full
        stack). Read again once a second: the check reads three providers and the
        environment (4-14 microseconds), and providers are set once, at start-up."""
        now = time.monotonic()
        if now >= self._otel_until:
            self._otel_on = self._native_telemetry.enabled()
            self._otel_until = now + TELEMETRY_RECHECK_S
        return self._otel_on

    def fast_path(self) -> FastPath | None:
        """The app's fast path (None: this app has none), built once."""
        if not self._fast_built:
            self._fast = FastPath.of(self)
            self._fast_built = True
        return self._fast


def _flat_routes(routes: list[BaseRoute]) -> list[Any]:
    """Every route with a ``path``, included routers' routes included."""
    out: list[Any] = []
    for route in routes:
        original = getattr(route, "original_router", None)  # FastAPI's included routers
        if original is not None:
            out.extend(_flat_routes(original.routes))
        elif hasattr(route, "path"):
            out.append(route)
    return out
