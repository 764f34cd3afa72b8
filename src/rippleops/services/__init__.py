"""The service layer: one module per domain area, the only place with business rules.

:class:`Services` wires them to one database and home; every interface (CLI through the
SDK, the server, the embedded SDK transport) builds exactly one and calls it.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from rippleops.domain.refs import validate_name
from rippleops.runtime.executor import Executor, InlineExecutor
from rippleops.services.access import AccessService
from rippleops.services.apps import AppService
from rippleops.services.assets import AssetService
from rippleops.services.audit import AuditService
from rippleops.services.datasets import DatasetService
from rippleops.services.deployments import DeploymentService
from rippleops.services.embedders import EmbedderService
from rippleops.services.embedding_cache import EmbeddingCache
from rippleops.services.evals import EvalService
from rippleops.services.indexes import IndexService
from rippleops.services.jobs import JobService
from rippleops.services.labels import LabelService
from rippleops.services.lineage import LineageService
from rippleops.services.models import ModelService
from rippleops.services.policies import PolicyService
from rippleops.services.projects import ProjectService
from rippleops.services.prompt_runs import PromptRunService
from rippleops.services.prompts import PromptService
from rippleops.services.ripple import RippleService
from rippleops.services.search import SearchService
from rippleops.services.secrets import SecretService
from rippleops.services.suites import SuiteService
from rippleops.services.sweeps import SweepService
from rippleops.services.trace_ingest import TraceIngest
from rippleops.services.traces import TraceService
from rippleops.settings import DEFAULT_PROJECT, Settings
from rippleops.store.blobs import BlobStore, open_blob_store
from rippleops.store.db import Database
from rippleops.store.vectors import VectorStore, open_vector_store

__all__ = ["Services"]


class Services:
    """All services over one database, built from the settings.

    ``executor`` runs jobs: inline (the default: the CLI and the embedded SDK run a job in
    the calling thread) or a local pool (the server passes one)."""

    def __init__(self, settings: Settings, *, check_schema: bool = True, executor: Executor | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.resolved_database_url)
        if check_schema:
            self.db.check_current()
        home_is_local = settings.database_url is None
        self.access = AccessService(self.db)
        self.audit = AuditService(self.db, settings.audit_head_file if home_is_local else None)
        self.assets = AssetService(self.db, self.access, settings)
        self.labels = LabelService(self.db, self.access)
        self.lineage = LineageService(self.db, self.access)
        self.projects = ProjectService(self.db)
        self.prompts = PromptService(self.db, self.access, self.assets)
        self.datasets = DatasetService(self.db, self.access, self.assets, settings, lambda: self.blobs)
        self.secrets = SecretService(self.db, self.access, settings.secret_key, settings.secret_key_file)
        self.models = ModelService(self.db, self.access, self.assets, self.secrets, threads=settings.llm_threads)
        self.prompt_runs = PromptRunService(self.prompts, self.models)
        self.embedding_cache = EmbeddingCache(self.db)
        self.embedders = EmbedderService(self.access, self.assets, self.secrets, self.embedding_cache)
        self.jobs = JobService(self.db, self.access, settings, self, executor or InlineExecutor())
        self.indexes = IndexService(self)
        self.search = SearchService(self)
        self.trace_ingest = TraceIngest(self.db, settings, self.access)
        self.traces = TraceService(self.db, self.access)
        self.policies = PolicyService(self.access, self.assets, self.embedders)
        self.apps = AppService(self)
        self.deployments = DeploymentService(self)
        self.suites = SuiteService(self)
        self.evals = EvalService(self)
        self.ripple = RippleService(self)
        self.sweeps = SweepService(self)  # issue 6: knob sweeps
        event.listen(self.db._write, "after_commit", self._after_commit)

    @cached_property
    def blobs(self) -> BlobStore:
        """The content-addressed blob store (``RIPPLE_BLOB_URL``: a home folder, or S3 ...)."""
        return open_blob_store(self.settings.resolved_blob_url, self.settings.blob_options)

    @cached_property
    def vectors(self) -> VectorStore:
        """The vector store (``RIPPLE_VECTOR_URL``: LanceDB in the home or on S3, or pgvector)."""
        return open_vector_store(self.settings)

    def _after_commit(self, session: Session) -> None:
        head = session.info.pop("audit_head", None)
        if head is not None:
            self.audit.write_head_file(head)

    def close(self) -> None:
        self.jobs.shutdown()
        self.trace_ingest.close()  # drains the queue: a graceful stop loses no span
        self.policies.close()
        self.embedders.close()
        if "vectors" in self.__dict__:
            self.vectors.close()
        self.audit.close()
        self.db.dispose()


def initialise(settings: Settings, admin_name: str) -> dict[str, Any]:
    """``ripple init``: home folder, migrations, the default project, the first admin and
    its token in the home (0600). Safe to run again: it only fills in what is missing."""
    validate_name(admin_name, "admin user name")
    home: Path = settings.home_path
    home.mkdir(parents=True, exist_ok=True)
    (home / "blobs").mkdir(exist_ok=True)
    services = Services(settings, check_schema=False)
    try:
        services.db.upgrade()
        created_project = services.projects.ensure(DEFAULT_PROJECT, admin_name)
        boot = services.access.bootstrap_admin(admin_name)
        token_written = False
        if boot is not None:
            _write_private(settings.token_file, boot[1] + "\n")
            token_written = True
        return {
            "home": str(home),
            "database": services.db.safe_url,
            "revision": services.db.current_revision(),
            "created_project": created_project,
            "admin": boot[0].name if boot else None,
            "token_file": str(settings.token_file) if token_written else None,
        }
    finally:
        services.close()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
