"""The records every interface shows: the same fields in CLI ``--json``, REST and the SDK."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.jobs import JobState


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InputRecord(Record):
    """One lineage edge as recorded when the version was made."""

    ref: str  # as written, e.g. prompt/system@production
    resolved: str  # the exact version, e.g. prompt/system:3
    hash: str
    role: str = "input"


class _VersionFields(Record):
    ref: str  # prompt/answer:2
    kind: str
    name: str
    version: int
    hash: str
    labels: list[str] = Field(default_factory=list)
    inputs: list[InputRecord] = Field(default_factory=list)
    recipe: dict[str, Any] | None = None
    message: str = ""
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    created_by: str
    project: str
    description: str = ""  # the asset's (editable, not hashed)
    created: bool | None = None  # set by register: False when identical content already existed
    note: str | None = None  # why register returned an existing version


class VersionRecord(_VersionFields):
    """Any kind's version; the kind's content fields are under ``content``."""

    content: dict[str, Any] = Field(default_factory=dict)


class PromptRecord(_VersionFields):
    """A prompt version: the common fields plus the prompt's content at the top level, and
    the text of every prompt it includes (pinned to the versions recorded as inputs), so it
    renders anywhere, offline included."""

    type: str  # text | chat
    template: str | None = None
    messages: list[dict[str, Any]] | None = None
    variables: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    includes: dict[str, str] = Field(default_factory=dict)


class LabelRecord(Record):
    label: str
    version: int
    updated_at: datetime
    updated_by: str


class LabelEventRecord(Record):
    asset: str
    label: str
    from_version: int | None
    to_version: int | None
    at: datetime
    by: str


class AssetRecord(Record):
    ref: str  # prompt/answer
    kind: str
    name: str
    project: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    latest_version: int
    labels: dict[str, int] = Field(default_factory=dict)
    created_at: datetime
    created_by: str
    updated_at: datetime


class Page(Record):
    items: list[Any]
    next_cursor: str | None = None
    total: int | None = None


class LineageNode(Record):
    ref: str  # exact: prompt/answer:2
    hash: str
    depth: int  # 1 = direct input / dependent
    via: str  # the ref as written on the edge
    parent: str  # the exact ref this node hangs off


class LineageRecord(Record):
    ref: str
    hash: str
    upstream: list[LineageNode] = Field(default_factory=list)
    downstream: list[LineageNode] = Field(default_factory=list)


class AuditEventRecord(Record):
    id: int
    at: datetime
    actor: str
    project: str | None
    action: str
    target: str
    before: Any = None
    after: Any = None
    hash: str


class AuditVerifyRecord(Record):
    ok: bool
    events: int
    head_id: int | None = None
    problem: str | None = None
    first_bad_id: int | None = None


class UserRecord(Record):
    name: str
    is_admin: bool
    is_active: bool
    created_at: datetime
    roles: dict[str, str] = Field(default_factory=dict)


class TokenRecord(Record):
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    token: str | None = None  # only once, when created


class MemberRecord(Record):
    project: str
    user: str
    role: str


class SecretRecord(Record):
    project: str
    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ProjectRecord(Record):
    name: str
    description: str = ""
    created_at: datetime
    created_by: str


class JobProgress(Record):
    done: int = 0
    total: int | None = None  # None: not known (yet)
    message: str = ""


class JobError(Record):
    type: str  # the exception class, or JobLostError / JobInterruptedError
    message: str
    traceback: str | None = None


class JobRecord(Record):
    """One job: what it runs, where it is, and how it ended."""

    id: int
    project: str
    kind: str  # prompt.import
    params: dict[str, Any] = Field(default_factory=dict)
    state: JobState
    progress: JobProgress = Field(default_factory=JobProgress)
    result: Any = None
    error: JobError | None = None
    cancel_requested: bool = False
    created_at: datetime
    created_by: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 1
    rerun_of: int | None = None
    owner: str | None = None  # host:pid of the process that runs it


class JobLogRecord(Record):
    seq: int  # 1, 2, ... per job; ask for lines after the last one seen
    at: datetime
    level: str  # debug, info, warning, error
    message: str


# called as a job runs in this process (embedded mode): the job now, and its new log lines
JobWatcher = Callable[[JobRecord, list[JobLogRecord]], None]


def prompt_etag(record: PromptRecord) -> str:
    """The HTTP ETag of a fetched prompt: changes when the version or its labels change (a
    label move keeps the hash, the description is metadata)."""
    return f'"{record.hash.removeprefix("sha256:")[:32]}-{",".join(record.labels)}"'
