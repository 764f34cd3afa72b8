"""The lean serving process of ``ripple serve``: :func:`create_serving_app` builds an app
with only the OpenAI-compatible routes, ``/healthz`` and ``/metrics``, for a fixed set of
app versions resolved once (labels pinned at start) and warmed before the first request.

>>> app = create_serving_app(settings, ["app/support-bot@production"])   # doctest: +SKIP
>>> [s.describe() for s in app.state.served]                              # doctest: +SKIP
['app/support-bot:3 (production)']
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from rippleops import __version__
from rippleops.domain import openai_compat as oa
from rippleops.domain.access import Principal
from rippleops.domain.refs import Ref, parse_ref, validate_name
from rippleops.errors import InvalidError, NotFoundError, RippleError
from rippleops.server import errors
from rippleops.server.middleware import BodyLimit, HTTPMetrics, Metrics
from rippleops.server.routers import openai_compat
from rippleops.services import Services
from rippleops.settings import Settings

log = logging.getLogger("rippleops.serve")


@dataclass(frozen=True, slots=True)
class ServedApp:
    """One app version a lean server answers for, pinned when it started."""

    name: str
    version: int
    label: str | None  # the label it was resolved from, if any
    created: int  # the version's creation time (Unix seconds)
    model_id: str = ""  # the name listed by /v1/models

    @property
    def ref(self) -> str:
        return f"app/{self.name}:{self.version}"

    def describe(self) -> str:
        return self.ref + (f" ({self.label})" if self.label else "")

    def answers(self, ref: Ref) -> bool:
        if ref.name != self.name:
            return False
        if ref.version is not None:
            return ref.version == self.version
        return ref.label is None or ref.label == self.label


class PinnedApps:
    """The lean server's catalog: only the app versions it pinned, in one project."""

    def __init__(self, project: str, served: Sequence[ServedApp]) -> None:
        self.project = project
        self.served = tuple(served)

    def resolve(self, services: Services, principal: Principal, project: str, ref: Ref) -> str:
        if project != self.project:
            raise NotFoundError(
                f"this server serves apps of project {self.project!r}, not {project!r}; leave X-Ripple-Project out",
                details={"param": "model", "code": "model_not_found"},
            )
        return self._match(ref).ref  # the app service authorises the call itself

    def _match(self, ref: Ref) -> ServedApp:
        for app in self.served:
            if app.answers(ref):
                return app
        have = ", ".join(a.model_id for a in self.served)
        raise NotFoundError(
            f"the model {ref.text.removeprefix('app/')!r} is not served here; this server serves: {have}",
            details={"param": "model", "code": "model_not_found"},
        )

    def models(self, services: Services, principal: Principal, project: str) -> list[dict[str, Any]]:
        if self.served:
            services.assets.get(principal, self.project, self.served[0].ref, oa.APP)  # authorise
        return [oa.model_entry(a.model_id, a.created) for a in self.served if project == self.project]


def pin(services: Services, principal: Principal, project: str, refs: Sequence[str]) -> list[ServedApp]:
    """Resolve each app reference now (a label to the version it points at) and name each
    for ``/v1/models``: the bare name, or ``name@label`` / ``name:N`` when a name is served twice."""
    if not refs:
        raise InvalidError("name at least one app to serve, such as app/support-bot@production")
    pinned: list[tuple[Ref, ServedApp]] = []
    for text in refs:
        ref = parse_ref(text, oa.APP)
        record = services.assets.get(principal, project, ref, oa.APP)
        label = ref.label
        if ref.version is None and label is None:
            label = "latest"
        served = ServedApp(record.name, record.version, label, int(record.created_at.timestamp()))
        if any(p.ref == served.ref for _, p in pinned):
            continue
        pinned.append((ref, served))
    names = [s.name for _, s in pinned]
    out: list[ServedApp] = []
    for ref, s in pinned:
        if names.count(s.name) == 1:
            model_id = s.name
        elif ref.label is not None:
            model_id = f"{s.name}@{ref.label}"
        else:
            model_id = f"{s.name}:{s.version}"
        out.append(ServedApp(s.name, s.version, s.label, s.created, model_id))
    return out


def serving_principal(services: Services, settings: Settings) -> Principal:
    """Who resolves and warms the apps at start: ``RIPPLE_TOKEN``'s user, else the local admin."""
    if settings.token:
        return services.access.authenticate(settings.token)
    return services.access.local_admin()


def warm(services: Services, principal: Principal, project: str, served: Sequence[ServedApp]) -> None:
    """Load each app's parts now, so the first request is not slow: the app compiled (its
    prompts, models and guards), each local model's weights, each guard's models (embedders,
    classifiers, recognizers), each index's embedder (one embedding, not through the cache,
    so the model really runs) and its tables (one search in every mode the app uses)."""
    for app in served:
        compiled = services.apps.compiled(principal, project, app.ref)
        for ref in compiled.models:
            services.models.prepare(principal, project, ref, [{"role": "user", "content": "warm-up"}], [])
        for guard in compiled.guards.values():
            guard.warm()
        for inp in compiled.record.inputs:
            if inp.resolved.startswith("index/"):
                index = services.indexes.get(principal, project, inp.resolved)
                _, embedder = services.embedders.embedder(principal, project, index.embedder)
                embedder.embed(["warm-up"])
        for step in compiled.spec.steps:
            if step.kind == "retrieve":
                services.search.search(
                    principal, project, compiled.exact(step.fields["index"]), "warm-up", k=1, mode=step.fields["mode"]
                )
        log.info("warmed %s", app.describe())


def create_serving_app(
    settings: Settings,
    apps: Sequence[str],
    *,
    project: str | None = None,
    auth_required: bool | None = None,
    services: Services | None = None,
) -> FastAPI:
    """The lean app: the OpenAI routes for ``apps`` (resolved and warmed here, so a bad
    reference fails before the server binds), ``/healthz`` and ``/metrics``."""
    app = shell()
    attach(app, settings, apps, project=project, auth_required=auth_required, services=services)
    return app


def shell() -> FastAPI:
    """The routes without their state (picklable: what a Ray Serve replica receives)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if getattr(app.state, "owns_services", False):
                app.state.services.close()

    app = FastAPI(title="Ripple serve", version=__version__, lifespan=lifespan)
    app.include_router(openai_compat.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["server"])
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], tags=["server"], response_class=Response)
    errors.install(app)
    return app


def attach(
    app: FastAPI,
    settings: Settings,
    apps: Sequence[str],
    *,
    project: str | None = None,
    auth_required: bool | None = None,
    services: Services | None = None,
) -> None:
    """Resolve and warm ``apps`` and give ``app`` its state and middleware (before it serves)."""
    project = validate_name(project or settings.project, "project name")
    own = services is None
    services = services or Services(settings)
    try:
        principal = serving_principal(services, settings)
        served = pin(services, principal, project, apps)
        warm(services, principal, project, served)
    except BaseException:
        if own:
            services.close()
        raise
    app.description = "OpenAI-compatible chat completions for " + ", ".join(s.describe() for s in served)
    app.state.settings = settings
    app.state.services = services
    app.state.owns_services = own
    app.state.served = served
    app.state.openai_catalog = PinnedApps(project, served)
    app.state.auth_required = settings.auth == "required" or bool(auth_required)
    app.state.metrics = metrics = HTTPMetrics.create()
    # add_middleware puts each one outside the ones before it (as in server/app.py)
    app.add_middleware(BodyLimit, max_bytes=settings.max_payload_bytes)
    app.add_middleware(errors.CatchAll)
    app.add_middleware(Metrics, metrics=metrics)


def healthz(request: Request) -> JSONResponse:
    """Ready: the apps are resolved and their parts loaded (the server binds only then), and
    the database answers; 503 when it does not."""
    services: Services = request.app.state.services
    served = [s.describe() for s in request.app.state.served]
    try:
        services.db.check_current()
    except RippleError as exc:
        log.warning("health check failed: %s", exc.message)
        return JSONResponse({"status": "unavailable", "version": __version__, "apps": served}, status_code=503)
    return JSONResponse({"status": "ok", "version": __version__, "apps": served})


async def metrics_endpoint(request: Request) -> Response:
    metrics: HTTPMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
