"""Migrations: they match the models, and a database made by an older revision upgrades
cleanly with its data intact, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rippleops.errors import UnavailableError
from rippleops.services import Services, initialise
from rippleops.settings import Settings, get_settings
from rippleops.store import migrate
from rippleops.store.db import Database
from rippleops.store.models import Base


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"
    db.dispose()


def test_old_database_upgrades_with_its_data(database_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = Database(database_url)
    db.upgrade("0001")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO projects (id, name, description, created_at, created_by) "
                "VALUES (1, 'default', '', CURRENT_TIMESTAMP, 'old')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO assets (id, project_id, kind, name, description, tags, latest_version, created_at, created_by, "
                "updated_at) VALUES (1, 1, 'prompt', 'legacy', '', '[]', 1, CURRENT_TIMESTAMP, 'old', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO versions (id, asset_id, number, hash, content, message, tags, created_at, created_by) "
                "VALUES (1, 1, 1, 'sha256:x', '{\"type\": \"text\", \"template\": \"hi\"}', '', '[]', CURRENT_TIMESTAMP, 'old')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO labels (id, asset_id, name, version_id, version_number, updated_at, updated_by) "
                "VALUES (1, 1, 'production', 1, 1, CURRENT_TIMESTAMP, 'old')"
            )
        )
    assert db.current_revision() == "0001"
    monkeypatch.setenv("RIPPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RIPPLE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    with pytest.raises(UnavailableError, match="ripple db upgrade"):
        Services(get_settings())
    initialise(get_settings(), "alice")  # upgrades and adds what is missing
    assert db.current_revision() == db.head_revision()
    svc = Services(get_settings())
    who = svc.access.authenticate(get_settings().token_file.read_text().strip())
    assert svc.assets.get(who, "default", "prompt/legacy@production").version == 1
    # the upgrade seeded the label history from the labels that existed
    assert [(e.label, e.to_version) for e in svc.labels.history(who, "default", "prompt/legacy")] == [("production", 1)]
    svc.close()
    db.dispose()


def test_the_expected_revision_is_the_newest_migration() -> None:
    assert Database("sqlite://").head_revision() == migrate.head_revision(), "update SCHEMA_REVISION in store/db.py"


def test_a_missing_schema_says_run_init(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnavailableError, match="ripple init"):
        Services(Settings(home=tmp_path))
