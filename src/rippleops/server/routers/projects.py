"""Projects."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import ProjectRecord
from rippleops.server.auth import CallerDep, ServicesDep
from rippleops.server.routers.paths import API
from rippleops.server.schemas import ERROR_RESPONSES, ProjectCreate

router = APIRouter(prefix=API + "/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[ProjectRecord])
async def list_projects(caller: CallerDep, services: ServicesDep) -> list[ProjectRecord]:
    """The projects the caller has a role in (all of them for instance admins)."""
    return await caller.run(services.projects.list)


@router.post("", response_model=ProjectRecord, status_code=201)
async def create_project(body: ProjectCreate, caller: CallerDep, services: ServicesDep) -> ProjectRecord:
    """A new project (instance admins); its creator becomes its admin."""
    return await caller.run(services.projects.create, body.name, body.description)
