"""Suites and eval runs: register and read suite versions; run a suite on a target (an
``eval.run`` job, 202), read runs and their samples, check gates, compare two runs, and the
HTML reports.

``{ref}`` of a suite is ``support-qa``, ``support-qa@production`` or ``support-qa:2``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.records import (
    AssetRecord,
    CompareRecord,
    EvalRunRecord,
    EvalSampleRecord,
    GateReport,
    JobRecord,
    PromptRecord,
    VersionRecord,
)
from rippleops.domain.suites import RULES, STATS, TARGET_KINDS
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

suites = APIRouter(prefix=PROJECT + "/suites", tags=["suites"], responses=ERROR_RESPONSES)
router = APIRouter(prefix=PROJECT + "/evals", tags=["evals"], responses=ERROR_RESPONSES)
JSON = "application/json"
SUITE_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dataset", "metrics"],
    "properties": {
        "dataset": {"type": "string", "description": "the eval dataset: dataset/NAME@label (pinned at creation)"},
        "target": {"enum": list(TARGET_KINDS), "description": "the kind of asset the suite scores (app)"},
        "columns": {"type": "object", "description": "dataset columns: input, expected, contexts, relevant, id"},
        "metrics": {"type": "array", "description": "metric names, or {name, as, settings...}"},
        "gates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metric": {"type": "string"},
                    "stat": {"enum": list(STATS)},
                    **{r: {"type": "number"} for r in RULES},
                },
            },
        },
        "baseline": {"type": "string", "description": "label of the target whose run is the baseline (production)"},
        "targets": {"type": "array", "items": {"type": "string"}, "description": "assets the suite evaluates"},
        "concurrency": {"type": "integer", "description": "concurrent target calls (2)"},
        "model": {"type": ["string", "null"], "description": "target: prompt — the model to run it with"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
        "description": {"type": "string"},
    },
}
_SPEC_BODY = {"requestBody": {"content": {JSON: {"schema": SUITE_SPEC_SCHEMA}}, "required": True}}


class EvalRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suite: str = Field(description="the suite: suite/support-qa, support-qa@production")
    target: str = Field(description="the version to score: app/support-bot:3, app/support-bot@staging")
    concurrency: int | None = Field(default=None, ge=1, le=64, description="concurrent target calls")
    limit: int | None = Field(default=None, ge=1, description="score only the first N samples")


class GateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: int | None = Field(default=None, description="a run id; default the suite's baseline run")


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_a: int
    run_b: int
    top: int = Field(default=10, ge=1, le=1000, description="regressed samples shown per metric")


# -- suites ----------------------------------------------------------------------------------------


@suites.get("", response_model=list[AssetRecord])
async def list_suites(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[AssetRecord]:
    return await caller.run(services.suites.list, project)


@suites.post(
    "/{name}",
    response_model=VersionRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": VersionRecord, "description": "identical content: the existing version"}},
)
async def create_suite(
    name: str, spec: Annotated[dict[str, Any], Body()], project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Register a new version of ``suite/{name}`` (201); identical content returns the existing one (200)."""
    record = await caller.run(services.suites.create, project, name, spec)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@suites.get("/{ref}", response_model=VersionRecord)
async def get_suite(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    return await caller.run(services.suites.get, project, ref)


# -- eval runs -------------------------------------------------------------------------------------


@router.post("", response_model=JobRecord, status_code=202)
async def run_eval(body: EvalRunRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> JobRecord:
    """Queue an ``eval.run`` job; its result holds the run id (follow it under ``…/jobs/{id}``)."""
    return await caller.run(
        services.evals.run, project, body.suite, body.target, concurrency=body.concurrency, limit=body.limit
    )


@router.get("", response_model=list[EvalRunRecord])
async def list_runs(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    suite: Annotated[str | None, Query(description="a suite asset or exact version")] = None,
    target: Annotated[str | None, Query(description="a target asset or exact version")] = None,
    state: Annotated[str | None, Query(description="running, succeeded, failed or cancelled")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[EvalRunRecord]:
    """Runs, newest first."""
    return await caller.run(services.evals.runs, project, suite=suite, target=target, state=state, limit=limit)


@router.post("/judge-prompts", response_model=list[PromptRecord])
async def init_judge_prompts(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[PromptRecord]:
    """Register Ripple's judge rubric prompts (``prompt/judge-correctness`` ...)."""
    return await caller.run(services.suites.init_prompts, project)


@router.post("/compare", response_model=CompareRecord)
async def compare_runs(
    body: CompareRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> CompareRecord:
    """B against A: per-metric deltas with paired bootstrap intervals, the samples that regressed most."""
    return await caller.run(services.evals.compare, project, body.run_a, body.run_b, top=body.top)


@router.get("/{run_id}", response_model=EvalRunRecord)
async def get_run(run_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> EvalRunRecord:
    return await caller.run(services.evals.get_run, project, run_id)


@router.get("/{run_id}/samples", response_model=list[EvalSampleRecord])
async def run_samples(
    run_id: int,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="default: all")] = None,
) -> list[EvalSampleRecord]:
    """The run's per-sample results in dataset order."""
    return await caller.run(services.evals.samples, project, run_id, offset=offset, limit=limit)


@router.post("/{run_id}/gate", response_model=GateReport)
async def gate_run(
    run_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep, body: GateRequest | None = None
) -> GateReport:
    """The suite's gates on the run (stored as its last gate check); ``passed`` says whether it may be promoted."""
    baseline = body.baseline if body is not None else None
    return await caller.run(services.evals.gate, project, run_id, baseline=baseline)


@router.get("/{run_id}/report", response_class=HTMLResponse)
async def run_report(run_id: int, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> HTMLResponse:
    """The run's HTML report (Plotly inline)."""
    return HTMLResponse(await caller.run(services.evals.report_html, project, run_id))


@router.get("/{run_a}/compare/{run_b}/report", response_class=HTMLResponse)
async def compare_report(
    run_a: int, run_b: int, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> HTMLResponse:
    """The HTML report of comparing run B against run A."""
    return HTMLResponse(await caller.run(services.evals.compare_html, project, run_a, run_b))
