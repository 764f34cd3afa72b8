"""Deployments (``deployment/*`` assets): deploy an app version to an environment on a
target, promote between environments, and run, inspect and stop local deployments.

Deploying ``app/X@staging`` (any reference) to env ``E``:

1. resolves the app to its exact version and points the app's label ``E`` at it (the label
   service enforces that only admins move ``production``; nothing else happens if refused);
2. registers ``deployment/X-E`` with the exact app version, env, target, replicas, port,
   image and resources as content and the app version as its input (role ``app``);
3. starts it (``local``: a supervised ``ripple serve`` process, restarted on the new version
   if one runs) or renders its files (``docker``, ``k8s``, ``ray-serve``), audited as
   ``deployment.start`` / ``deployment.render``.

``promote`` moves the ``to`` label to the app version the ``from`` deployment runs and
deploys it again to ``to`` (``deployment.promote`` in the audit log, besides the label move
and the new version).
"""

from __future__ import annotations

import builtins
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.deploy import local, render
from rippleops.domain.access import Action, Principal, label_action
from rippleops.domain.deployments import (
    DEFAULT_IMAGE_PREFIX,
    KIND,
    LOCAL,
    DeploymentRecord,
    DeploymentSpec,
    LocalState,
    deployment_name,
    parse_deployment_spec,
    validate_env,
)
from rippleops.domain.records import VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services import audit
from rippleops.services.assets import InputSpec

if TYPE_CHECKING:
    from rippleops.services import Services

APP = "app"
# the pip extras a part of an app needs where it is served
EXTRAS_BY_KIND = {"index": ("index", "embed"), "embedder": ("embed",), "policy": ("guard",)}


class DeploymentService:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- deploy ---------------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        project: str,
        app: str,
        *,
        env: str,
        target: str,
        port: int | None = None,
        replicas: int | None = None,
        image: str | None = None,
        resources: dict[str, Any] | None = None,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
    ) -> DeploymentRecord:
        """Deploy ``app`` (any reference) to ``env`` on ``target``; see the module docstring."""
        validate_env(env)
        app_record = self.s.assets.get(principal, project, app, APP)
        fields: dict[str, Any] = {"app": app_record.ref, "env": env, "target": target}
        given = {"port": port, "replicas": replicas, "image": image, "resources": resources}
        given |= {"min_replicas": min_replicas, "max_replicas": max_replicas}
        fields.update({k: v for k, v in given.items() if v is not None})
        spec = parse_deployment_spec(fields)
        self.s.labels.set(principal, project, f"app/{app_record.name}", env, app_record.version)
        version = self.s.assets.register(
            principal, project, KIND, spec.name, spec.content(),
            inputs=[InputSpec(app_record.ref, "app")],
            message=f"deploy {app_record.ref} to {env} ({target})",
        )  # fmt: skip
        return self._run(principal, project, spec, version, app_record)

    def promote(self, principal: Principal, project: str, app: str, *, source: str, to: str) -> DeploymentRecord:
        """Move ``to``'s label to the app version the ``source`` deployment runs and deploy it
        to ``to`` (with the ``to`` deployment's target and settings, else the source's)."""
        name = parse_ref(app, APP).name
        validate_env(source)
        validate_env(to)
        if source == to:
            raise InvalidError(f"promote from {source!r} to itself changes nothing; give two environments")
        src = self._latest(principal, project, deployment_name(name, source))
        try:
            dst: VersionRecord | None = self._latest(principal, project, deployment_name(name, to))
        except NotFoundError:
            dst = None
        base = dict((dst or src).content)
        before = dst.content["app"] if dst is not None else None
        port = base.get("port")
        if dst is None and base["target"] == LOCAL and port is not None:
            port = local.next_free_port("127.0.0.1", int(port))  # the source still runs on its own port
        record = self.create(
            principal, project, src.content["app"], env=to, target=base["target"], port=port,
            replicas=base.get("replicas"), image=None if dst is None else _own_image(base),
            resources=base.get("resources"), min_replicas=base.get("min_replicas"),
            max_replicas=base.get("max_replicas"),
        )  # fmt: skip
        self._audit(
            principal, project, "deployment.promote", record.ref, label_action(to),
            before={"env": to, "app": before}, after={"env": to, "app": record.app, "from": src.ref},
        )  # fmt: skip
        return record

    # -- read -----------------------------------------------------------------------------------

    def get(self, principal: Principal, project: str, name: str) -> DeploymentRecord:
        """The latest version of ``deployment/name`` and, for a local one, how it runs now."""
        version = self._latest(principal, project, name)
        return self._record(project, version)

    def list(self, principal: Principal, project: str) -> builtins.list[DeploymentRecord]:
        out: builtins.list[DeploymentRecord] = []
        cursor: str | None = None
        while True:
            page = self.s.assets.list(principal, project, kind=KIND, limit=500, cursor=cursor)
            for asset in page.items:
                out.append(self.get(principal, project, asset.name))
            cursor = page.next_cursor
            if cursor is None:
                return out

    def render(self, principal: Principal, project: str, name: str) -> DeploymentRecord:
        """The files of a template deployment's latest version, rendered again."""
        version = self._latest(principal, project, name)
        spec = parse_deployment_spec(version.content)
        if spec.target == LOCAL:
            raise InvalidError(f"deployment/{name} runs locally; it has no files (see `ripple deploy status {name}`)")
        app_record = self.s.assets.get(principal, project, spec.app, APP)
        return self._record(project, version, files=self._files(principal, project, spec, version, app_record))

    # -- local processes ------------------------------------------------------------------------

    def stop(self, principal: Principal, project: str, name: str) -> DeploymentRecord:
        """Stop a local deployment's supervisor and served process (audited)."""
        version = self._latest(principal, project, name)
        spec = parse_deployment_spec(version.content)
        if spec.target != LOCAL:
            raise InvalidError(
                f"deployment/{name} is a {spec.target} deployment: stop it where it runs (its README says how)"
            )
        self._audit(principal, project, "deployment.stop", version.ref, label_action(spec.env), after={"app": spec.app})
        path = self._state_path(project, spec.name)
        if local.read_state(path) is not None:
            local.stop(path)
        return self._record(project, version)

    # -- the parts ------------------------------------------------------------------------------

    def _run(
        self, principal: Principal, project: str, spec: DeploymentSpec, version: VersionRecord, app: VersionRecord
    ) -> DeploymentRecord:
        if spec.target != LOCAL:
            files = self._files(principal, project, spec, version, app)
            self._audit(principal, project, "deployment.render", version.ref, Action.WRITE,
                        after={"app": spec.app, "target": spec.target, "files": sorted(files)})  # fmt: skip
            return self._record(project, version, files=files)
        self._audit(principal, project, "deployment.start", version.ref, Action.WRITE,
                    after={"app": spec.app, "env": spec.env, "port": spec.port})  # fmt: skip
        path = self._state_path(project, spec.name)
        if local.running(local.read_state(path)):
            local.stop(path)  # a redeploy: the new version replaces the old one
        state = LocalState(
            name=spec.name,
            project=project,
            deployment=version.ref,
            app=spec.app,
            port=spec.port,
            log=str(path.with_suffix(".log")),
            command=self._serve_command(project, spec),
        )
        local.start(path, state, self._env())
        return self._record(project, version)

    def _files(
        self, principal: Principal, project: str, spec: DeploymentSpec, version: VersionRecord, app: VersionRecord
    ) -> dict[str, str]:
        extras: set[str] = set()
        local_model = False
        for inp in app.inputs:
            kind = inp.resolved.split("/", 1)[0]
            extras.update(EXTRAS_BY_KIND.get(kind, ()))
            if kind == "model":
                model = self.s.assets.get(principal, project, inp.resolved, "model")
                if model.content.get("provider") == "local":
                    extras.add("llm")
                    local_model = True
        return render.render(spec, project=project, deployment_ref=version.ref, extras=sorted(extras),
                             local_model=local_model)  # fmt: skip

    @staticmethod
    def _serve_command(project: str, spec: DeploymentSpec) -> builtins.list[str]:
        return [sys.executable, "-m", "rippleops", "serve", spec.app, "--host", "127.0.0.1",
                "--port", str(spec.port), "--project", project]  # fmt: skip

    def _env(self) -> dict[str, str]:
        """The served process's environment: this one's, with the home's settings passed through."""
        st = self.s.settings
        ripple = {
            "RIPPLE_HOME": str(st.home_path),
            "RIPPLE_DATABASE_URL": st.resolved_database_url,
            "RIPPLE_BLOB_URL": st.resolved_blob_url,
            "RIPPLE_VECTOR_URL": st.resolved_vector_url,
            "RIPPLE_AUTH": st.auth,
            "RIPPLE_MAX_PAYLOAD_BYTES": str(st.max_payload_bytes),
        }
        if st.blob_options:
            ripple["RIPPLE_BLOB_OPTIONS"] = _json(st.blob_options)
        if st.vector_options:
            ripple["RIPPLE_VECTOR_OPTIONS"] = _json(st.vector_options)
        if st.secret_key:
            ripple["RIPPLE_SECRET_KEY"] = st.secret_key
        if st.llm_threads:
            ripple["RIPPLE_LLM_THREADS"] = str(st.llm_threads)
        if st.token:
            ripple["RIPPLE_TOKEN"] = st.token
        # the process environment is copied for the child (PATH, PYTHONPATH ...), not read as settings
        return local.child_env(os.environ, ripple)

    def _state_path(self, project: str, name: str) -> Path:
        return local.state_path(self.s.settings.home_path, project, name)

    def _latest(self, principal: Principal, project: str, name: str) -> VersionRecord:
        ref = parse_ref(name, KIND)
        try:
            return self.s.assets.get(principal, project, ref, KIND)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{exc.message}; deploy first with `ripple deploy app/APP@LABEL --env ENV --target TARGET`",
                details=exc.details,
            ) from exc

    def _audit(
        self, principal: Principal, project: str, action: str, target: str, needs: Action, *,
        before: Any = None, after: Any = None,
    ) -> None:  # fmt: skip
        def work(session: Any) -> None:
            self.s.access.authorize(session, principal, project, needs)
            audit.record(session, principal.name, action, target, project=project, before=before, after=after)

        self.s.db.write(work)

    def _record(self, project: str, version: VersionRecord, files: dict[str, str] | None = None) -> DeploymentRecord:
        c = version.content
        rec = DeploymentRecord(
            name=version.name, ref=version.ref, project=project, app=c["app"], env=c["env"], target=c["target"],
            replicas=c.get("replicas", 1), port=c.get("port", 0), image=c.get("image"),
            files=files or {}, created_at=version.created_at, created_by=version.created_by,
            status="rendered" if c["target"] != LOCAL else None,
        )  # fmt: skip
        if c["target"] != LOCAL:
            return rec
        state = local.read_state(self._state_path(project, version.name))
        if state is None:
            return rec.model_copy(update={"status": "not started", "health": "down"})
        alive = local.running(state)
        status = state.status if alive or state.status in ("failed", "stopped") else "dead"
        return rec.model_copy(
            update={
                "status": status,
                "health": local.health(state) if alive else "down",
                "endpoint": state.endpoint,
                "pid": state.child_pid if alive else None,
                "supervisor_pid": state.supervisor_pid if alive else None,
                "restarts": state.restarts,
                "last_exit": state.last_exit,
                "message": state.message
                if state.deployment == version.ref
                else f"runs {state.deployment}; {state.message}",
                "log": state.log,
            }
        )


def _own_image(content: dict[str, Any]) -> str | None:
    """The image a deployment named itself, unless it is the default name (which follows the app version)."""
    image = content.get("image")
    if image is None or str(image).startswith(DEFAULT_IMAGE_PREFIX + "/"):
        return None
    return str(image)


def _json(value: Any) -> str:
    return json.dumps(value)
