"""``/v1/admin``: list versions, switch the active one, roll back; list, start and stop
experiments (admin scope)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from tailor.errors import TailorError
from tailor.experiments.assignment import Assigner
from tailor.experiments.config import Experiment
from tailor.serving.deps import AdminAccess, ServicesDep
from tailor.serving.problems import ProblemError
from tailor.serving.registry import ModelRegistry
from tailor.serving.schemas import (
    ExperimentInfo,
    ExperimentList,
    VersionInfo,
    VersionSwitch,
    problem_responses,
)
from tailor.serving.state import StateOptions, load_versions

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


def _assigner(services: ServicesDep) -> Assigner:
    assigner = services.service.assigner
    if assigner is None:
        raise ProblemError(404, "no experiment is declared (settings: experiments)")
    return assigner


def _experiment_info(experiment: Experiment) -> ExperimentInfo:
    return ExperimentInfo(
        name=experiment.name,
        status=experiment.status,
        running=experiment.running_at(datetime.now(UTC)),
        traffic=experiment.traffic,
        start=experiment.start,
        stop=experiment.stop,
        primary_metric=experiment.primary_metric,
        variants=list(experiment.variants),
    )


@router.get("/experiments", responses=ADMIN_PROBLEMS)
async def experiments(services: ServicesDep) -> ExperimentList:
    """The declared experiments (docs/experiments.md), in the order they are tried."""
    assigner = services.service.assigner
    found = assigner.experiments if assigner is not None else []
    return ExperimentList(experiments=[_experiment_info(e) for e in found])


@router.post("/experiments/{name}/start", responses=ADMIN_PROBLEMS)
async def start_experiment(name: str, services: ServicesDep) -> ExperimentInfo:
    """Set the experiment's status to ``running`` in this process (it assigns between its
    ``start`` and ``stop``; the settings file is not changed: a restart reads it again).
    Variant versions not loaded yet are loaded first; 422 when one does not load."""
    assigner = _assigner(services)
    if name not in {e.name for e in assigner.experiments}:
        raise ProblemError(404, f"no experiment named {name!r}")
    service = services.service
    missing = assigner.versions(name) - set(service.variant_states)
    if missing:
        if services.registry is None:
            raise ProblemError(422, "variant versions need a model store (model_dir)")
        settings = services.settings
        loaded = await asyncio.to_thread(
            load_versions, services.registry, missing, StateOptions.of(settings)
        )
        if set(loaded) != missing:
            failed = ", ".join(sorted(missing - set(loaded)))
            raise ProblemError(422, f"variant version(s) did not load: {failed}")
        service.variant_states = {**service.variant_states, **loaded}
    return _experiment_info(assigner.set_status(name, "running"))


@router.post("/experiments/{name}/stop", responses=ADMIN_PROBLEMS)
async def stop_experiment(name: str, services: ServicesDep) -> ExperimentInfo:
    """Set the experiment's status to ``stopped`` in this process: its users get the default
    answer from the next request on (the settings file is not changed)."""
    assigner = _assigner(services)
    try:
        return _experiment_info(assigner.set_status(name, "stopped"))
    except KeyError:
        raise ProblemError(404, f"no experiment named {name!r}") from None
