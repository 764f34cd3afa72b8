"""Projects: every asset lives in one; ``default`` exists from ``ripple init``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Principal, Role
from rippleops.domain.records import ProjectRecord
from rippleops.domain.refs import validate_name
from rippleops.errors import ConflictError, ForbiddenError
from rippleops.services import audit
from rippleops.store.db import Database
from rippleops.store.models import Membership, Project


class ProjectService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, name: str, actor: str) -> bool:
        """Create project ``name`` if missing (used by ``ripple init``); True when created."""

        def work(s: Session) -> bool:
            if s.execute(select(Project.id).where(Project.name == name)).first():
                return False
            s.add(Project(name=name, description="", created_by=actor))
            audit.record(s, actor, "project.create", f"project/{name}", project=name)
            return True

        return self.db.write(work)

    def create(self, principal: Principal, name: str, description: str = "") -> ProjectRecord:
        """A new project; its creator becomes its admin."""
        validate_name(name, "project name")

        def work(s: Session) -> ProjectRecord:
            if not principal.is_admin:
                raise ForbiddenError(f"{principal.name} cannot create projects: that needs an instance admin")
            if s.execute(select(Project.id).where(Project.name == name)).first():
                raise ConflictError(f"project {name!r} already exists")
            p = Project(name=name, description=description, created_by=principal.name)
            s.add(p)
            s.flush()
            s.add(Membership(project_id=p.id, user_id=principal.user_id, role=Role.ADMIN.value))
            audit.record(
                s, principal.name, "project.create", f"project/{name}", project=name, after={"description": description}
            )
            return _record(p)

        return self.db.write(work)

    def list(self, principal: Principal) -> list[ProjectRecord]:
        """The projects the caller has a role in (all of them for instance admins)."""
        with self.db.reading() as s:
            q = select(Project).order_by(Project.name)
            if not principal.is_admin:
                q = q.join(Membership, Membership.project_id == Project.id).where(
                    Membership.user_id == principal.user_id
                )
            return [_record(p) for p in s.execute(q).scalars()]


def _record(p: Project) -> ProjectRecord:
    return ProjectRecord(name=p.name, description=p.description, created_at=p.created_at, created_by=p.created_by)
