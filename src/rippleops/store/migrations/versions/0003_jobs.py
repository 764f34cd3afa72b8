"""Jobs (state, progress, result, error, owner process) and their log lines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer()),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("progress_message", sa.Text(), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        when("started_at", nullable=True),
        when("finished_at", nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("rerun_of", sa.Integer(), nullable=True),
        sa.Column("owner_host", sa.String(255), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_instance", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_jobs_project_id_projects"),
        sa.ForeignKeyConstraint(["rerun_of"], ["jobs.id"], name="fk_jobs_rerun_of_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_project_id", "jobs", ["project_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "job_logs",
        sa.Column("id", sa.Integer()),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        when("at"),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_job_logs_job_id_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_job_logs"),
        sa.UniqueConstraint("job_id", "seq", name="uq_job_logs_job_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("job_logs")
    op.drop_table("jobs")
