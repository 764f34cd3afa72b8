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
    sources: list[dict[str, Any]] = Field(default_factory=list)  # {index, doc_id, id, score, start, end, text}
    guards: list[dict[str, Any]] = Field(default_factory=list)  # {stage, policy, decision, findings}
    steps: list[dict[str, Any]] = Field(default_factory=list)  # {name, kind, latency_ms}


# -- evals (issue 6) -------------------------------------------------------------------------------


class MetricAggregate(Record):
    """One metric over a run: the mean with its bootstrap 95% interval, over the samples
    that have a score (``n``); ``errors`` samples have none (their call or the metric failed)."""

    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    errors: int = 0
    p50: float | None = None
    p95: float | None = None


class GateResult(Record):
    """One gate checked on a run: ``passed`` is None when it could not be decided (no
    baseline, a baseline on another dataset version, no score)."""

    metric: str  # rouge_l, latency_ms.p95
    rule: str  # min | max | max_regression
    threshold: float
    value: float | None = None
    baseline: float | None = None
    delta: float | None = None  # value - baseline, for max_regression
    passed: bool | None = None
    message: str = ""


class GateReport(Record):
    """Every gate of the run's suite checked against the run and its baseline."""

    run: int
    suite: str  # exact suite version
    target: str  # exact target version
    baseline_run: int | None = None
    baseline_target: str | None = None
    comparable: bool = True  # False: the baseline ran on another dataset version (say so, never compare)
    passed: bool
    gates: list[GateResult] = Field(default_factory=list)
    message: str = ""


class EvalRunRecord(Record):
    """One eval run: a suite version scoring a target version over the suite's dataset version."""

    id: int
    project: str
    suite: str  # exact: suite/support-qa:2
    target: str  # exact: app/support-bot:3
    dataset: str  # exact: dataset/support-qa:1
    dataset_hash: str
    state: str  # running | succeeded | failed | cancelled
    samples: int = 0
    done: int = 0
    errors: int = 0
    aggregates: dict[str, MetricAggregate] = Field(default_factory=dict)
    gates: list[GateResult] | None = None
    duration_s: float = 0.0
    tokens: int = 0
    cost: float = 0.0
    error: str | None = None
    job_id: int | None = None
    created_at: datetime
    created_by: str
    finished_at: datetime | None = None


class EvalSampleRecord(Record):
    idx: int
    key: str
    input: Any = None
    expected: Any = None
    output: Any = None  # {"text", "contexts", "sources", "blocked", "finish_reason"}
    scores: dict[str, float] = Field(default_factory=dict)
    metric_errors: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    latency_ms: float = 0.0
    tokens: int = 0
    cost: float = 0.0
    trace_id: str | None = None


class MetricDelta(Record):
    """B minus A on one metric, over the samples both runs scored, with a paired bootstrap
    95% interval; ``significant`` when the interval leaves out 0."""

    metric: str
    a: float | None = None
    b: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    significant: bool = False


class CompareRecord(Record):
    run_a: EvalRunRecord
    run_b: EvalRunRecord
    comparable: bool = True
    reason: str = ""  # why not comparable
    deltas: list[MetricDelta] = Field(default_factory=list)
    regressions: list[dict[str, Any]] = Field(default_factory=list)  # {key, metric, a, b, delta, input, output_a, output_b}
    # added by the report work: metric -> {"a": [...], "b": [...]} paired scores, for the report's distributions
    scores: dict[str, dict[str, list[float]]] = Field(default_factory=dict)


# -- the ripple engine (issue 6) -----------------------------------------------------------------


class Estimate(Record):
    """What a step is expected to cost, from past runs of the same kind of work."""

    seconds: float | None = None
    tokens: int | None = None
    cost: float | None = None
    basis: str = ""  # "mean of 3 index.build jobs of index/docs", "no past run"


class PlanStep(Record):
    """One thing a change asks for: rebuild / re-evaluate / redeploy / review."""

    key: str  # unique in the plan: "rebuild:index/docs:1"
    action: str  # rebuild | re-evaluate | redeploy | review
    target: str  # the affected exact version (or, for re-evaluate, the asset whose new version is scored)
    kind: str
    reason: str  # "refers to embedder/minilm@latest, which is now embedder/minilm:2"
    via: list[str] = Field(default_factory=list)  # refs as written that tie it to the change
    depends_on: list[str] = Field(default_factory=list)  # keys of steps that must finish first
    labels: list[str] = Field(default_factory=list)  # labels the affected version holds
    suite: str | None = None  # re-evaluate: the suite asset
    depth: int = 1
    estimate: Estimate = Field(default_factory=Estimate)


class PlanRecord(Record):
    """What a change affects, in topological order (each affected version once)."""

    change: str  # as given: embedder/minilm:2, prompt/answer@production, or "stale"
    resolved: str | None = None  # the exact version the change names
    steps: list[PlanStep] = Field(default_factory=list)
    affected: int = 0  # distinct affected versions
    estimate: Estimate = Field(default_factory=Estimate)  # the sum over steps
    notes: list[str] = Field(default_factory=list)
    took_ms: float = 0.0


class StaleReason(Record):
    input: str  # the reference as written: embedder/minilm@latest (or "recipe")
    role: str = "input"
    recorded: str | None = None  # what it resolved to when the version was made: embedder/minilm:1
    recorded_hash: str | None = None
    now: str | None = None  # what it resolves to now
    now_hash: str | None = None
    upstream_stale: bool = False  # the input itself is stale (transitive)


class StaleRecord(Record):
    ref: str  # exact version
    kind: str
    labels: list[str] = Field(default_factory=list)
    action: str  # rebuild | re-evaluate | redeploy | review
    transitive: bool = False  # stale only because something it is built from is stale
    reasons: list[StaleReason] = Field(default_factory=list)


class StaleReport(Record):
    items: list[StaleRecord] = Field(default_factory=list)
    checked: int = 0  # versions looked at
    took_ms: float = 0.0


class ApplyStepRecord(Record):
    key: str
    status: str  # pending | done | failed | held | skipped
    message: str = ""
    result: dict[str, Any] = Field(default_factory=dict)
    finished_at: datetime | None = None


class ApplyRecord(Record):
    """One ``ripple apply``: its fixed plan, each step's outcome, and the final report."""

    id: int
    project: str
    change: str
    state: str  # running | succeeded | failed | cancelled
    job_id: int | None = None
    plan: PlanRecord
    steps: list[ApplyStepRecord] = Field(default_factory=list)
    report: dict[str, Any] | None = None  # {promoted: [...], held: [...], rebuilt: [...], failed: [...]}
    created_at: datetime
    created_by: str
    finished_at: datetime | None = None
