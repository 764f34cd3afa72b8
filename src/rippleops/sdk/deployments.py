"""``rp.deployments``: deploy app versions to environments and targets, promote, inspect, stop.

>>> d = rp.deployments.create("support-bot@staging", env="staging", target="local", port=8761)  # doctest: +SKIP
>>> d.status, d.health, d.endpoint                                                             # doctest: +SKIP
('running', 'ok', 'http://127.0.0.1:8761/v1')
>>> rp.deployments.promote("support-bot", source="staging", to="production")                  # doctest: +SKIP
>>> rp.deployments.create("support-bot@production", env="production", target="k8s").write("deploy/k8s")  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rippleops.deploy.files import write_folder
from rippleops.domain.deployments import DeploymentRecord
from rippleops.errors import InvalidError
from rippleops.sdk.deployment_transport import DeploymentTransport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client


class Deployments:
    """Deployments of the client's project (``deployment/<app>-<env>`` assets)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> DeploymentTransport:
        return cast(DeploymentTransport, self._client.transport)

    def create(
        self,
        app: str,
        *,
        env: str,
        target: str = "local",
        port: int | None = None,
        replicas: int | None = None,
        image: str | None = None,
        resources: dict[str, Any] | None = None,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
        project: str | None = None,
    ) -> DeploymentRecord:
        """Deploy ``app`` (``support-bot@staging``, ``app/support-bot:3`` ...) to ``env``: moves
        the app's label ``env`` to the exact version, registers ``deployment/<app>-<env>`` and
        starts it (``local``) or renders its files (``docker``, ``k8s``, ``ray-serve``: on
        the record's ``files``; write them with :func:`write_files`)."""
        options: dict[str, Any] = {"env": env, "target": target, "port": port, "replicas": replicas, "image": image}
        options |= {"resources": resources, "min_replicas": min_replicas, "max_replicas": max_replicas}
        given = {k: v for k, v in options.items() if v is not None}
        return self._t.create_deployment(self._client.project_of(project), _app_ref(app), given)

    def get(self, name: str, *, project: str | None = None) -> DeploymentRecord:
        """A deployment (``support-bot-staging``) and, if local, how it runs now (status, health, pid, restarts)."""
        return self._t.get_deployment(self._client.project_of(project), _name(name))

    status = get

    def list(self, *, project: str | None = None) -> builtins.list[DeploymentRecord]:
        return self._t.list_deployments(self._client.project_of(project))

    def files(self, name: str, *, project: str | None = None) -> DeploymentRecord:
        """A template deployment with its files rendered again (on ``.files``)."""
        return self._t.render_deployment(self._client.project_of(project), _name(name))

    def stop(self, name: str, *, project: str | None = None) -> DeploymentRecord:
        """Stop a local deployment (its supervisor and the served process)."""
        return self._t.stop_deployment(self._client.project_of(project), _name(name))

    def promote(self, app: str, *, source: str, to: str, project: str | None = None) -> DeploymentRecord:
        """Move ``to``'s label of ``app`` to the version ``source`` runs, and redeploy ``to``."""
        return self._t.promote_deployment(self._client.project_of(project), _app_ref(app), source, to)


def write_files(record: DeploymentRecord, out: str | Path | None = None) -> Path:
    """Write a rendered deployment's files into ``out`` (default ``./deploy/<name>/``),
    atomically: a temp folder renamed into place."""
    if not record.files:
        raise InvalidError(f"{record.ref} ({record.target}) has no files to write")
    return write_folder(record.files, Path(out) if out is not None else Path("deploy") / record.name)


def _app_ref(app: str) -> str:
    return app if app.startswith("app/") else f"app/{app}"


def _name(name: str) -> str:
    return name.removeprefix("deployment/")
