"""The one interface both SDK transports implement: every operation of the platform,
taking and returning the records of :mod:`rippleops.domain.records`.

:class:`~rippleops.sdk.embedded.EmbeddedTransport` calls the services in-process on the
local home; :class:`~rippleops.sdk.remote.RemoteTransport` speaks the REST API of
``ripple server start`` (``/api/v1``). The SDK collections (``rp.prompts`` ...) sit on top
and never know which one they have; the same test suite runs against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rippleops.domain.app_requests import AppStream
from rippleops.domain.generation import GenerationStream
from rippleops.domain.guards import GuardResult
from rippleops.domain.records import (
    AppRunRecord,
    AssetRecord,
    AuditEventRecord,
    AuditVerifyRecord,
    CompareRecord,
    EmbeddingRecord,
    EvalRunRecord,
    EvalSampleRecord,
    GateReport,
    GenerationRecord,
    IndexRecord,
    JobLogRecord,
    JobRecord,
    JobWatcher,
    LabelEventRecord,
    LabelRecord,
    LineageRecord,
    MemberRecord,
    Page,
    ProjectRecord,
    PromptRecord,
    RetrievalEvalRecord,
    SearchResultRecord,
    SecretRecord,
    TokenRecord,
    TraceRecord,
    UserRecord,
    VersionRecord,
)
from rippleops.domain.records import prompt_etag as prompt_etag
from rippleops.runtime.tracing import Tracing


class NotModified:
    """Returned by :meth:`Transport.get_prompt` when the caller's ETag is still current."""

    __slots__ = ()


NOT_MODIFIED = NotModified()


class Transport(ABC):
    """Every operation, scoped by ``project`` where the domain is."""

    url: str  # the home folder or the server URL, for messages

    # prompts
    @abstractmethod
    def create_prompt(self, project: str, name: str, spec: dict[str, Any]) -> PromptRecord: ...
    @abstractmethod
    def get_prompt(self, project: str, ref: str, etag: str | None = None) -> PromptRecord | NotModified: ...
    @abstractmethod
    def render_prompt(self, project: str, ref: str, values: dict[str, Any]) -> str | list[dict[str, str]]: ...
    @abstractmethod
    def diff_prompts(self, project: str, a: str, b: str) -> dict[str, Any]: ...

    # assets, versions, labels, lineage
    @abstractmethod
    def list_assets(
        self,
        project: str,
        *,
        kind: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page: ...
    @abstractmethod
    def show_asset(self, project: str, asset: str) -> AssetRecord: ...
    @abstractmethod
    def update_asset(
        self,
        project: str,
        asset: str,
        *,
        description: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> AssetRecord: ...
    @abstractmethod
    def get_version(self, project: str, ref: str) -> VersionRecord: ...
    @abstractmethod
    def list_versions(self, project: str, asset: str) -> list[VersionRecord]: ...
    @abstractmethod
    def set_label(self, project: str, asset: str, label: str, target: str | int) -> LabelRecord: ...
    @abstractmethod
    def remove_label(self, project: str, asset: str, label: str) -> LabelRecord: ...
    @abstractmethod
    def label_history(self, project: str, asset: str, label: str | None = None) -> list[LabelEventRecord]: ...
    @abstractmethod
    def lineage(self, project: str, ref: str, direction: str = "both", depth: int = 50) -> LineageRecord: ...

    # audit
    @abstractmethod
    def audit_log(
        self,
        *,
        since: datetime | None = None,
        project: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEventRecord]: ...
    @abstractmethod
    def audit_verify(self) -> AuditVerifyRecord: ...

    # projects, users, tokens, roles
    @abstractmethod
    def create_project(self, name: str, description: str = "") -> ProjectRecord: ...
    @abstractmethod
    def list_projects(self) -> list[ProjectRecord]: ...
    @abstractmethod
    def whoami(self) -> UserRecord: ...
    @abstractmethod
    def create_user(self, name: str, *, is_admin: bool = False) -> UserRecord: ...
    @abstractmethod
    def list_users(self) -> list[UserRecord]: ...
    @abstractmethod
    def create_token(
        self, *, user: str | None = None, name: str = "api", expires_at: datetime | None = None
    ) -> TokenRecord: ...
    @abstractmethod
    def list_tokens(self, *, user: str | None = None) -> list[TokenRecord]: ...
    @abstractmethod
    def revoke_token(self, token_id: int) -> TokenRecord: ...
    @abstractmethod
    def grant_role(self, project: str, user: str, role: str) -> MemberRecord: ...
    @abstractmethod
    def revoke_role(self, project: str, user: str) -> MemberRecord: ...
    @abstractmethod
    def list_members(self, project: str) -> list[MemberRecord]: ...

    # secrets (values go in, never come out)
    @abstractmethod
    def set_secret(self, project: str, name: str, value: str) -> SecretRecord: ...
    @abstractmethod
    def list_secrets(self, project: str) -> list[SecretRecord]: ...
    @abstractmethod
    def delete_secret(self, project: str, name: str) -> SecretRecord: ...

    # jobs (``watch`` is called as the job runs when it runs in this process: the embedded
    # transport's inline executor; the remote transport returns at once and ignores it)
    @abstractmethod
    def submit_job(
        self, project: str, kind: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord: ...
    @abstractmethod
    def list_jobs(
        self, project: str, *, state: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[JobRecord]: ...
    @abstractmethod
    def get_job(self, project: str, job_id: int) -> JobRecord: ...
    @abstractmethod
    def job_logs(self, project: str, job_id: int, after: int = 0, limit: int = 1000) -> list[JobLogRecord]: ...
    @abstractmethod
    def cancel_job(self, project: str, job_id: int) -> JobRecord: ...
    @abstractmethod
    def rerun_job(self, project: str, job_id: int, *, watch: JobWatcher | None = None) -> JobRecord: ...

    # models and prompt runs (``messages``: a text, one user turn, or chat messages; a stream
    # fails at the call when the model cannot start, and holds the record once exhausted)
    @abstractmethod
    def create_model(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord: ...
    @abstractmethod
    def get_model(self, project: str, ref: str) -> VersionRecord: ...
    @abstractmethod
    def generate(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationRecord: ...
    @abstractmethod
    def stream_generation(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationStream: ...
    @abstractmethod
    def run_prompt(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationRecord: ...
    @abstractmethod
    def stream_prompt_run(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationStream: ...

    # apps (get, list and labels are the generic version and asset calls; ``request`` is
    # {"input" | "messages", "variables", "params", "metadata"}; a stream fails at the call
    # when the app cannot start, and holds the record once exhausted)
    @abstractmethod
    def create_app(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord: ...
    @abstractmethod
    def invoke_app(self, project: str, ref: str, request: dict[str, Any]) -> AppRunRecord: ...
    @abstractmethod
    def stream_app(self, project: str, ref: str, request: dict[str, Any]) -> AppStream: ...

    # embedders (get, list and labels are the generic version and asset calls)
    @abstractmethod
    def create_embedder(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord: ...
    @abstractmethod
    def embed_texts(self, project: str, ref: str, texts: list[str]) -> EmbeddingRecord: ...

    # indexes and search (building one is a job: submit_job("index.build", ...))
    @abstractmethod
    def get_index(self, project: str, ref: str) -> IndexRecord: ...
    @abstractmethod
    def search_index(
        self, project: str, ref: str, query: str, *, k: int, mode: str, filters: dict[str, Any], rrf_k: int
    ) -> SearchResultRecord: ...
    @abstractmethod
    def evaluate_index(
        self, project: str, ref: str, queries: str, *, k: int, modes: list[str], rrf_k: int
    ) -> RetrievalEvalRecord: ...

    # datasets (an import is a job reading a file or folder of this machine: the embedded
    # transport submits it, the remote one uploads the file to the server, which runs it;
    # batches are pyarrow RecordBatches)
    @abstractmethod
    def import_dataset(
        self, project: str, path: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord: ...
    @abstractmethod
    def dataset_head(self, project: str, ref: str, n: int) -> dict[str, Any]: ...
    @abstractmethod
    def diff_datasets(self, project: str, a: str, b: str, *, key: str | None, limit: int) -> dict[str, Any]: ...
    @abstractmethod
    def export_dataset(self, project: str, ref: str, out: str, fmt: str) -> dict[str, Any]: ...
    @abstractmethod
    def dataset_quality(self, project: str, ref: str) -> dict[str, Any]: ...
    @abstractmethod
    def dataset_bias(self, project: str, ref: str, *, group: str, outcome: str, positive: Any) -> dict[str, Any]: ...
    @abstractmethod
    def dataset_batches(
        self, project: str, ref: str, *, columns: list[str] | None, batch_size: int
    ) -> Iterator[Any]: ...

    # traces (issue 5): queries, and the Tracing that user code's spans (rp.trace) go to
    @abstractmethod
    def list_traces(self, project: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Page: ...
    @abstractmethod
    def get_trace(self, project: str, trace_id: str) -> TraceRecord: ...
    @abstractmethod
    def tracing(self, project: str) -> Tracing: ...
    @abstractmethod
    def flush_traces(self, timeout_s: float = 10.0) -> None: ...
    # policies (guardrails): versions, and a check of one text at one stage
    @abstractmethod
    def create_policy(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord: ...
    @abstractmethod
    def get_policy(self, project: str, ref: str) -> VersionRecord: ...
    @abstractmethod
    def check_policy(
        self, project: str, ref: str, text: str, stage: str, context: dict[str, Any] | None
    ) -> GuardResult: ...

    # suites and eval runs (issue 6): suite versions (their list, versions and labels are the
    # generic asset calls); runs are eval.run jobs; reading runs, samples, gates, comparisons
    @abstractmethod
    def create_suite(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord: ...
    @abstractmethod
    def get_suite(self, project: str, ref: str) -> VersionRecord: ...
    @abstractmethod
    def init_judge_prompts(self, project: str) -> list[PromptRecord]: ...
    @abstractmethod
    def get_eval_run(self, project: str, run_id: int) -> EvalRunRecord: ...
    @abstractmethod
    def list_eval_runs(
        self, project: str, *, suite: str | None, target: str | None, state: str | None, limit: int
    ) -> list[EvalRunRecord]: ...
    @abstractmethod
    def eval_samples(self, project: str, run_id: int, *, offset: int, limit: int | None) -> list[EvalSampleRecord]: ...
    @abstractmethod
    def gate_eval_run(self, project: str, run_id: int, baseline: int | None) -> GateReport: ...
    @abstractmethod
    def compare_eval_runs(self, project: str, run_a: int, run_b: int, top: int) -> CompareRecord: ...
    @abstractmethod
    def eval_report_html(self, project: str, run_id: int) -> str: ...
    @abstractmethod
    def eval_compare_html(self, project: str, run_a: int, run_b: int) -> str: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
