"""Eval runs and samples; the ripple engine's applies, their steps and the apply lock.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("suite_version_id", sa.Integer(), nullable=False),
        sa.Column("suite_asset_id", sa.Integer(), nullable=False),
        sa.Column("target_version_id", sa.Integer(), nullable=False),
        sa.Column("target_asset_id", sa.Integer(), nullable=False),
        sa.Column("suite_ref", sa.String(250), nullable=False),
        sa.Column("target_ref", sa.String(250), nullable=False),
        sa.Column("dataset_ref", sa.String(250), nullable=False),
        sa.Column("dataset_hash", sa.String(80), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("aggregates", JSON, nullable=False),
        sa.Column("gates", JSON, nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        when("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_eval_runs_project_id_projects"),
        sa.ForeignKeyConstraint(["suite_version_id"], ["versions.id"], name="fk_eval_runs_suite_version_id_versions"),
        sa.ForeignKeyConstraint(["suite_asset_id"], ["assets.id"], name="fk_eval_runs_suite_asset_id_assets"),
        sa.ForeignKeyConstraint(
            ["target_version_id"], ["versions.id"], name="fk_eval_runs_target_version_id_versions"
        ),
        sa.ForeignKeyConstraint(["target_asset_id"], ["assets.id"], name="fk_eval_runs_target_asset_id_assets"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_eval_runs_job_id_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_eval_runs"),
    )
    op.create_index("ix_eval_runs_project_id", "eval_runs", ["project_id"])
    op.create_index(
        "ix_eval_runs_project_suite_target", "eval_runs", ["project_id", "suite_asset_id", "target_asset_id"]
    )
    op.create_table(
        "eval_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("input", JSON, nullable=True),
        sa.Column("expected", JSON, nullable=True),
        sa.Column("output", JSON, nullable=True),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("metric_errors", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], name="fk_eval_samples_run_id_eval_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_eval_samples"),
        sa.UniqueConstraint("run_id", "idx", name="uq_eval_samples_run_id_idx"),
    )
    op.create_table(
        "ripple_applies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(250), nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("report", JSON, nullable=True),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        when("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_ripple_applies_project_id_projects"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_ripple_applies_job_id_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_ripple_applies"),
    )
    op.create_index("ix_ripple_applies_project_id", "ripple_applies", ["project_id"])
    op.create_table(
        "ripple_apply_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        when("finished_at"),
        sa.ForeignKeyConstraint(
            ["apply_id"], ["ripple_applies.id"], name="fk_ripple_apply_steps_apply_id_ripple_applies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ripple_apply_steps"),
        sa.UniqueConstraint("apply_id", "key", name="uq_ripple_apply_steps_apply_id_key"),
    )
    op.create_table(
        "ripple_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        when("acquired_at"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_ripple_locks_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_ripple_locks"),
        sa.UniqueConstraint("project_id", "name", name="uq_ripple_locks_project_id_name"),
    )


def downgrade() -> None:
    op.drop_table("ripple_locks")
    op.drop_table("ripple_apply_steps")
    op.drop_table("ripple_applies")
    op.drop_table("eval_samples")
    op.drop_index("ix_eval_runs_project_suite_target", table_name="eval_runs")
    op.drop_index("ix_eval_runs_project_id", table_name="eval_runs")
    op.drop_table("eval_runs")
