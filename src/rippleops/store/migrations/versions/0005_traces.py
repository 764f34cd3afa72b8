"""Traces and spans (app calls and OTLP ingestion).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_spans_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_spans"),
        sa.UniqueConstraint("project_id", "trace_id", "span_id", name="uq_spans_project_id_trace_id_span_id"),
    )
    op.create_index("ix_spans_project_start", "spans", ["project_id", "start_ns"])
    op.create_table(
        "traces",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("app", sa.String(200), nullable=True),
        sa.Column("app_version", sa.Integer(), nullable=True),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("has_root", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("input_preview", sa.Text(), nullable=False),
        sa.Column("output_preview", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_traces_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_traces"),
        sa.UniqueConstraint("project_id", "trace_id", name="uq_traces_project_id_trace_id"),
    )
    op.create_index("ix_traces_project_start", "traces", ["project_id", "start_ns"])
    op.create_index("ix_traces_project_app_start", "traces", ["project_id", "app", "start_ns"])


def downgrade() -> None:
    op.drop_table("traces")
    op.drop_table("spans")
