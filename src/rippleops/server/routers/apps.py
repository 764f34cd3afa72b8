"""Apps: create a version (its parts resolved and pinned), fetch one, list versions, and
invoke one — JSON, or Server-Sent Events with ``"stream": true``.

``{ref}`` is ``support-bot``, ``support-bot@production`` or ``support-bot:2`` (the kind is
implied). A stream is ``delta`` events (``{"text": ...}``), then one ``done`` event holding
the run record, or an ``error`` event if the app fails midway; a call that cannot start is
an ordinary error response. A client that goes away mid-stream closes the app's stream: the
model stops and the call's trace says cancelled.

``POST /api/v1/apps/{ref}/invoke`` is the same invoke with the project taken from the
``X-Ripple-Project`` header (default ``default``), for clients that know only an app's name.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.apps import STEP_KINDS
from rippleops.domain.generation import SSE_MEDIA_TYPE
from rippleops.domain.records import AppRunRecord, VersionRecord
from rippleops.domain.refs import validate_name
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import API, PROJECT
from rippleops.server.schemas import ERROR_RESPONSES
from rippleops.server.sse import sse_response
from rippleops.settings import DEFAULT_PROJECT

router = APIRouter(prefix=PROJECT + "/apps", tags=["apps"], responses=ERROR_RESPONSES)
invoke_router = APIRouter(prefix=API + "/apps", tags=["apps"], responses=ERROR_RESPONSES)
log = logging.getLogger("rippleops.server")
JSON = "application/json"

APP_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["steps"],
    "additionalProperties": False,
    "properties": {
        "steps": {
            "type": "array",
            "description": "one-key mappings, in order: " + ", ".join(STEP_KINDS) + " (see docs/apps.md)",
            "items": {"type": "object"},
        },
        "tools": {
            "type": "array",
            "description": "{name, python: module:function | entry_point: NAME | http: {url, method}, timeout_s}",
            "items": {"type": "object"},
        },
        "description": {"type": "string"},
        "message": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
_SPEC_BODY = {"requestBody": {"content": {JSON: {"schema": APP_SPEC_SCHEMA}}, "required": True}}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the run record, or with `stream: true` Server-Sent Events (delta*, then done or error)",
        "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    503: {"description": "a model, tool or index the app uses cannot be reached"},
}


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str | None = Field(default=None, description="the question (or give `messages`)")
    messages: list[dict[str, Any]] | None = Field(
        default=None, description="a chat; the last turn is the user's question, earlier turns are history"
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="extra prompt variables")
    params: dict[str, Any] = Field(default_factory=dict, description="decoding overrides (max_tokens, temperature ...)")
    metadata: dict[str, Any] = Field(default_factory=dict, description="user/session ids ..., recorded on the trace")
    stream: bool = Field(default=False, description="answer with Server-Sent Events")

    def request(self) -> dict[str, Any]:
        """The service's request mapping (only the fields given, so errors say what was sent)."""
        return self.model_dump(exclude={"stream"}, exclude_unset=True)


@router.post(
    "/{name}",
    response_model=VersionRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": VersionRecord, "description": "identical content and pins: the existing version"}},
)
async def create_app(
    name: str, spec: Annotated[dict[str, Any], Body()], project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Register a new version of ``app/{name}`` (201), every part it references resolved and
    pinned as its inputs; identical content over the same pins returns the existing one (200)."""
    record = await caller.run(services.apps.create, project, name, spec)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@router.get("/{ref}", response_model=VersionRecord)
async def get_app(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    return await caller.run(services.apps.get, project, ref)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def app_versions(name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[VersionRecord]:
    return await caller.run(services.apps.versions, project, name)


@router.post("/{ref}/invoke", response_model=AppRunRecord, responses=_STREAM_RESPONSES)
async def invoke_app(
    ref: str, body: InvokeRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Run the app version ``ref`` names (its pinned parts): the answer, sources, guard
    decisions, tokens, cost, latency and the trace id."""
    return await _invoke(ref, body, project, caller, services)


@invoke_router.post("/{ref}/invoke", response_model=AppRunRecord, responses=_STREAM_RESPONSES)
async def invoke_app_by_name(
    ref: str,
    body: InvokeRequest,
    caller: CallerDep,
    services: ServicesDep,
    x_ripple_project: Annotated[str | None, Header(description="the project (default `default`)")] = None,
) -> Response:
    """:func:`invoke_app` with the project from the ``X-Ripple-Project`` header."""
    project = validate_name(x_ripple_project or DEFAULT_PROJECT, "project name")
    return await _invoke(ref, body, project, caller, services)


async def _invoke(ref: str, body: InvokeRequest, project: str, caller: CallerDep, services: ServicesDep) -> Response:
    if body.stream:
        stream = await caller.run(services.apps.stream, project, ref, body.request())
        return sse_response(stream, "an app")
    record = await caller.run(services.apps.invoke, project, ref, body.request())
    return Response(record.model_dump_json(), media_type=JSON)
