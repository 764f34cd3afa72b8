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


class TokenUsage(Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # False when the provider sent no counts (llama.cpp's server in streams): tokens and cost are then 0
    reported: bool = True


class Cost(Record):
    """What one call cost, from the model version's prices (per million tokens)."""

    input: float = 0.0
    output: float = 0.0
    total: float = 0.0
    currency: str = "USD"


class GenerationRecord(Record):
    """One model call: the text, why it ended, the exact versions used, tokens and cost."""

    text: str
    finish_reason: str  # stop (end of turn or a stop sequence; not in text) | length (max_tokens)
    model: str  # the exact model version, e.g. model/local-smollm:1
    prompt: str | None = None  # the exact prompt version of a prompt run, e.g. prompt/answer:2
    params: dict[str, Any] = Field(default_factory=dict)  # the decoding parameters in effect
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost: Cost = Field(default_factory=Cost)
    latency_s: float = 0.0  # from the call to the last token
    time_to_first_token_s: float | None = None  # streams only


def prompt_etag(record: PromptRecord) -> str:
    """The HTTP ETag of a fetched prompt: changes when the version or its labels change (a
    label move keeps the hash, the description is metadata)."""
    return f'"{record.hash.removeprefix("sha256:")[:32]}-{",".join(record.labels)}"'


# -- indexes and search (issue 4) ---------------------------------------------------------------


class IndexRecord(_VersionFields):
    """An index version: what it was built from (exact versions), where its vectors are, and
    what it can filter on. The chunking parameters and columns are in ``recipe``."""

    dataset: str  # the exact dataset version, e.g. dataset/docs:3
    dataset_hash: str
    embedder: str  # the exact embedder version, e.g. embedder/minilm:1
    embedder_hash: str
    table: str  # the vector-store table holding this version's chunks
    dimension: int
    chunks: int
    documents: int
    fields: dict[str, str] = Field(default_factory=dict)  # filterable key -> Arrow type name


class SearchHitRecord(Record):
    """One result: the chunk, its score, and where it sits in its document."""

    rank: int  # 1 = best
    id: str  # the chunk id (a content hash)
    score: float  # cosine similarity (vector), BM25 relevance (bm25) or the fused RRF score (hybrid)
    doc_id: str
    text: str
    start: int  # character offsets of the chunk in the document's text
    end: int
    heading: list[str] = Field(default_factory=list)  # heading path above the chunk
    metadata: dict[str, Any] = Field(default_factory=dict)
    ranks: dict[str, int] = Field(default_factory=dict)  # hybrid: rank in each fused list (vector, bm25)
    scores: dict[str, float] = Field(default_factory=dict)  # hybrid: score in each fused list


class SearchResultRecord(Record):
    index: str  # the exact index version searched
    query: str
    mode: str  # vector, bm25 or hybrid
    k: int
    filters: dict[str, Any] = Field(default_factory=dict)
    rrf_k: int | None = None  # hybrid only
    hits: list[SearchHitRecord] = Field(default_factory=list)
    took_ms: float = 0.0


class RetrievalEvalRecord(Record):
    """Retrieval metrics of an index over a queries + judgements dataset, per search mode."""

    index: str
    queries: str  # the exact dataset version of the judgements
    level: str = "document"  # relevance is judged per doc_id
    k: int
    ks: list[int]
    query_count: int
    judgement_count: int
    modes: dict[str, dict[str, Any]] = Field(default_factory=dict)  # mode -> {mean, per_query, took_s, ...}


class EmbeddingRecord(Record):
    """The vectors of one embed call: one row of ``dimension`` floats per text, in order."""

    ref: str  # the exact embedder version, e.g. embedder/minilm:1
    dimension: int
    vectors: list[list[float]] = Field(default_factory=list)
    cached: int = 0  # texts read from the embedding cache
    embedded: int = 0  # texts the model embedded (repeats within a call count once)


# -- traces (issue 5) ---------------------------------------------------------------------------------------------


class SpanRecord(Record):
    """One span of a trace: a step of an app call, a model call, a tool call, user code ...

    Times are given twice: as UTC datetimes to read, and as Unix nanoseconds to compute with."""

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    parent_id: str | None = None  # None for the root span
    name: str
    kind: str  # OpenInference span kind: CHAIN, LLM, RETRIEVER, PROMPT, GUARDRAIL, TOOL, AGENT ...
    start_time: datetime
    end_time: datetime
    start_ns: int
    end_ns: int
    duration_ms: float
    status: str  # ok | error | unset
    status_message: str = ""
    service_name: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[Any] = Field(default_factory=list)


class TraceSummaryRecord(Record):
    """One trace as the list view shows it (read from the summary row the writer keeps)."""

    trace_id: str
    project: str
    name: str = ""  # the root span's, once it has arrived
    app: str | None = None  # the exact app version, e.g. app/support-bot:3 (None for other traces)
    app_name: str | None = None  # support-bot
    app_version: int | None = None
    service_name: str = ""
    status: str  # error when any span failed, else the root's status
    start_time: datetime
    end_time: datetime
    start_ns: int
    end_ns: int
    duration_ms: float
    span_count: int
    complete: bool  # the root span has arrived
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0
    input_preview: str = ""
    output_preview: str = ""


class TraceRecord(TraceSummaryRecord):
    """A trace with every span, ordered by start time (parents before their children)."""

    spans: list[SpanRecord] = Field(default_factory=list)


# -- apps (issue 5, area D) ------------------------------------------------------------------------


class AppRunRecord(Record):
    """One app call: the answer, why it ended, the exact app version, the sources retrieved,
    the guard decisions, each step's latency, tokens, cost, and the trace that holds it all."""

    app: str  # the exact app version, e.g. app/support-bot:3
    output: str
    finish_reason: str  # stop | length | blocked
    blocked: bool = False
    trace_id: str  # 32 hex digits
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost: Cost = Field(default_factory=Cost)
    latency_s: float = 0.0
    sources: list[dict[str, Any]] = Field(default_factory=list)  # {index, doc_id, id, score, start, end}
    guards: list[dict[str, Any]] = Field(default_factory=list)  # {stage, policy, decision, findings}
    steps: list[dict[str, Any]] = Field(default_factory=list)  # {name, kind, latency_ms}
