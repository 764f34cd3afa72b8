"""The deployment operations of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` and :class:`~rippleops.sdk.remote.RemoteTransport`.

Embedded: the services in-process (a local deployment's supervisor starts on this machine).
Remote: ``/api/v1/projects/{project}/deployments`` (a local deployment runs on the server's
machine, bound to its loopback; template targets come back with their files as JSON), with a
long read timeout because a local start waits for the served process to be healthy.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx

from rippleops.domain.deployments import DeploymentRecord
from rippleops.errors import InvalidError, UnavailableError
from rippleops.sdk._http import error_of, quote_part

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

DEPLOY_TIMEOUT = 300.0  # a local start waits for the served process's models to load


class DeploymentTransport(Protocol):
    """What ``rp.deployments`` needs of a transport."""

    def create_deployment(self, project: str, app: str, options: dict[str, Any]) -> DeploymentRecord: ...
    def get_deployment(self, project: str, name: str) -> DeploymentRecord: ...
    def list_deployments(self, project: str) -> list[DeploymentRecord]: ...
    def render_deployment(self, project: str, name: str) -> DeploymentRecord: ...
    def stop_deployment(self, project: str, name: str) -> DeploymentRecord: ...
    def promote_deployment(self, project: str, app: str, source: str, to: str) -> DeploymentRecord: ...


class EmbeddedDeployments:
    """Deployment calls on the services (mixed into the embedded transport)."""

    def _e(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def create_deployment(self, project: str, app: str, options: dict[str, Any]) -> DeploymentRecord:
        t = self._e()
        return t.services.deployments.create(t.principal, project, app, **options)

    def get_deployment(self, project: str, name: str) -> DeploymentRecord:
        t = self._e()
        return t.services.deployments.get(t.principal, project, name)

    def list_deployments(self, project: str) -> list[DeploymentRecord]:
        t = self._e()
        return t.services.deployments.list(t.principal, project)

    def render_deployment(self, project: str, name: str) -> DeploymentRecord:
        t = self._e()
        return t.services.deployments.render(t.principal, project, name)

    def stop_deployment(self, project: str, name: str) -> DeploymentRecord:
        t = self._e()
        return t.services.deployments.stop(t.principal, project, name)

    def promote_deployment(self, project: str, app: str, source: str, to: str) -> DeploymentRecord:
        t = self._e()
        return t.services.deployments.promote(t.principal, project, app, source=source, to=to)


class RemoteDeployments:
    """Deployment calls over HTTP (mixed into the remote transport)."""

    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def _deploy_path(self, project: str) -> str:
        return f"{self._r()._p(project)}/deployments"

    def create_deployment(self, project: str, app: str, options: dict[str, Any]) -> DeploymentRecord:
        return self._deploy_call("POST", self._deploy_path(project), {"app": app, **options})

    def get_deployment(self, project: str, name: str) -> DeploymentRecord:
        return self._r()._record(DeploymentRecord, "GET", f"{self._deploy_path(project)}/{quote_part(name)}")

    def list_deployments(self, project: str) -> list[DeploymentRecord]:
        data = self._r()._send("GET", self._deploy_path(project)).json()
        return [DeploymentRecord.model_validate(d) for d in data]

    def render_deployment(self, project: str, name: str) -> DeploymentRecord:
        return self._r()._record(DeploymentRecord, "GET", f"{self._deploy_path(project)}/{quote_part(name)}/files")

    def stop_deployment(self, project: str, name: str) -> DeploymentRecord:
        return self._deploy_call("POST", f"{self._deploy_path(project)}/{quote_part(name)}/stop", {})

    def promote_deployment(self, project: str, app: str, source: str, to: str) -> DeploymentRecord:
        return self._deploy_call(
            "POST", f"{self._deploy_path(project)}/promote", {"app": app, "from": source, "to": to}
        )

    def _deploy_call(self, method: str, path: str, body: dict[str, Any]) -> DeploymentRecord:
        """A request that may wait for a process to start or stop: a long read timeout."""
        t = self._r()
        try:
            content = json.dumps(body, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidError(f"the request cannot be sent to the server as JSON: {exc}") from None
        timeout = {**t._extensions["timeout"], "read": DEPLOY_TIMEOUT}
        headers = {**t._headers, "Content-Type": "application/json"}
        request = httpx.Request(method, t._url(path), content=content, headers=headers, extensions={"timeout": timeout})
        try:
            response = t._http.send(request)
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"cannot reach the Ripple server at {t.url} ({type(exc).__name__}: {exc or 'no answer'}); "
                "start it with `ripple server start` or check RIPPLE_SERVER_URL"
            ) from exc
        if response.status_code >= 400:
            raise error_of(response)
        return DeploymentRecord.model_validate_json(response.content)
