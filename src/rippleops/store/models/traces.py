"""Traces and their spans, from app calls in this process and from OTLP (``/v1/traces``).

``spans`` holds every span as received: ids in lowercase hex, times in Unix nanoseconds,
attributes as JSON. ``traces`` is one summary row per trace, kept up to date by the batched
writer as spans arrive (a trace's spans may come in several batches, the root last): the
list view and its filters (app, version, status, latency, time) read only this table.

A span is unique per (project, trace, span): ingesting the same span again (an OTLP client
retrying, a spool replayed after a crash) changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rippleops.store.models.base import Base, JSONType


class Span(Base):
    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("project_id", "trace_id", "span_id"),
        Index("ix_spans_project_start", "project_id", "start_ns"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    trace_id: Mapped[str] = mapped_column(String(32))  # the unique constraint indexes (project, trace)
    span_id: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # OpenInference span kind: CHAIN, LLM, RETRIEVER ...
    start_ns: Mapped[int] = mapped_column(BigInteger)
    end_ns: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))  # ok | error | unset
    status_message: Mapped[str] = mapped_column(Text, default="")
    service_name: Mapped[str] = mapped_column(String(200), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    events: Mapped[list[Any]] = mapped_column(JSONType)


class Trace(Base):
    __tablename__ = "traces"
    __table_args__ = (
        UniqueConstraint("project_id", "trace_id"),
        Index("ix_traces_project_start", "project_id", "start_ns"),
        Index("ix_traces_project_app_start", "project_id", "app", "start_ns"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    trace_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(300), default="")  # the root span's, once it has arrived
    app: Mapped[str | None] = mapped_column(String(200), nullable=True)  # app name, e.g. support-bot
    app_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    service_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10))  # error when any span failed, else the root's
    start_ns: Mapped[int] = mapped_column(BigInteger)  # earliest span start
    end_ns: Mapped[int] = mapped_column(BigInteger)  # latest span end
    duration_ms: Mapped[float] = mapped_column(Float)  # the root span's, else end - start
    span_count: Mapped[int] = mapped_column(Integer)
    has_root: Mapped[int] = mapped_column(Integer, default=0)  # 1 once the root span is stored
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    input_preview: Mapped[str] = mapped_column(Text, default="")  # the root's input.value, cut
    output_preview: Mapped[str] = mapped_column(Text, default="")
