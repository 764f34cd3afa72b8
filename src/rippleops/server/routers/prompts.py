"""Prompts: create a version, fetch one (with an ETag), render, diff, list versions.

``{ref}`` is ``answer``, ``answer@production`` or ``answer:2`` (the kind is implied).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from rippleops.domain.access import Principal
from rippleops.domain.prompts import PromptSpec, parse_spec
from rippleops.domain.records import PromptRecord, VersionRecord, prompt_etag
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES, RenderRequest, RenderResult

router = APIRouter(prefix=PROJECT + "/prompts", tags=["prompts"], responses=ERROR_RESPONSES)
JSON = "application/json"

_SPEC_BODY = {
    "requestBody": {"content": {JSON: {"schema": PromptSpec.model_json_schema()}}, "required": True},
}


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison against a list of tags (or ``*``)."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.post(
    "/{name}",
    response_model=PromptRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": PromptRecord, "description": "identical content: the existing version"}},
)
async def create_prompt(
    name: str,
    spec: Annotated[dict[str, Any], Body()],
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
) -> Response:
    """Register a new version of ``prompt/{name}`` (201); identical content returns the existing one (200)."""

    def create(principal: Principal) -> PromptRecord:
        return services.prompts.create(principal, project, name, parse_spec(spec, f"prompt/{name}"))

    record = await caller.run(create)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@router.get("/{ref}", response_model=PromptRecord, responses={304: {"description": "the ETag still matches"}})
async def get_prompt(
    ref: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One prompt version with the text of its includes; send ``If-None-Match`` to get a 304."""
    record = await caller.run(services.prompts.get, project, ref)
    etag = prompt_etag(record)
    if if_none_match and etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(record.model_dump_json(), media_type=JSON, headers={"ETag": etag})


@router.post("/{ref}/render", response_model=RenderResult)
async def render_prompt(
    ref: str, body: RenderRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> RenderResult:
    return RenderResult(output=await caller.run(services.prompts.render, project, ref, body.variables))


@router.get("/{a}/diff/{b}", response_model=dict[str, Any])
async def diff_prompts(a: str, b: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    """What changed from ``a`` to ``b``: a unified diff of the body and the other fields."""
    return await caller.run(services.prompts.diff, project, a, b)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def prompt_versions(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.prompts.versions, project, name)
