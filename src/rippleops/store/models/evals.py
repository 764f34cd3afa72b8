"""Eval runs and their per-sample results.

An eval run scores one target version (``app/support-bot:3``, a prompt + model, an index)
with one suite version over the suite's pinned dataset version. Samples are written as they
finish, so a run killed half-way resumes where it stopped: ``(run_id, idx)`` is unique and
a resumed run skips the indexes it already holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rippleops.store.models.base import Base, JSONType, UTCDateTime, utcnow


class EvalRun(Base):
    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_project_suite_target", "project_id", "suite_asset_id", "target_asset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    suite_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    suite_asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    target_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    target_asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    suite_ref: Mapped[str] = mapped_column(String(250))  # exact: suite/support-qa:2
    target_ref: Mapped[str] = mapped_column(String(250))  # exact: app/support-bot:3
    dataset_ref: Mapped[str] = mapped_column(String(250))  # exact: dataset/support-qa:1
    dataset_hash: Mapped[str] = mapped_column(String(80))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed | cancelled
    samples: Mapped[int] = mapped_column(Integer, default=0)  # in the dataset
    done: Mapped[int] = mapped_column(Integer, default=0)  # samples with a stored result
    errors: Mapped[int] = mapped_column(Integer, default=0)  # samples whose call or a metric failed
    aggregates: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # metric -> {mean, ci_low, ...}
    gates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)  # last gate check
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # concurrency, seed, ...
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EvalSample(Base):
    __tablename__ = "eval_samples"
    __table_args__ = (UniqueConstraint("run_id", "idx"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id"))  # the unique (run_id, idx) indexes it
    idx: Mapped[int] = mapped_column(Integer)  # row number in the dataset version
    key: Mapped[str] = mapped_column(String(200))  # the row's id column, else str(idx): pairs samples across runs
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    expected: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True)  # {"text", "contexts", "sources", "blocked", ...}
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # metric -> float (never NaN)
    metric_errors: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # metric -> why it has no score
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # the target call itself failed
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
