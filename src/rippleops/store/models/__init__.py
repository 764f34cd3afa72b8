"""SQLAlchemy 2 models, one module per area; every change has an Alembic migration."""

from rippleops.store.models.access import Membership, Token, User
from rippleops.store.models.assets import Asset, Label, LabelEvent, Project, Version, VersionInput
from rippleops.store.models.audit import AuditEvent, Meta
from rippleops.store.models.base import Base
from rippleops.store.models.embeddings import EmbeddingCacheEntry
from rippleops.store.models.evals import EvalRun, EvalSample
from rippleops.store.models.jobs import Job, JobLog
from rippleops.store.models.ripple import ApplyStep, RippleApply, RippleLock
from rippleops.store.models.secrets import Secret
from rippleops.store.models.traces import Span, Trace

__all__ = [
    "ApplyStep",
    "Asset",
    "AuditEvent",
    "Base",
    "EmbeddingCacheEntry",
    "EvalRun",
    "EvalSample",
    "Job",
    "JobLog",
    "Label",
    "LabelEvent",
    "Membership",
    "Meta",
    "Project",
    "RippleApply",
    "RippleLock",
    "Secret",
    "Span",
    "Token",
    "Trace",
    "User",
    "Version",
    "VersionInput",
]
