"""The ripple engine's applies: the plan of one ``ripple apply``, each step's outcome, and
the one-apply-at-a-time lock of a project.

A step's row is written when the step finishes, so an apply killed mid-way resumes by
skipping the steps that have a finished row (every step is also idempotent: a rebuild of the
same inputs returns the same version, an eval run resumes, a label move to where the label
already is changes nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rippleops.store.models.base import Base, JSONType, UTCDateTime, utcnow


class RippleApply(Base):
    __tablename__ = "ripple_applies"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    change: Mapped[str] = mapped_column(String(250))  # what the plan was made from ("stale" for a stale plan)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the PlanRecord as JSON, fixed at creation
    state: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed | cancelled
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)  # the latest job running it
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApplyStep(Base):
    __tablename__ = "ripple_apply_steps"
    __table_args__ = (UniqueConstraint("apply_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    apply_id: Mapped[int] = mapped_column(ForeignKey("ripple_applies.id"))  # the unique (apply_id, key) indexes it
    key: Mapped[str] = mapped_column(String(300))  # "rebuild:index/docs:1", "evaluate:suite/qa:1:app/bot"
    status: Mapped[str] = mapped_column(String(20))  # done | failed | held | skipped
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RippleLock(Base):
    """At most one apply runs per project: a row per held lock, taken over only from a
    holder whose job is no longer active."""

    __tablename__ = "ripple_locks"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(50))  # "apply"
    apply_id: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
