"""Policies (guardrails): create a version, fetch one, list versions, and check a text.

``{ref}`` is ``support``, ``support@production`` or ``support:2`` (the kind is implied).
A check answers with the :class:`GuardResult`: the decision, the text to pass on, and each
validator's finding with its latency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.guards import GuardResult
from rippleops.domain.policies import TYPES
from rippleops.domain.records import VersionRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=PROJECT + "/policies", tags=["policies"], responses=ERROR_RESPONSES)
JSON = "application/json"
_VALIDATORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(TYPES)}, "action": {"enum": ["block", "redact", "fix", "reask", "warn"]}},
    },
}
POLICY_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": {**_VALIDATORS, "description": "validators run on the user's input, in order"},
        "output": {**_VALIDATORS, "description": "validators run on the model's output, in order"},
        "safe_answer": {"type": "string", "description": "what a blocked call answers"},
        "on_error": {"enum": ["closed", "open"], "description": "a validator that raises: block (closed) or allow"},
        "max_reasks": {"type": "integer", "description": "most re-asks of the model (output validators)"},
        "stream_window": {"type": "integer", "description": "characters a stream holds back (64)"},
        "embedder": {"type": "string", "description": "embedder for topic, injection and groundedness"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
        "description": {"type": "string"},
    },
}
_SPEC_BODY = {"requestBody": {"content": {JSON: {"schema": POLICY_SPEC_SCHEMA}}, "required": True}}


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="the text to check")
    stage: str = Field(default="input", description="input (the user's) or output (the model's)")
    context: dict[str, Any] | None = Field(
        default=None, description="query, contexts (retrieved passages) and output_schema, as validators need them"
    )


@router.post(
    "/{name}",
    response_model=VersionRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": VersionRecord, "description": "identical content: the existing version"}},
)
async def create_policy(
    name: str, spec: Annotated[dict[str, Any], Body()], project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Register a new version of ``policy/{name}`` (201); identical content returns the existing one (200)."""
    record = await caller.run(services.policies.create, project, name, spec)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@router.get("/{ref}", response_model=VersionRecord)
async def get_policy(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    return await caller.run(services.policies.get, project, ref)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def policy_versions(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.policies.versions, project, name)


@router.post("/{ref}/check", response_model=GuardResult)
async def check_policy(
    ref: str, body: CheckRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> GuardResult:
    """Run a policy's ``stage`` validators on a text: the decision and each validator's finding."""
    return await caller.run(services.policies.check, project, ref, body.text, stage=body.stage, context=body.context)
