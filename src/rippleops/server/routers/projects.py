"""Projects."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import ProjectRecord
from rippleops.server.auth import PrincipalDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES, ProjectCreate

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[ProjectRecord])
def list_projects(principal: PrincipalDep, services: ServicesDep) -> list[ProjectRecord]:
    """The projects the caller has a role in (all of them for instance admins)."""
    return services.projects.list(principal)


@router.post("", response_model=ProjectRecord, status_code=201)
def create_project(body: ProjectCreate, principal: PrincipalDep, services: ServicesDep) -> ProjectRecord:
    """A new project (instance admins); its creator becomes its admin."""
    return services.projects.create(principal, body.name, body.description)
