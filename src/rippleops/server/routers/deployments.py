"""Deployments: deploy an app version to an environment on a target, promote, inspect, stop.

A ``local`` deployment started over REST runs on the server's machine as a supervised
``ripple serve`` bound to its loopback (``127.0.0.1``), so it is reachable from that machine
only; the template targets (``docker``, ``k8s``, ``ray-serve``) write nothing on the server:
their files come back as JSON (``files``: path -> text) for the client to write.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.deployments import TARGETS, DeploymentRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=PROJECT + "/deployments", tags=["deployments"], responses=ERROR_RESPONSES)
JSON = "application/json"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DeployRequest(_Body):
    app: str = Field(description="the app to deploy: support-bot@staging, app/support-bot:3 ...")
    env: str = Field(description="dev, staging, production or another label name (the app label it moves)")
    target: str = Field(default="local", description="one of " + ", ".join(TARGETS))
    port: int | None = None
    replicas: int | None = None
    image: str | None = None
    resources: dict[str, Any] | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


class PromoteRequest(_Body):
    app: str = Field(description="the app, e.g. support-bot")
    source: str = Field(alias="from", description="the environment whose app version is promoted, e.g. staging")
    to: str = Field(description="the environment to promote to, e.g. production")


@router.post("", response_model=DeploymentRecord, status_code=201)
async def create_deployment(
    body: DeployRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> Response:
    """Deploy: move the app's ``env`` label, register ``deployment/<app>-<env>`` and start it
    (local) or render its files (templates)."""
    options = body.model_dump(exclude={"app"}, exclude_none=True)
    record = await caller.run(services.deployments.create, project, body.app, **options)
    return Response(record.model_dump_json(), status_code=201, media_type=JSON)


@router.get("", response_model=list[DeploymentRecord])
async def list_deployments(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[DeploymentRecord]:
    return await caller.run(services.deployments.list, project)


@router.post("/promote", response_model=DeploymentRecord)
async def promote(
    body: PromoteRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> DeploymentRecord:
    """Move ``to``'s app label to the version ``from`` runs and redeploy ``to`` (audited)."""
    return await caller.run(services.deployments.promote, project, body.app, source=body.source, to=body.to)


@router.get("/{name}", response_model=DeploymentRecord)
async def get_deployment(name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> DeploymentRecord:
    """A deployment's latest version and, if local, its status, health, pids and restarts."""
    return await caller.run(services.deployments.get, project, name)


@router.get("/{name}/files", response_model=DeploymentRecord)
async def deployment_files(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> DeploymentRecord:
    """A template deployment with its files rendered again."""
    return await caller.run(services.deployments.render, project, name)


@router.post("/{name}/stop", response_model=DeploymentRecord)
async def stop_deployment(name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> DeploymentRecord:
    return await caller.run(services.deployments.stop, project, name)
