"""The remote transport: the REST API of ``ripple server start`` (``/api/v1``) over httpx.

One keep-alive :class:`httpx.Client` per transport; the token goes in
``Authorization: Bearer``. Error bodies become the errors of :mod:`rippleops.errors` again
(:func:`~rippleops.errors.error_from_dict`); a server that cannot be reached is an
:class:`~rippleops.errors.UnavailableError`.

>>> t = RemoteTransport("http://127.0.0.1:8750", token="rpl_...")   # doctest: +SKIP
>>> t.get_prompt("default", "prompt/answer@production")              # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar
from urllib.request import getproxies

import httpx
from pydantic import BaseModel, TypeAdapter

from rippleops.domain.records import (
    AssetRecord,
    AuditEventRecord,
    AuditVerifyRecord,
    EmbeddingRecord,
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
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, UnavailableError
from rippleops.sdk._http import error_of as _error
from rippleops.sdk._http import quote_part as _q
from rippleops.sdk._http import ref_segment as _ref_segment
from rippleops.sdk.app_transport import RemoteApps
from rippleops.sdk.dataset_transport import RemoteDatasets
from rippleops.sdk.deployment_transport import RemoteDeployments
from rippleops.sdk.eval_transport import RemoteEvals
from rippleops.sdk.model_transport import RemoteModels
from rippleops.sdk.policy_transport import RemotePolicies
from rippleops.sdk.ripple_transport import RemoteRipple
from rippleops.sdk.trace_transport import RemoteTraces
from rippleops.sdk.transport import NOT_MODIFIED, NotModified, Transport

API = "/api/v1"
PROMPT = "prompt"
EMBEDDER = "embedder"
MODEL = "model"
#: Read timeout of a generation: a long completion on a slow model (per event when streaming).
GENERATION_TIMEOUT = 600.0
INDEX = "index"
MAX_CACHED_URLS = 1024
R = TypeVar("R", bound=BaseModel)

_VERSIONS = TypeAdapter(list[VersionRecord])
_LABEL_EVENTS = TypeAdapter(list[LabelEventRecord])
_AUDIT_EVENTS = TypeAdapter(list[AuditEventRecord])
_PROJECTS = TypeAdapter(list[ProjectRecord])
_USERS = TypeAdapter(list[UserRecord])
_TOKENS = TypeAdapter(list[TokenRecord])
_MEMBERS = TypeAdapter(list[MemberRecord])
_SECRETS = TypeAdapter(list[SecretRecord])
_JOBS = TypeAdapter(list[JobRecord])
_JOB_LOGS = TypeAdapter(list[JobLogRecord])


def _asset_path(asset: str) -> str:
    """``prompt/answer`` -> ``prompt/answer`` with each part quoted; a version or label is
    kept, so the server answers exactly as the services do for it."""
    ref = parse_ref(asset)
    return f"{_q(ref.kind)}/{_ref_segment(ref)}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class RemoteTransport(
    RemoteEvals,
    RemoteTraces,
    RemoteApps,
    RemoteModels,
    RemoteDatasets,
    RemoteDeployments,
    RemotePolicies,
    RemoteRipple,
    Transport,
):
    """Every operation as one HTTP request to a Ripple server.

    ``client`` may be given to run over another httpx client (for example FastAPI's
    ``TestClient`` in tests); the transport then sends through it and does not own it.

    Requests built here go straight to the client's connection pool (its
    :class:`httpx.HTTPTransport`) rather than through ``Client.send``: cookies, redirects,
    auth hooks and base-URL merging are not needed and cost ~0.25 ms per request, an
    eighth of an uncached prompt fetch."""

    def __init__(
        self, url: str, token: str | None = None, timeout: float = 10.0, *, client: httpx.Client | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidError(f"server URL {url!r} is not valid; write it as http://HOST:PORT (RIPPLE_SERVER_URL)")
        self.url = url.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": "rippleops-sdk"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._urls: dict[str, httpx.URL] = {}
        self._pool: httpx.HTTPTransport | None = None
        self._owns_client = client is None
        if client is None:
            if not getproxies():  # with HTTP(S)_PROXY set, httpx.Client routes (and honours NO_PROXY)
                self._pool = httpx.HTTPTransport()
            client = httpx.Client(base_url=self.url, timeout=timeout, headers=self._headers, transport=self._pool)
        self._http = client

    def close(self) -> None:
        self.close_traces()  # spans of rp.trace still queued are sent first
        if self._owns_client:
            self._http.close()

    # -- the wire -----------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= MAX_CACHED_URLS:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self.url + path)
        return url

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        content = None
        headers = {**self._headers, **headers} if headers else self._headers
        if body is not None:
            try:
                content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            except (TypeError, ValueError) as exc:
                raise InvalidError(f"the request cannot be sent to the server as JSON: {exc}") from None
            headers = {**headers, "Content-Type": "application/json"}
        request = httpx.Request(
            method,
            self._url(path),
            params=params or None,
            content=content,
            headers=headers,
            extensions=self._extensions,
        )
        try:
            if self._pool is None:
                response = self._http.send(request)
            else:
                response = self._pool.handle_request(request)
                response.request = request
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"cannot reach the Ripple server at {self.url} ({type(exc).__name__}: {exc or 'no answer'}); "
                "start it with `ripple server start` or check RIPPLE_SERVER_URL"
            ) from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _record(self, model: type[R], method: str, path: str, **kw: Any) -> R:
        return model.model_validate_json(self._send(method, path, **kw).content)

    def _list(self, adapter: TypeAdapter[Any], method: str, path: str, **kw: Any) -> Any:
        return adapter.validate_json(self._send(method, path, **kw).content)

    @staticmethod
    def _p(project: str) -> str:
        return f"{API}/projects/{_q(project)}"

    # -- prompts --------------------------------------------------------------------------

    def create_prompt(self, project: str, name: str, spec: dict[str, Any]) -> PromptRecord:
        return self._record(PromptRecord, "POST", f"{self._p(project)}/prompts/{_q(name)}", body=spec)

    def get_prompt(self, project: str, ref: str, etag: str | None = None) -> PromptRecord | NotModified:
        path = f"{self._p(project)}/prompts/{_ref_segment(parse_ref(ref, PROMPT))}"
        response = self._send("GET", path, headers={"If-None-Match": etag} if etag else None)
        if response.status_code == 304:
            return NOT_MODIFIED
        return PromptRecord.model_validate_json(response.content)

    def render_prompt(self, project: str, ref: str, values: dict[str, Any]) -> str | list[dict[str, str]]:
        path = f"{self._p(project)}/prompts/{_ref_segment(parse_ref(ref, PROMPT))}/render"
        output: str | list[dict[str, str]] = self._send("POST", path, body={"variables": values}).json()["output"]
        return output

    def diff_prompts(self, project: str, a: str, b: str) -> dict[str, Any]:
        sa, sb = _ref_segment(parse_ref(a, PROMPT)), _ref_segment(parse_ref(b, PROMPT))
        result: dict[str, Any] = self._send("GET", f"{self._p(project)}/prompts/{sa}/diff/{sb}").json()
        return result

    # -- assets, versions, labels, lineage ---------------------------------------------

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
        params = {"kind": kind, "tag": tag, "label": label, "search": search, "limit": limit, "cursor": cursor}
        page = self._record(Page, "GET", f"{self._p(project)}/assets", params=params)
        page.items = [AssetRecord.model_validate(item) for item in page.items]
        return page

    def show_asset(self, project: str, asset: str) -> AssetRecord:
        return self._record(AssetRecord, "GET", f"{self._p(project)}/assets/{_asset_path(asset)}")

    def update_asset(
        self,
        project: str,
        asset: str,
        *,
        description: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> AssetRecord:
        body = {"description": description, "add_tags": add_tags or [], "remove_tags": remove_tags or []}
        return self._record(AssetRecord, "PATCH", f"{self._p(project)}/assets/{_asset_path(asset)}", body=body)

    def get_version(self, project: str, ref: str) -> VersionRecord:
        return self._record(VersionRecord, "GET", f"{self._p(project)}/versions/{_asset_path(ref)}")

    def list_versions(self, project: str, asset: str) -> list[VersionRecord]:
        versions: list[VersionRecord] = self._list(
            _VERSIONS, "GET", f"{self._p(project)}/assets/{_asset_path(asset)}/versions"
        )
        return versions

    def set_label(self, project: str, asset: str, label: str, target: str | int) -> LabelRecord:
        path = f"{self._p(project)}/assets/{_asset_path(asset)}/labels/{_q(label)}"
        return self._record(LabelRecord, "PUT", path, body={"version": target})

    def remove_label(self, project: str, asset: str, label: str) -> LabelRecord:
        return self._record(LabelRecord, "DELETE", f"{self._p(project)}/assets/{_asset_path(asset)}/labels/{_q(label)}")

    def label_history(self, project: str, asset: str, label: str | None = None) -> list[LabelEventRecord]:
        path = f"{self._p(project)}/assets/{_asset_path(asset)}/label-history"
        events: list[LabelEventRecord] = self._list(_LABEL_EVENTS, "GET", path, params={"label": label})
        return events

    def lineage(self, project: str, ref: str, direction: str = "both", depth: int = 50) -> LineageRecord:
        path = f"{self._p(project)}/lineage/{_asset_path(ref)}"
        return self._record(LineageRecord, "GET", path, params={"direction": direction, "depth": depth})

    # -- audit ----------------------------------------------------------------------------

    def audit_log(
        self,
        *,
        since: datetime | None = None,
        project: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditEventRecord]:
        params = {"since": _iso(since), "project": project, "action": action, "actor": actor, "limit": limit}
        events: list[AuditEventRecord] = self._list(_AUDIT_EVENTS, "GET", f"{API}/audit", params=params)
        return events

    def audit_verify(self) -> AuditVerifyRecord:
        return self._record(AuditVerifyRecord, "GET", f"{API}/audit/verify")

    # -- projects, users, tokens, roles -------------------------------------------------

    def create_project(self, name: str, description: str = "") -> ProjectRecord:
        return self._record(ProjectRecord, "POST", f"{API}/projects", body={"name": name, "description": description})

    def list_projects(self) -> list[ProjectRecord]:
        projects: list[ProjectRecord] = self._list(_PROJECTS, "GET", f"{API}/projects")
        return projects

    def whoami(self) -> UserRecord:
        return self._record(UserRecord, "GET", f"{API}/me")

    def create_user(self, name: str, *, is_admin: bool = False) -> UserRecord:
        return self._record(UserRecord, "POST", f"{API}/users", body={"name": name, "is_admin": is_admin})

    def list_users(self) -> list[UserRecord]:
        users: list[UserRecord] = self._list(_USERS, "GET", f"{API}/users")
        return users

    def create_token(
        self, *, user: str | None = None, name: str = "api", expires_at: datetime | None = None
    ) -> TokenRecord:
        body = {"user": user, "name": name, "expires_at": _iso(expires_at)}
        return self._record(TokenRecord, "POST", f"{API}/tokens", body=body)

    def list_tokens(self, *, user: str | None = None) -> list[TokenRecord]:
        tokens: list[TokenRecord] = self._list(_TOKENS, "GET", f"{API}/tokens", params={"user": user})
        return tokens

    def revoke_token(self, token_id: int) -> TokenRecord:
        return self._record(TokenRecord, "DELETE", f"{API}/tokens/{int(token_id)}")

    def grant_role(self, project: str, user: str, role: str) -> MemberRecord:
        return self._record(MemberRecord, "PUT", f"{self._p(project)}/members/{_q(user)}", body={"role": role})

    def revoke_role(self, project: str, user: str) -> MemberRecord:
        return self._record(MemberRecord, "DELETE", f"{self._p(project)}/members/{_q(user)}")

    def list_members(self, project: str) -> list[MemberRecord]:
        members: list[MemberRecord] = self._list(_MEMBERS, "GET", f"{self._p(project)}/members")
        return members

    # -- secrets ----------------------------------------------------------------------------

    def set_secret(self, project: str, name: str, value: str) -> SecretRecord:
        return self._record(SecretRecord, "PUT", f"{self._p(project)}/secrets/{_q(name)}", body={"value": value})

    def list_secrets(self, project: str) -> list[SecretRecord]:
        secrets: list[SecretRecord] = self._list(_SECRETS, "GET", f"{self._p(project)}/secrets")
        return secrets

    def delete_secret(self, project: str, name: str) -> SecretRecord:
        return self._record(SecretRecord, "DELETE", f"{self._p(project)}/secrets/{_q(name)}")

    # -- jobs (the server's pool runs them: submit returns at once, `watch` is not called) ------

    def submit_job(
        self, project: str, kind: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord:
        return self._record(JobRecord, "POST", f"{self._p(project)}/jobs", body={"kind": kind, "params": params})

    def list_jobs(
        self, project: str, *, state: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        params = {"state": state, "kind": kind, "limit": limit}
        jobs: list[JobRecord] = self._list(_JOBS, "GET", f"{self._p(project)}/jobs", params=params)
        return jobs

    def get_job(self, project: str, job_id: int) -> JobRecord:
        return self._record(JobRecord, "GET", f"{self._p(project)}/jobs/{int(job_id)}")

    def job_logs(self, project: str, job_id: int, after: int = 0, limit: int = 1000) -> list[JobLogRecord]:
        path = f"{self._p(project)}/jobs/{int(job_id)}/logs"
        lines: list[JobLogRecord] = self._list(_JOB_LOGS, "GET", path, params={"after": after, "limit": limit})
        return lines

    def cancel_job(self, project: str, job_id: int) -> JobRecord:
        return self._record(JobRecord, "POST", f"{self._p(project)}/jobs/{int(job_id)}/cancel")

    def rerun_job(self, project: str, job_id: int, *, watch: JobWatcher | None = None) -> JobRecord:
        return self._record(JobRecord, "POST", f"{self._p(project)}/jobs/{int(job_id)}/rerun")

    # -- embedders ------------------------------------------------------------------------------

    def create_embedder(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        return self._record(VersionRecord, "POST", f"{self._p(project)}/embedders/{_q(name)}", body=spec)

    def embed_texts(self, project: str, ref: str, texts: list[str]) -> EmbeddingRecord:
        path = f"{self._p(project)}/embedders/{_ref_segment(parse_ref(ref, EMBEDDER))}/embed"
        return self._record(EmbeddingRecord, "POST", path, body={"texts": texts})

    # -- indexes and search ------------------------------------------------------------------

    def _index_path(self, project: str, ref: str) -> str:
        return f"{self._p(project)}/indexes/{_ref_segment(parse_ref(ref, INDEX))}"

    def get_index(self, project: str, ref: str) -> IndexRecord:
        return self._record(IndexRecord, "GET", self._index_path(project, ref))

    def search_index(
        self, project: str, ref: str, query: str, *, k: int, mode: str, filters: dict[str, Any], rrf_k: int
    ) -> SearchResultRecord:
        body = {"query": query, "k": k, "mode": mode, "filters": filters, "rrf_k": rrf_k}
        return self._record(SearchResultRecord, "POST", self._index_path(project, ref) + "/search", body=body)

    def evaluate_index(
        self, project: str, ref: str, queries: str, *, k: int, modes: list[str], rrf_k: int
    ) -> RetrievalEvalRecord:
        body = {"queries": queries, "k": k, "modes": modes, "rrf_k": rrf_k}
        return self._record(RetrievalEvalRecord, "POST", self._index_path(project, ref) + "/eval", body=body)
