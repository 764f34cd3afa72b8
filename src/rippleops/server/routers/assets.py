"""Assets of any kind: list, show, edit metadata, versions, labels, lineage.

``{ref}`` is ``name``, ``name@label`` or ``name:N``; the kind is its own path segment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rippleops.domain.records import AssetRecord, LabelEventRecord, LabelRecord, LineageRecord, Page, VersionRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES, AssetUpdate, LabelMove

router = APIRouter(prefix=PROJECT, tags=["assets"], responses=ERROR_RESPONSES)


@router.get("/assets", response_model=Page)
async def list_assets(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    kind: str | None = None,
    tag: str | None = None,
    label: str | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page:
    """Assets ordered by kind and name, one page at a time."""
    return await caller.run(
        services.assets.list, project, kind=kind, tag=tag, label=label, search=search, limit=limit, cursor=cursor
    )


@router.get("/assets/{kind}/{name}", response_model=AssetRecord)
async def show_asset(
    kind: str, name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> AssetRecord:
    return await caller.run(services.assets.show, project, name, kind)


@router.patch("/assets/{kind}/{name}", response_model=AssetRecord)
async def update_asset(
    kind: str, name: str, body: AssetUpdate, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> AssetRecord:
    """Edit the description and tags; versions never change."""
    return await caller.run(
        services.assets.update,
        project,
        name,
        kind=kind,
        description=body.description,
        add_tags=body.add_tags,
        remove_tags=body.remove_tags,
    )


@router.get("/assets/{kind}/{name}/versions", response_model=list[VersionRecord])
async def list_versions(
    kind: str, name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.assets.versions, project, name, kind)


@router.get("/versions/{kind}/{ref}", response_model=VersionRecord)
async def get_version(
    kind: str, ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> VersionRecord:
    return await caller.run(services.assets.get, project, ref, kind)


@router.put("/assets/{kind}/{name}/labels/{label}", response_model=LabelRecord)
async def set_label(
    kind: str,
    name: str,
    label: str,
    body: LabelMove,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
) -> LabelRecord:
    """Point a label at a version (moving ``production`` needs an admin)."""
    return await caller.run(services.labels.set, project, name, label, body.version, kind)


@router.delete("/assets/{kind}/{name}/labels/{label}", response_model=LabelRecord)
async def remove_label(
    kind: str, name: str, label: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> LabelRecord:
    return await caller.run(services.labels.remove, project, name, label, kind)


@router.get("/assets/{kind}/{name}/label-history", response_model=list[LabelEventRecord])
async def label_history(
    kind: str,
    name: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    label: str | None = None,
) -> list[LabelEventRecord]:
    """Every label move, oldest first."""
    return await caller.run(services.labels.history, project, name, label, kind)


@router.get("/lineage/{kind}/{ref}", response_model=LineageRecord)
async def lineage(
    kind: str,
    ref: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    direction: Annotated[str, Query(description="up, down or both")] = "both",
    depth: int = 50,
) -> LineageRecord:
    """What a version was built from (upstream) and what was built from it (downstream)."""
    return await caller.run(services.lineage.walk, project, ref, direction=direction, depth=depth, kind=kind)
