"""Labels: movable pointers to versions, with every move kept (rollback = move it back).

``production`` is protected: only admins move it (see :mod:`rippleops.domain.access`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal, label_action
from rippleops.domain.records import LabelEventRecord, LabelRecord
from rippleops.domain.refs import Ref, parse_ref, validate_label
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services import audit
from rippleops.services.access import AccessService
from rippleops.services.assets import require_asset, resolve
from rippleops.store.db import Database
from rippleops.store.models import Label, LabelEvent
from rippleops.store.models.base import utcnow


class LabelService:
    def __init__(self, db: Database, access: AccessService) -> None:
        self.db = db
        self.access = access

    def set(
        self, principal: Principal, project: str, asset: str, label: str, target: str | int, kind: str | None = None
    ) -> LabelRecord:
        """Point ``label`` of ``asset`` at ``target``: a version number, or a reference such as
        ``:3`` or ``@staging`` (copy another label's position)."""
        ref = parse_ref(asset, kind)
        if ref.label or ref.version:
            raise InvalidError(f"give the asset without a version: {ref.asset} (the version is the last argument)")
        validate_label(label, for_move=True)
        target_ref = _target(ref, target)

        def work(s: Session) -> LabelRecord:
            proj = self.access.authorize(s, principal, project, label_action(label))
            version = resolve(s, proj, target_ref)
            current = s.execute(
                select(Label).where(Label.asset_id == version.asset_id, Label.name == label).with_for_update()
            ).scalar_one_or_none()
            if current is not None and current.version_id == version.version_id:
                return _label_record(current)
            before = current.version_number if current else None
            if current is None:
                current = Label(
                    asset_id=version.asset_id,
                    name=label,
                    version_id=version.version_id,
                    version_number=version.number,
                    updated_by=principal.name,
                )
                s.add(current)
            else:
                current.version_id, current.version_number = version.version_id, version.number
                current.updated_at, current.updated_by = utcnow(), principal.name
            s.add(
                LabelEvent(
                    asset_id=version.asset_id,
                    label=label,
                    from_version=before,
                    to_version=version.number,
                    by=principal.name,
                )
            )
            audit.record(
                s,
                principal.name,
                "label.move",
                f"{ref.asset}@{label}",
                project=project,
                before={"version": before},
                after={"version": version.number},
            )
            s.flush()
            return _label_record(current)

        return self.db.write(work)

    def remove(
        self, principal: Principal, project: str, asset: str, label: str, kind: str | None = None
    ) -> LabelRecord:
        ref = parse_ref(asset, kind)
        validate_label(label, for_move=True)

        def work(s: Session) -> LabelRecord:
            proj = self.access.authorize(s, principal, project, label_action(label))
            a = require_asset(s, proj, ref.kind, ref.name)
            current = next((lb for lb in a.labels if lb.name == label), None)
            if current is None:
                raise NotFoundError(f"{ref.asset} has no label {label!r}")
            rec = _label_record(current)
            s.add(
                LabelEvent(
                    asset_id=a.id, label=label, from_version=current.version_number, to_version=None, by=principal.name
                )
            )
            audit.record(
                s,
                principal.name,
                "label.remove",
                f"{ref.asset}@{label}",
                project=project,
                before={"version": current.version_number},
                after=None,
            )
            s.delete(current)
            return rec

        return self.db.write(work)

    def history(
        self, principal: Principal, project: str, asset: str, label: str | None = None, kind: str | None = None
    ) -> list[LabelEventRecord]:
        """Every label move of ``asset``, oldest first."""
        ref = parse_ref(asset, kind)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            a = require_asset(s, proj, ref.kind, ref.name)
            q = select(LabelEvent).where(LabelEvent.asset_id == a.id).order_by(LabelEvent.id)
            if label:
                q = q.where(LabelEvent.label == label)
            return [
                LabelEventRecord(
                    asset=ref.asset,
                    label=e.label,
                    from_version=e.from_version,
                    to_version=e.to_version,
                    at=e.at,
                    by=e.by,
                )
                for e in s.execute(q).scalars()
            ]


def _target(ref: Ref, target: str | int) -> Ref:
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return Ref(ref.kind, ref.name, version=int(target))
    text = str(target)
    if text.startswith((":", "@")):
        return parse_ref(ref.asset + text)
    raise InvalidError(f"version {target!r} is not valid; give a number such as 3, or :3, or @staging")


def _label_record(lb: Label) -> LabelRecord:
    return LabelRecord(label=lb.name, version=lb.version_number, updated_at=lb.updated_at, updated_by=lb.updated_by)
