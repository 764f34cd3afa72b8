"""The embedded transport: the services, in-process, on the local home folder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rippleops.domain.generation import GenerationStream
from rippleops.domain.prompts import parse_spec
from rippleops.domain.records import (
    AssetRecord,
    AuditEventRecord,
    AuditVerifyRecord,
    EmbeddingRecord,
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
    UserRecord,
    VersionRecord,
)
from rippleops.errors import UnauthenticatedError
from rippleops.sdk.app_transport import EmbeddedApps
from rippleops.sdk.dataset_transport import EmbeddedDatasets
from rippleops.sdk.deployment_transport import EmbeddedDeployments
from rippleops.sdk.eval_transport import EmbeddedEvals
from rippleops.sdk.policy_transport import EmbeddedPolicies
from rippleops.sdk.ripple_transport import EmbeddedRipple
from rippleops.sdk.trace_transport import EmbeddedTraces
from rippleops.sdk.transport import NOT_MODIFIED, NotModified, Transport, prompt_etag
from rippleops.services import Services
from rippleops.settings import Settings


class EmbeddedTransport(
    EmbeddedEvals,
    EmbeddedTraces,
    EmbeddedApps,
    EmbeddedDatasets,
    EmbeddedDeployments,
    EmbeddedPolicies,
    EmbeddedRipple,
    Transport,
):
    """Acts as the user whose token is given, or whose token ``ripple init`` left in the home."""

    def __init__(self, settings: Settings, token: str | None = None) -> None:
        self.url = str(settings.home_path)
        self.services = Services(settings)
        token = token or settings.token or _read_token_file(settings)
        self.principal = self.services.access.authenticate(token)

    def close(self) -> None:
        self.services.close()

    # prompts
    def create_prompt(self, project: str, name: str, spec: dict[str, Any]) -> PromptRecord:
        return self.services.prompts.create(self.principal, project, name, parse_spec(spec, f"prompt/{name}"))

    def get_prompt(self, project: str, ref: str, etag: str | None = None) -> PromptRecord | NotModified:
        record = self.services.prompts.get(self.principal, project, ref)
        return NOT_MODIFIED if etag is not None and etag == prompt_etag(record) else record

    def render_prompt(self, project: str, ref: str, values: dict[str, Any]) -> str | list[dict[str, str]]:
        return self.services.prompts.render(self.principal, project, ref, values)

    def diff_prompts(self, project: str, a: str, b: str) -> dict[str, Any]:
        return self.services.prompts.diff(self.principal, project, a, b)

    # assets
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
    ) -> Page:
        return self.services.assets.list(
            self.principal, project, kind=kind, tag=tag, label=label, search=search, limit=limit, cursor=cursor
        )

    def show_asset(self, project: str, asset: str) -> AssetRecord:
        return self.services.assets.show(self.principal, project, asset)

    def update_asset(
        self,
        project: str,
        asset: str,
        *,
        description: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> AssetRecord:
        return self.services.assets.update(
            self.principal,
            project,
            asset,
            description=description,
            add_tags=add_tags or [],
            remove_tags=remove_tags or [],
        )

    def get_version(self, project: str, ref: str) -> VersionRecord:
        return self.services.assets.get(self.principal, project, ref)

    def list_versions(self, project: str, asset: str) -> list[VersionRecord]:
        return self.services.assets.versions(self.principal, project, asset)

    def set_label(self, project: str, asset: str, label: str, target: str | int) -> LabelRecord:
        return self.services.labels.set(self.principal, project, asset, label, target)

    def remove_label(self, project: str, asset: str, label: str) -> LabelRecord:
        return self.services.labels.remove(self.principal, project, asset, label)

    def label_history(self, project: str, asset: str, label: str | None = None) -> list[LabelEventRecord]:
        return self.services.labels.history(self.principal, project, asset, label)

    def lineage(self, project: str, ref: str, direction: str = "both", depth: int = 50) -> LineageRecord:
        return self.services.lineage.walk(self.principal, project, ref, direction=direction, depth=depth)

    # audit
    def audit_log(
        self,
        *,
        since: datetime | None = None,
        project: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEventRecord]:
        return self.services.audit.log(
            self.principal, since=since, project=project, action=action, actor=actor, limit=limit
        )

    def audit_verify(self) -> AuditVerifyRecord:
        return self.services.audit.verify(self.principal)

    # projects, users, tokens, roles
    def create_project(self, name: str, description: str = "") -> ProjectRecord:
        return self.services.projects.create(self.principal, name, description)

    def list_projects(self) -> list[ProjectRecord]:
        return self.services.projects.list(self.principal)

    def whoami(self) -> UserRecord:
        return self.services.access.whoami(self.principal)

    def create_user(self, name: str, *, is_admin: bool = False) -> UserRecord:
        return self.services.access.create_user(self.principal, name, is_admin=is_admin)

    def list_users(self) -> list[UserRecord]:
        return self.services.access.list_users(self.principal)

    def create_token(
        self, *, user: str | None = None, name: str = "api", expires_at: datetime | None = None
    ) -> TokenRecord:
        return self.services.access.create_token(self.principal, user=user, name=name, expires_at=expires_at)

    def list_tokens(self, *, user: str | None = None) -> list[TokenRecord]:
        return self.services.access.list_tokens(self.principal, user=user)

    def revoke_token(self, token_id: int) -> TokenRecord:
        return self.services.access.revoke_token(self.principal, token_id)

    def grant_role(self, project: str, user: str, role: str) -> MemberRecord:
        return self.services.access.grant(self.principal, project, user, role)

    def revoke_role(self, project: str, user: str) -> MemberRecord:
        return self.services.access.revoke(self.principal, project, user)

    def list_members(self, project: str) -> list[MemberRecord]:
        return self.services.access.members(self.principal, project)

    # secrets
    def set_secret(self, project: str, name: str, value: str) -> SecretRecord:
        return self.services.secrets.set(self.principal, project, name, value)

    def list_secrets(self, project: str) -> list[SecretRecord]:
        return self.services.secrets.list(self.principal, project)

    def delete_secret(self, project: str, name: str) -> SecretRecord:
        return self.services.secrets.delete(self.principal, project, name)

    # jobs
    def submit_job(
        self, project: str, kind: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord:
        return self.services.jobs.submit(self.principal, project, kind, params, watch=watch)

    def list_jobs(
        self, project: str, *, state: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        return self.services.jobs.list(self.principal, project, state=state, kind=kind, limit=limit)

    def get_job(self, project: str, job_id: int) -> JobRecord:
        return self.services.jobs.show(self.principal, project, job_id)

    def job_logs(self, project: str, job_id: int, after: int = 0, limit: int = 1000) -> list[JobLogRecord]:
        return self.services.jobs.logs(self.principal, project, job_id, after, limit)

    def cancel_job(self, project: str, job_id: int) -> JobRecord:
        return self.services.jobs.cancel(self.principal, project, job_id)

    def rerun_job(self, project: str, job_id: int, *, watch: JobWatcher | None = None) -> JobRecord:
        return self.services.jobs.rerun(self.principal, project, job_id, watch=watch)

    # models and prompt runs
    def create_model(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self.services.models.create(self.principal, project, name, spec)

    def get_model(self, project: str, ref: str) -> VersionRecord:
        return self.services.models.get(self.principal, project, ref)

    def generate(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationRecord:
        return self.services.models.generate_with(self.principal, project, ref, messages, params)

    def stream_generation(
        self, project: str, ref: str, messages: str | list[dict[str, Any]], params: dict[str, Any]
    ) -> GenerationStream:
        return self.services.models.stream_with(self.principal, project, ref, messages, params)

    def run_prompt(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationRecord:
        return self.services.prompt_runs.run_with(self.principal, project, ref, values, model, params)

    def stream_prompt_run(
        self, project: str, ref: str, values: dict[str, Any], model: str | None, params: dict[str, Any]
    ) -> GenerationStream:
        return self.services.prompt_runs.stream_with(self.principal, project, ref, values, model, params)

    # embedders
    def create_embedder(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self.services.embedders.create(self.principal, project, name, spec)

    def embed_texts(self, project: str, ref: str, texts: list[str]) -> EmbeddingRecord:
        return self.services.embedders.embed_record(self.principal, project, ref, texts)

    # indexes and search
    def get_index(self, project: str, ref: str) -> IndexRecord:
        return self.services.indexes.get(self.principal, project, ref)

    def search_index(
        self, project: str, ref: str, query: str, *, k: int, mode: str, filters: dict[str, Any], rrf_k: int
    ) -> SearchResultRecord:
        return self.services.search.search(
            self.principal, project, ref, query, k=k, mode=mode, filters=filters, rrf_k=rrf_k
        )

    def evaluate_index(
        self, project: str, ref: str, queries: str, *, k: int, modes: list[str], rrf_k: int
    ) -> RetrievalEvalRecord:
        kwargs: dict[str, Any] = {"modes": modes} if modes else {}
        return self.services.search.evaluate(self.principal, project, ref, queries, k=k, rrf_k=rrf_k, **kwargs)


def _read_token_file(settings: Settings) -> str:
    path = settings.token_file
    if not path.is_file():
        raise UnauthenticatedError(
            f"no token in {path}; run `ripple init` to set up {settings.home_path}, or set RIPPLE_TOKEN"
        )
    return path.read_text().strip()
