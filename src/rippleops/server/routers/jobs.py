"""Jobs: submit (202: the server's pool runs it), list, show, logs, cancel, rerun."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES, JobSubmit

router = APIRouter(prefix=PROJECT + "/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.post("", response_model=JobRecord, status_code=202)
async def submit_job(body: JobSubmit, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    """Queue a job of ``kind`` with ``params``; follow it with ``GET …/jobs/{id}`` and its logs."""
    return await caller.run(services.jobs.submit, project, body.kind, body.params)


@router.get("", response_model=list[JobRecord])
async def list_jobs(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    state: Annotated[str | None, Query(description="queued, running, succeeded, failed or cancelled")] = None,
    kind: Annotated[str | None, Query(description="a job kind, such as prompt.import")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobRecord]:
    """Jobs of the project, newest first."""
    return await caller.run(services.jobs.list, project, state=state, kind=kind, limit=limit)


@router.get("/{job_id}", response_model=JobRecord)
async def get_job(job_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    return await caller.run(services.jobs.show, project, job_id)


@router.get("/{job_id}/logs", response_model=list[JobLogRecord])
async def job_logs(
    job_id: int,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="only lines with a higher seq (the last one seen)")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[JobLogRecord]:
    """The job's log lines after ``after``, oldest first."""
    return await caller.run(services.jobs.logs, project, job_id, after, limit)


@router.post("/{job_id}/cancel", response_model=JobRecord)
async def cancel_job(job_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    """Cancel a queued job at once; ask a running one to stop at its next check."""
    return await caller.run(services.jobs.cancel, project, job_id)


@router.post("/{job_id}/rerun", response_model=JobRecord, status_code=202)
async def rerun_job(job_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    """Queue a new job with the kind and parameters of a failed or cancelled one."""
    return await caller.run(services.jobs.rerun, project, job_id)
