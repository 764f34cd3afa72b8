"""Sweeps: start one (a ``sweep.run`` job: 202), read its result and its HTML report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.records import JobRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=PROJECT + "/sweeps", tags=["sweeps"], responses=ERROR_RESPONSES)


class SweepCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str = Field(description="the base app version, e.g. app/support-bot@production")
    suite: str = Field(description="the suite that scores every point, e.g. suite/support-qa")
    grid: dict[str, list[Any]] = Field(
        description="knob -> values; knobs: k, mode, chunk_size, prompt, model, temperature, max_tokens"
    )
    method: str = Field(default="grid", description="grid (every combination) or optuna (TPE)")
    trials: int | None = Field(default=None, description="optuna: how many distinct points to score")
    objective: str | None = Field(default=None, description="the quality metric (default: the suite's first)")
    max_points: int | None = Field(default=None, description="refuse a grid larger than this (default 50)")
    storage: str | None = Field(default=None, description="optuna: an RDB storage URL (a database, on a server)")
    study: str | None = Field(default=None, description="optuna: the study name in that storage")
    seed: int | None = None


@router.post("", response_model=JobRecord, status_code=202)
async def start_sweep(body: SweepCreate, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    """Queue a sweep; follow it with ``GET …/jobs/{id}``, read it with ``GET …/sweeps/{id}``."""
    spec = body.model_dump(exclude_none=True)
    return await caller.run(services.sweeps.run, project, spec)


@router.get("/{job_id}", response_model=dict[str, Any])
async def get_sweep(job_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    """A finished sweep: every point, the Pareto front, the gains and the recommendation."""
    result: dict[str, Any] = await caller.run(services.sweeps.result, project, job_id)
    return result


@router.get("/{job_id}/report", response_class=HTMLResponse)
async def sweep_report(job_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> HTMLResponse:
    """The sweep's HTML report (self-contained: open it offline)."""
    html: str = await caller.run(services.sweeps.report_html, project, job_id)
    return HTMLResponse(html)
