"""``/v1/admin``: list versions, switch the active one, roll back (admin scope)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from tailor.errors import TailorError
from tailor.serving.deps import AdminAccess, ServicesDep
from tailor.serving.problems import ProblemError
from tailor.serving.registry import ModelRegistry
from tailor.serving.schemas import VersionInfo, VersionSwitch, problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminAccess])
ADMIN_PROBLEMS = problem_responses(401, 403, 404, 422, 429)


def _registry(services: ServicesDep) -> ModelRegistry:
    if services.registry is None or services.registry.is_single:
        raise ProblemError(404, "no model registry configured (model_dir is a single model)")
    return services.registry


async def _info(services: ServicesDep) -> VersionInfo:
    registry = services.registry
    versions = await asyncio.to_thread(registry.versions) if registry else []
    return VersionInfo(active=services.holder.state.version, versions=versions)


@router.get("/versions", responses=ADMIN_PROBLEMS)
async def versions(services: ServicesDep) -> VersionInfo:
    """Published versions and the one being served."""
    return await _info(services)


@router.put("/active-version", responses=ADMIN_PROBLEMS)
async def activate(body: VersionSwitch, request: Request, services: ServicesDep) -> VersionInfo:
    """Load a published version, then activate it (an atomic pointer switch) and serve it.

    404 when the version is not published; 422 when it does not load (the pointer stays).
    """
    registry = _registry(services)
    try:
        await asyncio.to_thread(registry.path, body.version)
    except TailorError as exc:
        raise ProblemError(404, registry.public(str(exc)), field="body.version") from None
    try:
        await request.app.state.reloader.activate(body.version)
    except TailorError as exc:
        raise ProblemError(422, registry.public(str(exc)), field="body.version") from None
    return await _info(services)


@router.post("/rollback", responses=ADMIN_PROBLEMS)
async def rollback(request: Request, services: ServicesDep) -> VersionInfo:
    """Re-activate the previous version (loaded first; a pointer flip).

    404 when there is none; 422 when it does not load (the pointer stays).
    """
    registry = _registry(services)
    try:
        await asyncio.to_thread(registry.rollback_target)
    except TailorError as exc:
        raise ProblemError(404, registry.public(str(exc))) from None
    try:
        await request.app.state.reloader.activate("", rollback=True)
    except TailorError as exc:
        raise ProblemError(422, registry.public(str(exc))) from None
    return await _info(services)
