"""The ripple engine: the impact of a change, what is stale, and applies (one job each)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.records import ApplyRecord, PlanRecord, StaleReport
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=PROJECT, tags=["ripple"], responses=ERROR_RESPONSES)
JSON = "application/json"


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change: str | None = Field(default=None, description="embedder/minilm:2 or prompt/answer@production")
    to: int | None = Field(default=None, description="for a label move: the version it would move to")
    stale: bool = Field(default=False, description="apply what is stale now instead of a change")
    dry_run: bool = Field(default=False, description="return the plan without running it")
    resume: int | None = Field(default=None, description="rerun this apply, skipping its finished steps")


@router.get("/impact", response_model=PlanRecord)
async def impact(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    change: str = Query(description="a new version (embedder/minilm:2) or a label (prompt/answer@production)"),
    to: int | None = Query(default=None, description="a hypothetical label move to this version"),
) -> PlanRecord:
    """Every live version the change affects, with its action and estimate, in order."""
    return await caller.run(services.ripple.impact, project, change, to=to)


@router.get("/stale", response_model=StaleReport)
async def stale(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    all: bool = Query(default=False, description="old history too, not only live versions"),
    kind: str | None = Query(default=None, description="only versions of this kind"),
) -> StaleReport:
    """Every version whose recorded inputs no longer match what its references resolve to."""
    return await caller.run(services.ripple.stale, project, all=all, kind=kind)


@router.post("/applies", response_model=ApplyRecord, status_code=201)
async def create_apply(body: ApplyRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> Response:
    """Start an apply as a job on the server (or, with ``dry_run``, return its plan)."""
    record = await caller.run(services.ripple.apply, project, **body.model_dump())
    return Response(record.model_dump_json(), status_code=201, media_type=JSON)


@router.get("/applies", response_model=list[ApplyRecord])
async def list_applies(
    project: ProjectDep, caller: CallerDep, services: ServicesDep, limit: int = Query(default=50, ge=1, le=500)
) -> list[ApplyRecord]:
    return await caller.run(services.ripple.list_applies, project, limit=limit)


@router.get("/applies/{apply_id}", response_model=ApplyRecord)
async def get_apply(apply_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> ApplyRecord:
    """One apply: its fixed plan, each step's outcome and the final report."""
    return await caller.run(services.ripple.get_apply, project, apply_id)
