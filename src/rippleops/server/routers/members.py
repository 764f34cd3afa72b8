"""Project members and their roles."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import MemberRecord
from rippleops.server.auth import PrincipalDep, ProjectDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES, RoleGrant

router = APIRouter(prefix="/members", tags=["members"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[MemberRecord])
def list_members(project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> list[MemberRecord]:
    return services.access.members(principal, project)


@router.put("/{user}", response_model=MemberRecord)
def grant_role(
    user: str, body: RoleGrant, project: ProjectDep, principal: PrincipalDep, services: ServicesDep
) -> MemberRecord:
    """Give ``user`` a role in the project (replacing any other)."""
    return services.access.grant(principal, project, user, body.role)


@router.delete("/{user}", response_model=MemberRecord)
def revoke_role(user: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> MemberRecord:
    return services.access.revoke(principal, project, user)
