"""Projects, assets, versions, lineage, labels, users, tokens, memberships, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer()),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer()),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        when("created_at"),
        when("expires_at", nullable=True),
        when("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_tokens_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])
    op.create_table(
        "memberships",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        when("granted_at"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_memberships_project_id_projects"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_memberships_user_id_users"),
        sa.PrimaryKeyConstraint("project_id", "user_id", name="pk_memberships"),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer()),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        when("updated_at"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_assets_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
        sa.UniqueConstraint("project_id", "kind", "name", name="uq_assets_project_id_kind_name"),
    )
    op.create_index("ix_assets_project_id", "assets", ["project_id"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer()),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(80), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("recipe", JSON, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        when("created_at"),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_versions_asset_id_assets"),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.UniqueConstraint("asset_id", "hash", name="uq_versions_asset_id_hash"),
        sa.UniqueConstraint("asset_id", "number", name="uq_versions_asset_id_number"),
    )
    op.create_index("ix_versions_asset_id", "versions", ["asset_id"])
    op.create_index("ix_versions_hash", "versions", ["hash"])
    op.create_table(
        "version_inputs",
        sa.Column("id", sa.Integer()),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("input_version_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(250), nullable=False),
        sa.Column("input_hash", sa.String(80), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_version_id"], ["versions.id"], name="fk_version_inputs_input_version_id_versions"
        ),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name="fk_version_inputs_version_id_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_version_inputs"),
        sa.UniqueConstraint("version_id", "ref", name="uq_version_inputs_version_id_ref"),
    )
    op.create_index("ix_version_inputs_input_version_id", "version_inputs", ["input_version_id"])
    op.create_index("ix_version_inputs_version_id", "version_inputs", ["version_id"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer()),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        when("updated_at"),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_labels_asset_id_assets"),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name="fk_labels_version_id_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.UniqueConstraint("asset_id", "name", name="uq_labels_asset_id_name"),
    )
    op.create_index("ix_labels_asset_id", "labels", ["asset_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer()),
        when("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("project", sa.String(100), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    for table in (
        "meta",
        "audit_events",
        "labels",
        "version_inputs",
        "versions",
        "assets",
        "memberships",
        "tokens",
        "users",
        "projects",
    ):
        op.drop_table(table)
