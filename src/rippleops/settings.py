"""Ripple's settings: one typed object, read once.

Every variable Ripple reads is a field here; nothing else reads ``os.environ``.
Sources, strongest first: ``RIPPLE_*`` environment variables, ``./ripple.toml``,
``$RIPPLE_HOME/ripple.toml``, the defaults below.

============================  =========================================================
variable                      meaning
============================  =========================================================
``RIPPLE_HOME``               home folder of the embedded default (``~/.ripple``)
``RIPPLE_DATABASE_URL``       SQLAlchemy URL; default SQLite ``$RIPPLE_HOME/ripple.db``
``RIPPLE_BLOB_URL``           fsspec URL of the blob store; default ``$RIPPLE_HOME/blobs``
``RIPPLE_BLOB_OPTIONS``       JSON of fsspec storage options (endpoint_url, key, secret ...)
``RIPPLE_VECTOR_URL``         vector store: a folder or ``s3://`` URL (LanceDB) or a
                              ``postgresql://`` URL (pgvector); default
                              ``$RIPPLE_HOME/vectors`` (LanceDB)
``RIPPLE_VECTOR_OPTIONS``     JSON of LanceDB storage options for object storage
                              (aws_endpoint, aws_access_key_id, allow_http ...)
``RIPPLE_SERVER_URL``         when set, the CLI and ``Client()`` talk to this server
``RIPPLE_TOKEN``              API token for the server; embedded mode reads the home's
``RIPPLE_PROJECT``            project to work in (``default``)
``RIPPLE_AUTH``               ``auto`` (required off loopback) or ``required``
``RIPPLE_SECRET_KEY``         Fernet key for secrets; default a 0600 file in the home
``RIPPLE_MAX_PAYLOAD_BYTES``  largest request body / prompt file accepted (1 MiB)
``RIPPLE_MAX_UPLOAD_BYTES``   largest dataset file a server accepts as an upload (2 GiB)
``RIPPLE_FAULTS``             comma-separated fault points to trigger (tests only)
``RIPPLE_PROMPT_CACHE_TTL``   seconds a fetched prompt is fresh in the SDK cache (60)
``RIPPLE_JOB_WORKERS``        worker threads of the server's job pool (2)
``RIPPLE_LLM_THREADS``        CPU threads of each local model (default: the CPUs this
                              process may use, at most 4; 1 is faster on a busy machine)
``RIPPLE_IMPORT_ROOTS``       folders a server may import files from, separated by
                              ``:`` (none: a server refuses ``prompt.import``; the
                              embedded CLI and SDK read any folder the user can)
``RIPPLE_TRACE_QUEUE_SPANS``  spans the trace ingest queue holds before it refuses more
                              (100,000): OTLP answers 429 + Retry-After, in-process
                              spans are counted as dropped
``RIPPLE_TRACE_BATCH_SPANS``  most spans the trace writer puts in one transaction (5,000)
``RIPPLE_TRACE_BATCH_WAIT_MS``  how long the trace writer waits for a batch to fill (20)
``RIPPLE_TRACE_SPOOL``        spool accepted OTLP payloads to ``$RIPPLE_HOME/trace-spool``
                              before answering, replayed after a crash (true)
``RIPPLE_MAX_TRACE_PAYLOAD_BYTES``  largest ``/v1/traces`` body, before and after gzip
                              (16 MiB)
============================  =========================================================

Fault points (``RIPPLE_FAULTS``), off by default, kill the process with SIGKILL at a
named moment so tests can prove nothing half-written survives:
``version.before_commit`` (inside the transaction that registers a version),
``blob.before_rename`` (after a blob's temp file is written, before it is renamed),
``job.after_progress`` (after a running job's first progress write is committed) and
``index.after_embed_batch`` (in an index build, after its first batch of chunks is embedded
and before the vector table is written) and ``vector.before_complete`` (in a vector store's
``create_table``, after the rows and indexes are written, before the table is marked complete
(LanceDB) or its transaction commits (pgvector)) and ``trace.before_write`` (in the trace
writer, before a batch of spans is written: spans acknowledged to OTLP clients are then only
in the spool). ``eval.after_sample`` (in an eval run, right after the second sample this
process scored is stored: a resumed run must keep it and not call the target for it again).
"""

from __future__ import annotations

import os
import signal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_HOME = Path("~/.ripple")
DEFAULT_PROJECT = "default"
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
DEFAULT_PROMPT_CACHE_TTL = 60.0
DEFAULT_JOB_WORKERS = 2
DEFAULT_TRACE_QUEUE_SPANS = 100_000
DEFAULT_TRACE_BATCH_SPANS = 5_000
DEFAULT_TRACE_BATCH_WAIT_MS = 20.0
DEFAULT_MAX_TRACE_PAYLOAD_BYTES = 16 * 1024 * 1024


def _toml_files() -> list[Path]:
    home = Path(os.environ.get("RIPPLE_HOME", str(DEFAULT_HOME))).expanduser()
    return [p for p in (home / "ripple.toml", Path("ripple.toml")) if p.is_file()]


class Settings(BaseSettings):
    """All of Ripple's configuration. Build it with :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="RIPPLE_", extra="ignore")

    home: Path = Field(default=DEFAULT_HOME, description="home folder of the embedded default")
    database_url: str | None = Field(default=None, description="SQLAlchemy database URL")
    blob_url: str | None = Field(default=None, description="fsspec URL of the blob store")
    blob_options: dict[str, Any] = Field(default_factory=dict, description="fsspec storage options (JSON)")
    vector_url: str | None = Field(default=None, description="vector store URL (folder, s3://, postgresql://)")
    vector_options: dict[str, Any] = Field(default_factory=dict, description="vector storage options (JSON)")
    server_url: str | None = Field(default=None, description="Ripple server to talk to")
    token: str | None = Field(default=None, description="API token for the server")
    project: str = Field(default=DEFAULT_PROJECT, description="project to work in")
    auth: Literal["auto", "required"] = Field(default="auto", description="auth mode")
    secret_key: str | None = Field(default=None, description="Fernet key for secrets")
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, gt=0)
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, gt=0, description="largest dataset upload")
    faults: str = Field(default="", description="fault points to trigger, comma-separated")
    prompt_cache_ttl: float = Field(default=DEFAULT_PROMPT_CACHE_TTL, ge=0)
    job_workers: int = Field(default=DEFAULT_JOB_WORKERS, ge=1, le=64, description="server job pool size")
    llm_threads: int | None = Field(default=None, ge=1, le=64, description="CPU threads of a local model")
    import_roots: str = Field(default="", description="folders a server may import from, ':'-separated")
    trace_queue_spans: int = Field(default=DEFAULT_TRACE_QUEUE_SPANS, ge=1, description="trace ingest queue size")
    trace_batch_spans: int = Field(default=DEFAULT_TRACE_BATCH_SPANS, ge=1, description="spans per write")
    trace_batch_wait_ms: float = Field(default=DEFAULT_TRACE_BATCH_WAIT_MS, ge=0, description="batch fill wait")
    trace_spool: bool = Field(default=True, description="spool accepted OTLP payloads for crash recovery")
    max_trace_payload_bytes: int = Field(default=DEFAULT_MAX_TRACE_PAYLOAD_BYTES, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        tomls = tuple(TomlConfigSettingsSource(settings_cls, p) for p in reversed(_toml_files()))
        return (init_settings, env_settings, *tomls)

    @property
    def home_path(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_path / 'ripple.db'}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or str(self.home_path / "blobs")

    @property
    def resolved_vector_url(self) -> str:
        return self.vector_url or str(self.home_path / "vectors")

    @property
    def token_file(self) -> Path:
        """Where ``ripple init`` keeps the local admin's token (mode 0600)."""
        return self.home_path / "token"

    @property
    def secret_key_file(self) -> Path:
        return self.home_path / "secret.key"

    @property
    def audit_head_file(self) -> Path:
        return self.home_path / "audit-head"

    @property
    def trace_spool_dir(self) -> Path:
        return self.home_path / "trace-spool"

    @property
    def import_root_paths(self) -> list[Path]:
        """The folders of ``RIPPLE_IMPORT_ROOTS``, resolved (symlinks followed)."""
        return [Path(p).expanduser().resolve() for p in self.import_roots.split(os.pathsep) if p.strip()]

    def fault(self, point: str) -> None:
        """Kill this process with SIGKILL when ``point`` is listed in ``RIPPLE_FAULTS``."""
        if self.faults and point in {f.strip() for f in self.faults.split(",")}:
            os.kill(os.getpid(), signal.SIGKILL)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
