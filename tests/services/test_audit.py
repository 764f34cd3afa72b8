"""The hash-chained audit log: every change is recorded; tampering is detected."""

from __future__ import annotations

import sqlalchemy as sa

from rippleops.domain.access import Principal
from rippleops.services import Services
from rippleops.store.models import AuditEvent


def _make_history(services: Services, admin: Principal) -> None:
    for i in range(3):
        services.assets.register(admin, "default", "prompt", "answer", {"t": i})
    services.labels.set(admin, "default", "prompt/answer", "production", 2)


def test_every_change_is_recorded_with_before_and_after(services: Services, admin: Principal) -> None:
    _make_history(services, admin)
    events = services.audit.log(admin, project="default")
    actions = [(e.action, e.target) for e in events]
    assert ("version.create", "prompt/answer:3") in actions
    move = next(e for e in events if e.action == "label.move")
    assert (move.actor, move.before, move.after) == ("alice", {"version": None}, {"version": 2})
    assert services.audit.verify(admin).ok


def test_verify_names_an_edited_event(services: Services, admin: Principal) -> None:
    _make_history(services, admin)
    target = services.audit.log(admin, action="version.create")[1].id
    with services.db.engine.begin() as conn:
        conn.execute(sa.update(AuditEvent).where(AuditEvent.id == target).values(actor="mallory"))
    result = services.audit.verify(admin)
    assert not result.ok and result.first_bad_id == target
    assert f"event {target}" in (result.problem or "") and "changed" in (result.problem or "")


def test_verify_names_a_deleted_event(services: Services, admin: Principal) -> None:
    _make_history(services, admin)
    with services.db.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.id == 3))
    result = services.audit.verify(admin)
    assert not result.ok and result.first_bad_id == 4 and "missing" in (result.problem or "")


def test_verify_detects_deleting_the_newest_events(services: Services, admin: Principal) -> None:
    _make_history(services, admin)
    last = services.audit.verify(admin).head_id
    assert last is not None
    with services.db.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.id >= last - 1))
    result = services.audit.verify(admin)
    assert not result.ok and result.first_bad_id == last - 1 and "deleted" in (result.problem or "")
