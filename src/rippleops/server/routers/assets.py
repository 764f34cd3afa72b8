"""Assets of any kind: list, show, edit metadata, versions, labels, lineage.

``{ref}`` is ``name``, ``name@label`` or ``name:N``; the kind is its own path segment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rippleops.domain.records import AssetRecord, LabelEventRecord, LabelRecord, LineageRecord, Page, VersionRecord
from rippleops.server.auth import PrincipalDep, ProjectDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES, AssetUpdate, LabelMove

router = APIRouter(tags=["assets"], responses=ERROR_RESPONSES)


@router.get("/assets", response_model=Page)
def list_assets(
    project: ProjectDep, principal: PrincipalDep, services: ServicesDep,
    kind: str | None = None, tag: str | None = None, label: str | None = None, search: str | None = None,
    limit: int = 50, cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page:
    """Assets ordered by kind and name, one page at a time."""
    return services.assets.list(
        principal, project, kind=kind, tag=tag, label=label, search=search, limit=limit, cursor=cursor
    )


@router.get("/assets/{kind}/{name}", response_model=AssetRecord)
def show_asset(kind: str, name: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> AssetRecord:
    return services.assets.show(principal, project, name, kind)


@router.patch("/assets/{kind}/{name}", response_model=AssetRecord)
def update_asset(
    kind: str, name: str, body: AssetUpdate, project: ProjectDep, principal: PrincipalDep, services: ServicesDep
) -> AssetRecord:
    """Edit the description and tags; versions never change."""
    return services.assets.update(
        principal, project, name, kind=kind, description=body.description, add_tags=body.add_tags,
        remove_tags=body.remove_tags,
    )


@router.get("/assets/{kind}/{name}/versions", response_model=list[VersionRecord])
def list_versions(
    kind: str, name: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep
) -> list[VersionRecord]:
    return services.assets.versions(principal, project, name, kind)


@router.get("/versions/{kind}/{ref}", response_model=VersionRecord)
def get_version(kind: str, ref: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep) -> VersionRecord:
    return services.assets.get(principal, project, ref, kind)


@router.put("/assets/{kind}/{name}/labels/{label}", response_model=LabelRecord)
def set_label(
    kind: str, name: str, label: str, body: LabelMove, project: ProjectDep, principal: PrincipalDep,
    services: ServicesDep,
) -> LabelRecord:
    """Point a label at a version (moving ``production`` needs an admin)."""
    return services.labels.set(principal, project, name, label, body.version, kind)


@router.delete("/assets/{kind}/{name}/labels/{label}", response_model=LabelRecord)
def remove_label(
    kind: str, name: str, label: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep
) -> LabelRecord:
    return services.labels.remove(principal, project, name, label, kind)


@router.get("/assets/{kind}/{name}/label-history", response_model=list[LabelEventRecord])
def label_history(
    kind: str, name: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep,
    label: str | None = None,
) -> list[LabelEventRecord]:
    """Every label move, oldest first."""
    return services.labels.history(principal, project, name, label, kind)


@router.get("/lineage/{kind}/{ref}", response_model=LineageRecord)
def lineage(
    kind: str, ref: str, project: ProjectDep, principal: PrincipalDep, services: ServicesDep,
    direction: Annotated[str, Query(description="up, down or both")] = "both", depth: int = 50,
) -> LineageRecord:
    """What a version was built from (upstream) and what was built from it (downstream)."""
    return services.lineage.walk(principal, project, ref, direction=direction, depth=depth, kind=kind)
