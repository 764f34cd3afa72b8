"""Lineage: what a version was built from (upstream) and what was built from it
(downstream), to any depth, one query per level."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from rippleops.domain.access import Action, Principal
from rippleops.domain.records import LineageNode, LineageRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError
from rippleops.services.access import AccessService
from rippleops.services.assets import resolve
from rippleops.store.db import Database
from rippleops.store.models import Asset, Version, VersionInput

MAX_DEPTH = 50


class LineageService:
    def __init__(self, db: Database, access: AccessService) -> None:
        self.db = db
        self.access = access

    def walk(
        self,
        principal: Principal,
        project: str,
        ref: str,
        *,
        direction: str = "both",
        depth: int = MAX_DEPTH,
        kind: str | None = None,
    ) -> LineageRecord:
        if direction not in ("up", "down", "both"):
            raise InvalidError("direction must be up, down or both")
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidError(f"depth must be between 1 and {MAX_DEPTH}")
        parsed = parse_ref(ref, kind)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            root = resolve(s, proj, parsed)
            rec = LineageRecord(ref=root.ref, hash=root.hash)
            if direction in ("up", "both"):
                rec.upstream = _walk(s, root.version_id, root.ref, depth, upstream=True)
            if direction in ("down", "both"):
                rec.downstream = _walk(s, root.version_id, root.ref, depth, upstream=False)
            return rec


def _walk(s: Session, root_id: int, root_ref: str, depth: int, *, upstream: bool) -> list[LineageNode]:
    other = aliased(Version)
    seen = {root_id}
    frontier = {root_id: root_ref}
    nodes: list[LineageNode] = []
    for level in range(1, depth + 1):
        if not frontier:
            break
        near, far = (
            (VersionInput.version_id, VersionInput.input_version_id)
            if upstream
            else (VersionInput.input_version_id, VersionInput.version_id)
        )
        rows = s.execute(
            select(near, far, VersionInput.ref, other.hash, other.number, Asset.kind, Asset.name)
            .join(other, other.id == far)
            .join(Asset, Asset.id == other.asset_id)
            .where(near.in_(list(frontier)))
            .order_by(Asset.kind, Asset.name, other.number)
        ).all()
        nxt: dict[int, str] = {}
        for near_id, far_id, via, h, number, kind, name in rows:
            if far_id in seen:
                continue
            seen.add(far_id)
            exact = f"{kind}/{name}:{number}"
            nxt[far_id] = exact
            nodes.append(LineageNode(ref=exact, hash=h, depth=level, via=via, parent=frontier[near_id]))
        frontier = nxt
    return nodes
