"""The append-only, hash-chained audit log: writing (one function), reading, verifying.

Each event stores the hash of the one before; the chain head (last id and hash) is also
kept in the ``meta`` table and in a file in the home, so editing or deleting any event —
the newest included — is detected by :meth:`AuditService.verify`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.hashing import chain_hash
from rippleops.domain.records import AuditEventRecord, AuditVerifyRecord
from rippleops.errors import ForbiddenError, InvalidError
from rippleops.store import queries
from rippleops.store.db import Database
from rippleops.store.models import AuditEvent, Meta
from rippleops.store.models.base import utcnow

HEAD_KEY = "audit_head"
MAX_LOG_LIMIT = 10_000
GENESIS = "0" * 64


def _event_fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": ev.at.isoformat(),
        "actor": ev.actor,
        "project": ev.project,
        "action": ev.action,
        "target": ev.target,
        "before": ev.before,
        "after": ev.after,
    }


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    *,
    project: str | None = None,
    before: Any = None,
    after: Any = None,
) -> int:
    """Write one audit event in the caller's transaction (the only writer of audit rows).

    The chain head row is locked first, so concurrent writers append one at a time."""
    head = session.execute(queries.META_FOR_UPDATE, {"key": HEAD_KEY}).scalar_one_or_none()
    prev_id, prev_hash = (0, GENESIS) if head is None else _parse_head(head)
    fields = {
        "id": prev_id + 1,
        "at": utcnow(),
        "actor": actor,
        "project": project,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
    }
    digest = chain_hash(prev_hash, {**fields, "at": fields["at"].isoformat()})
    session.execute(queries.INSERT_AUDIT, {**fields, "prev_hash": prev_hash, "hash": digest})
    value = json.dumps({"id": fields["id"], "hash": digest})
    if head is None:
        session.execute(queries.INSERT_META, {"key": HEAD_KEY, "value": value})
    else:
        session.execute(queries.UPDATE_META, {"b_key": HEAD_KEY, "b_value": value})
    session.info["audit_head"] = (fields["id"], digest)
    return int(fields["id"])


HEAD_RECORD_SIZE = 86  # 20-digit id, space, 64 hex, newline


def _head_record(head: tuple[int, str]) -> bytes:
    return f"{head[0]:020d} {head[1]}\n".encode()


def _parse_head_record(data: bytes) -> tuple[int, str] | None:
    try:
        text = data.decode()
        hid, hhash = text.split()
        return (int(hid), hhash) if len(hhash) == 64 else None
    except ValueError:
        return None


def _parse_head(value: str) -> tuple[int, str]:
    data = json.loads(value)
    return int(data["id"]), str(data["hash"])


class AuditService:
    """Read and verify the audit log; instance admins only (it spans all projects)."""

    def __init__(self, db: Database, head_file: Path | None) -> None:
        self.db = db
        self.head_file = head_file
        self._head_fd: int | None = None

    def write_head_file(self, head: tuple[int, str]) -> None:
        """Mirror the chain head into the home after a commit.

        One fixed-width record rewritten in place with a single ``pwrite`` (a rename per
        event cost more than the whole registration); a torn or lagging file is reported by
        :meth:`verify` only when it claims more events than the log holds."""
        if self.head_file is None:
            return
        if self._head_fd is None:
            if not self.head_file.parent.exists():
                return
            self._head_fd = os.open(self.head_file, os.O_RDWR | os.O_CREAT, 0o600)
        current = _parse_head_record(os.pread(self._head_fd, HEAD_RECORD_SIZE, 0))
        if current is not None and current[0] >= head[0]:
            return
        os.pwrite(self._head_fd, _head_record(head), 0)

    def _read_head_file(self) -> tuple[int, str] | None:
        if self.head_file is None or not self.head_file.is_file():
            return None
        return _parse_head_record(self.head_file.read_bytes()[:HEAD_RECORD_SIZE])

    def close(self) -> None:
        if self._head_fd is not None:
            os.close(self._head_fd)
            self._head_fd = None

    def log(
        self,
        principal: Principal,
        *,
        since: datetime | None = None,
        project: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEventRecord]:
        _require_instance_admin(principal)
        if not 1 <= limit <= MAX_LOG_LIMIT:
            raise InvalidError(f"limit must be between 1 and {MAX_LOG_LIMIT}")
        q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if since is not None:
            q = q.where(AuditEvent.at >= since)
        if project is not None:
            q = q.where(AuditEvent.project == project)
        if action is not None:
            q = q.where(AuditEvent.action.startswith(action))
        if actor is not None:
            q = q.where(AuditEvent.actor == actor)
        with self.db.reading() as s:
            rows = s.execute(q).scalars().all()
            return [
                AuditEventRecord(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    project=r.project,
                    action=r.action,
                    target=r.target,
                    before=r.before,
                    after=r.after,
                    hash=r.hash,
                )
                for r in reversed(rows)
            ]

    def verify(self, principal: Principal) -> AuditVerifyRecord:
        """Walk the chain; name the first event that was edited, removed or added out of band."""
        _require_instance_admin(principal)
        with self.db.reading() as s:
            head_row = s.get(Meta, HEAD_KEY)
            db_head = _parse_head(head_row.value) if head_row is not None else None
            prev_id, prev_hash, count = 0, GENESIS, 0
            for ev in s.execute(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000).scalars():
                count += 1
                if ev.id != prev_id + 1:
                    return _bad(count, ev.id, f"events {prev_id + 1}..{ev.id - 1} are missing (deleted)")
                if ev.prev_hash != prev_hash:
                    return _bad(count, ev.id, f"event {ev.id} does not link to event {prev_id}")
                if chain_hash(ev.prev_hash, _event_fields(ev)) != ev.hash:
                    return _bad(
                        count, ev.id, f"event {ev.id} ({ev.action} {ev.target}) was changed after it was written"
                    )
                prev_id, prev_hash = ev.id, ev.hash
        heads = []
        if db_head is not None:
            heads.append(("the database's chain head", db_head))
        file_head = self._read_head_file()
        if file_head is not None:
            heads.append((f"the chain head file {self.head_file}", file_head))
        for where, (hid, hhash) in heads:
            if hid > prev_id:
                return _bad(
                    count,
                    prev_id + 1,
                    f"{where} names event {hid}, but the log ends at {prev_id}: events {prev_id + 1}..{hid} were deleted",
                )
            if hid == prev_id and hhash != prev_hash:
                return _bad(count, prev_id, f"event {prev_id} does not match {where}")
        if db_head is None and prev_id > 0:
            return _bad(count, prev_id, "the database's chain head is missing")
        return AuditVerifyRecord(ok=True, events=count, head_id=prev_id or None)


def _bad(count: int, first_bad: int, problem: str) -> AuditVerifyRecord:
    return AuditVerifyRecord(ok=False, events=count, problem=problem, first_bad_id=first_bad)


def _require_instance_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ForbiddenError(f"{principal.name} cannot read the audit log: it needs an instance admin ({Action.ADMIN})")
