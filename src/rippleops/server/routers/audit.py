"""The audit log (instance admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from rippleops.domain.records import AuditEventRecord, AuditVerifyRecord
from rippleops.server.auth import CallerDep, ServicesDep
from rippleops.server.routers.paths import API
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=API + "/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[AuditEventRecord])
async def audit_log(
    caller: CallerDep,
    services: ServicesDep,
    since: Annotated[datetime | None, Query(description="ISO time; UTC unless it names an offset")] = None,
    project: str | None = None,
    action: Annotated[str | None, Query(description="an action or its prefix")] = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEventRecord]:
    """The newest events matching the filters, oldest first."""
    return await caller.run(services.audit.log, since=since, project=project, action=action, actor=actor, limit=limit)


@router.get("/verify", response_model=AuditVerifyRecord)
async def audit_verify(caller: CallerDep, services: ServicesDep) -> AuditVerifyRecord:
    """Walk the hash chain; name the first event that was edited, removed or added out of band."""
    return await caller.run(services.audit.verify)
