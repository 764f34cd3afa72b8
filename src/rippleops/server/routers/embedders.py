"""Embedders: register a version, fetch one, list versions, embed texts (through the cache).

``{ref}`` is ``minilm``, ``minilm@production`` or ``minilm:2`` (the kind is implied).
Labels, listing and metadata are the generic asset routes (``/assets/embedder/...``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.access import Principal
from rippleops.domain.embedders import EmbedderSpec
from rippleops.domain.records import EmbeddingRecord, VersionRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES
from rippleops.services.embedders import MAX_TEXTS_PER_CALL

router = APIRouter(prefix=PROJECT + "/embedders", tags=["embedders"], responses=ERROR_RESPONSES)
JSON = "application/json"

_SPEC_BODY = {
    "requestBody": {"content": {JSON: {"schema": EmbedderSpec.model_json_schema()}}, "required": True},
}


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(description=f"the texts to embed, at most {MAX_TEXTS_PER_CALL}")


@router.post(
    "/{name}",
    response_model=VersionRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": VersionRecord, "description": "identical content: the existing version"}},
)
async def create_embedder(
    name: str,
    spec: Annotated[dict[str, Any], Body()],
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
) -> Response:
    """Register a new version of ``embedder/{name}`` (201); identical content returns the existing one (200)."""

    def create(principal: Principal) -> VersionRecord:
        return services.embedders.create(principal, project, name, spec)

    record = await caller.run(create)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@router.get("/{ref}", response_model=VersionRecord)
async def get_embedder(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    """One embedder version: provider, model id, dimension, normalisation, weights hash."""
    return await caller.run(services.embedders.get, project, ref)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def embedder_versions(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.embedders.versions, project, name)


@router.post("/{ref}/embed", response_model=EmbeddingRecord)
async def embed_texts(
    ref: str, body: EmbedRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> EmbeddingRecord:
    """Vectors for ``texts``, in order; texts this embedder has embedded before come from the cache."""
    return await caller.run(services.embedders.embed_record, project, ref, body.texts)
