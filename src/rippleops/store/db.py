"""The database: engine set-up for SQLite (WAL, busy timeout, BEGIN IMMEDIATE) and
PostgreSQL (psycopg 3), read and write sessions, retries on write races, and migrations.

>>> db = Database("sqlite:///:memory:")  # doctest: +SKIP
>>> db.upgrade()                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from rippleops.errors import ConflictError, InvalidError, UnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_REVISION = "0006"  # the newest file in store/migrations/versions
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_RETRIES = 8


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy's recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so concurrent writers queue on the busy timeout
        # instead of failing with "database is locked" when they upgrade a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ripple_write") else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL (``postgresql://`` is taken as psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidError(f"database URL {url!r} is not valid: {exc}; set RIPPLE_DATABASE_URL") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.render_as_string(hide_password=False))
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise InvalidError(f"database {parsed.get_backend_name()!r} is not supported; use sqlite:/// or postgresql://")


class Database:
    """One database: sessions for reading and writing, retries on races, migrations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self.sqlite_file = Path(file).expanduser() if file and file != ":memory:" else None
        self.dialect = self.engine.dialect.name
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(ripple_write=True), expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self._read() as session:
            try:
                yield session
            except OperationalError as exc:
                raise _unavailable(self.url, exc) from exc
            finally:
                session.rollback()

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction and commit; retried when a concurrent writer won a
        race on a unique constraint (PostgreSQL) or the database was busy."""
        for attempt in range(WRITE_RETRIES):
            try:
                with self._write() as session, session.begin():
                    return work(session)
            except IntegrityError as exc:
                if attempt == WRITE_RETRIES - 1:
                    raise ConflictError(f"a concurrent change kept clashing with this one: {exc.orig}; retry") from exc
                log.debug("write race, retrying (%s)", exc.orig)
            except OperationalError as exc:
                if "locked" not in str(exc) and "deadlock" not in str(exc) and "serializ" not in str(exc):
                    raise _unavailable(self.url, exc) from exc
                if attempt == WRITE_RETRIES - 1:
                    raise UnavailableError(f"the database stayed busy: {exc.orig}; retry later") from exc
            time.sleep(0.005 * (2**attempt))
        raise AssertionError("unreachable")

    # -- migrations ---------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision`` (idempotent)."""
        from rippleops.store import migrate  # alembic is slow to import; only upgrades need it

        if self.sqlite_file is not None:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            migrate.upgrade(self.engine, revision)
        except OperationalError as exc:
            raise _unavailable(self.url, exc) from exc

    def current_revision(self) -> str | None:
        """The schema revision the database is at; None when it has no Ripple schema."""
        if self.sqlite_file is not None and not self.sqlite_file.exists():
            return None  # do not create an empty database file by looking
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        except OperationalError as exc:
            raise _unavailable(self.url, exc) from exc

    def head_revision(self) -> str:
        """The revision this code expects (a test keeps it equal to the migrations' head)."""
        return SCHEMA_REVISION

    def check_current(self) -> None:
        """Raise a clear error when the schema is missing or behind the code."""
        current = self.current_revision()
        if current is None:
            raise UnavailableError(f"the database at {self.safe_url} has no Ripple schema; run `ripple init`")
        if current != self.head_revision():
            raise UnavailableError(
                f"the database schema is at {current}, the code expects {self.head_revision()}; run `ripple db upgrade`"
            )

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _unavailable(url: str, exc: Exception) -> UnavailableError:
    safe = make_url(url).render_as_string(hide_password=True)
    return UnavailableError(
        f"cannot use the database at {safe}: {getattr(exc, 'orig', exc)}; check RIPPLE_DATABASE_URL"
    )
