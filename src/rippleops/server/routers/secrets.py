"""Provider secrets: values go in and never come out."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import SecretRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES, SecretValue

router = APIRouter(prefix=PROJECT + "/secrets", tags=["secrets"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[SecretRecord])
async def list_secrets(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[SecretRecord]:
    return await caller.run(services.secrets.list, project)


@router.put("/{name}", response_model=SecretRecord)
async def set_secret(
    name: str, body: SecretValue, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> SecretRecord:
    """Set (or replace) a secret; the answer names it but never holds the value."""
    return await caller.run(services.secrets.set, project, name, body.value)


@router.delete("/{name}", response_model=SecretRecord)
async def delete_secret(name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> SecretRecord:
    return await caller.run(services.secrets.delete, project, name)
