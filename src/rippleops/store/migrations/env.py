"""Alembic environment: runs on the connection Ripple hands over (see store/db.py)."""

from __future__ import annotations

from alembic import context

from rippleops.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ripple db upgrade` (Database.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
