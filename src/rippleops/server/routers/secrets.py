"""Provider secrets: values go in and never come out."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import SecretRecord
from rippleops.server.auth import PrincipalDep, ProjectDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES, SecretValue

router = APIRouter(prefix="/secrets", tags=["secrets"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[SecretRecord])
def list_secrets(project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> list[SecretRecord]:
    return services.secrets.list(principal, project)


@router.put("/{name}", response_model=SecretRecord)
def set_secret(
    name: str, body: SecretValue, project: ProjectDep, principal: PrincipalDep, services: ServicesDep
) -> SecretRecord:
    """Set (or replace) a secret; the answer names it but never holds the value."""
    return services.secrets.set(principal, project, name, body.value)


@router.delete("/{name}", response_model=SecretRecord)
def delete_secret(name: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> SecretRecord:
    return services.secrets.delete(principal, project, name)
