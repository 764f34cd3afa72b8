"""The platform server: :func:`create_app` builds the FastAPI app over one :class:`Services`.

>>> app = create_app()                      # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1")      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from rippleops import __version__
from rippleops.errors import RippleError
from rippleops.runtime.executor import LocalPoolExecutor
from rippleops.server import errors
from rippleops.server.errors import CatchAll, log
from rippleops.server.middleware import BodyLimit, HTTPMetrics, Metrics
from rippleops.server.routers import ROUTERS, datasets, openai_compat, otlp
from rippleops.server.schemas import Health
from rippleops.server.trace_metrics import TraceIngestCollector
from rippleops.services import Services
from rippleops.settings import Settings, get_settings

DESCRIPTION = (
    "Ripple's REST API. Send `Authorization: Bearer <token>` (create one with `ripple token create`); "
    "a loopback server without auth acts as the local admin when no token is sent. Errors are "
    '`{"error": {"type", "message", "details"}}` with the status of the error type.'
)


def create_app(settings: Settings | None = None, auth_required: bool | None = None) -> FastAPI:
    """The app over one :class:`Services`; migrations are applied when it starts.

    Auth is required when ``settings.auth == "required"`` or ``auth_required`` is true
    (``auth_required=False`` never relaxes what the settings require)."""
    settings = settings or get_settings()
    # the server runs jobs on its own pool; recovery repairs the jobs of a server that died
    services = Services(settings, check_schema=False, executor=LocalPoolExecutor(settings.job_workers))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.db.upgrade()
        lost = services.jobs.recover()
        if lost:
            log.warning("marked %d jobs failed whose process had stopped: %s", len(lost), lost)
        if settings.trace_spool:
            services.trace_ingest.open_spool()  # replays what a killed server had acknowledged
        try:
            yield
        finally:
            services.close()  # asks running jobs to stop first, writes the queued spans

    app = FastAPI(title="Ripple", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.services = services
    app.state.auth_required = settings.auth == "required" or bool(auth_required)
    app.state.metrics = metrics = HTTPMetrics.create()
    metrics.registry.register(TraceIngestCollector(services.trace_ingest))
    app.state.openai_catalog = openai_compat.ProjectApps(settings.project)  # /v1: every app of the project

    errors.install(app)
    # add_middleware puts each one outside the ones before it: Metrics sees every status,
    # the 500s of CatchAll and the 413s of BodyLimit included.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_payload_bytes,
        streamed=datasets.UPLOAD_PATH,
        limits={otlp.PATH: (settings.max_trace_payload_bytes, "RIPPLE_MAX_TRACE_PAYLOAD_BYTES")},
    )
    app.add_middleware(CatchAll)
    app.add_middleware(Metrics, metrics=metrics)

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(openai_compat.router)
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        response_model=Health,
        tags=["server"],
        responses={503: {"model": Health, "description": "the database cannot be used"}},
    )
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        tags=["server"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus metrics"}},
    )
    return app


def healthz(request: Request) -> JSONResponse:
    """Liveness and the database's schema revision; 503 when the database cannot be used.

    Unauthenticated, so a server that requires auth does not say why (the log does)."""
    services: Services = request.app.state.services
    try:
        services.db.check_current()
        revision = services.db.current_revision()
    except RippleError as exc:
        log.warning("health check failed: %s", exc.message)
        error = exc.to_dict()
        if request.app.state.auth_required:
            error = {"type": error["type"], "message": "the database cannot be used; see the server log", "details": {}}
        body = Health(status="unavailable", version=__version__, error=error)
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    return JSONResponse(Health(status="ok", version=__version__, revision=revision).model_dump(exclude_none=True))


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition: request counts and latencies by method, route and status, and
    the trace ingest's counters (``ripple_trace_*``)."""
    metrics: HTTPMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
