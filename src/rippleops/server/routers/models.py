"""Models: create a version, fetch one, list versions, generate (JSON or Server-Sent Events),
and run a prompt with the model it names.

``{ref}`` is ``local-smollm``, ``local-smollm@production`` or ``local-smollm:2`` (the kind
is implied). With ``"stream": true`` the answer is ``text/event-stream``: ``delta`` events
(``{"text": ...}``), then one ``done`` event holding the generation record, or an ``error``
event (``{"error": {type, message, details}}``) if the model fails midway. A call that
cannot start (unknown model, missing secret, server down) is an ordinary error response.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.generation import SSE_MEDIA_TYPE
from rippleops.domain.models import PARAMS, PRICE_FIELDS, PROVIDERS
from rippleops.domain.records import GenerationRecord, VersionRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES
from rippleops.server.sse import sse_response

router = APIRouter(prefix=PROJECT + "/models", tags=["models"], responses=ERROR_RESPONSES)
runs = APIRouter(prefix=PROJECT + "/prompts", tags=["prompts"], responses=ERROR_RESPONSES)
log = logging.getLogger("rippleops.server")
JSON = "application/json"

MODEL_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["provider"],
    "additionalProperties": False,
    "properties": {
        "provider": {
            "enum": list(PROVIDERS),
            "description": "local (a GGUF run in-process) or openai (any OpenAI-compatible endpoint)",
        },
        "model": {"type": "string", "description": "openai: the server's model name (required); local: a display name"},
        "file": {"type": "string", "description": "local: absolute path of a GGUF file (default: the shipped SmolLM2)"},
        "weights_sha256": {"type": "string", "description": "local: the sha256 the file must have"},
        "base_url": {"type": "string", "description": "openai: the endpoint's /v1 URL"},
        "api_key_secret": {"type": "string", "description": "openai: the NAME of the Ripple secret holding the key"},
        "timeout": {"type": "number", "description": "openai: seconds per request (30)"},
        "retries": {"type": "integer", "description": "openai: retries on 429/5xx and timeouts (3)"},
        "extra_body": {"type": "object", "description": "openai: extra request fields"},
        "context_window": {"type": "integer", "description": "prompt + completion tokens (local default 2048)"},
        "params": {"type": "object", "description": "default decoding parameters: " + ", ".join(PARAMS)},
        "prices": {"type": "object", "description": "per million tokens: " + ", ".join(PRICE_FIELDS)},
        "tags": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
        "description": {"type": "string"},
    },
}
_SPEC_BODY = {"requestBody": {"content": {JSON: {"schema": MODEL_SPEC_SCHEMA}}, "required": True}}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the generation record, or with `stream: true` Server-Sent Events (delta*, then done or error)",
        "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    503: {"description": "the model's endpoint cannot be reached or keeps failing"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateRequest(_Body):
    messages: str | list[dict[str, Any]] = Field(
        description='chat messages ([{"role": "user", "content": "..."}]) or a text (one user turn)'
    )
    params: dict[str, Any] = Field(default_factory=dict, description="decoding parameters over the model's defaults")
    stream: bool = Field(default=False, description="answer with Server-Sent Events")


class PromptRunRequest(_Body):
    variables: dict[str, Any] = Field(default_factory=dict, description="values for the prompt's variables")
    model: str | None = Field(default=None, description="a model reference instead of the one the prompt names")
    params: dict[str, Any] = Field(default_factory=dict, description="decoding parameters over the prompt's")
    stream: bool = Field(default=False, description="answer with Server-Sent Events")


@router.post(
    "/{name}",
    response_model=VersionRecord,
    status_code=201,
    openapi_extra=_SPEC_BODY,
    responses={200: {"model": VersionRecord, "description": "identical content: the existing version"}},
)
async def create_model(
    name: str, spec: Annotated[dict[str, Any], Body()], project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Register a new version of ``model/{name}`` (201); identical content returns the existing one (200)."""
    record = await caller.run(services.models.create, project, name, spec)
    return Response(record.model_dump_json(), status_code=200 if record.created is False else 201, media_type=JSON)


@router.get("/{ref}", response_model=VersionRecord)
async def get_model(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    return await caller.run(services.models.get, project, ref)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def model_versions(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.models.versions, project, name)


@router.post("/{ref}/generate", response_model=GenerationRecord, responses=_STREAM_RESPONSES)
async def generate(
    ref: str, body: GenerateRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Generate with a model version: the reply, why it ended, token usage and cost."""
    if body.stream:
        stream = await caller.run(services.models.stream_with, project, ref, body.messages, body.params)
        return sse_response(stream, "a model")
    record = await caller.run(services.models.generate_with, project, ref, body.messages, body.params)
    return Response(record.model_dump_json(), media_type=JSON)


@runs.post("/{ref}/run", response_model=GenerationRecord, responses=_STREAM_RESPONSES)
async def run_prompt(
    ref: str, body: PromptRunRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Render a prompt version and generate with the model it names (or ``model``); the
    record names the exact prompt and model versions used."""
    runner = services.prompt_runs
    if body.stream:
        stream = await caller.run(runner.stream_with, project, ref, body.variables, body.model, body.params)
        return sse_response(stream, "a model")
    record = await caller.run(runner.run_with, project, ref, body.variables, body.model, body.params)
    return Response(record.model_dump_json(), media_type=JSON)
