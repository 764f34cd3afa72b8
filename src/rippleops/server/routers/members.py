"""Project members and their roles."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import MemberRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES, RoleGrant

router = APIRouter(prefix=PROJECT + "/members", tags=["members"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[MemberRecord])
async def list_members(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[MemberRecord]:
    return await caller.run(services.access.members, project)


@router.put("/{user}", response_model=MemberRecord)
async def grant_role(
    user: str, body: RoleGrant, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> MemberRecord:
    """Give ``user`` a role in the project (replacing any other)."""
    return await caller.run(services.access.grant, project, user, body.role)


@router.delete("/{user}", response_model=MemberRecord)
async def revoke_role(user: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> MemberRecord:
    return await caller.run(services.access.revoke, project, user)
