"""The REST API under ``/api/v1``, one router per area (project-scoped ones under
``/api/v1/projects/{project}``)."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.server.routers import (
    apps,
    assets,
    audit,
    datasets,
    deployments,
    embedders,
    evals,
    indexes,
    jobs,
    members,
    models,
    otlp,
    policies,
    projects,
    prompts,
    ripple,
    secrets,
    sweeps,
    traces,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    prompts.router,
    models.runs,
    models.router,
    assets.router,
    jobs.router,
    datasets.router,
    embedders.router,
    indexes.router,
    policies.router,
    members.router,
    secrets.router,
    projects.router,
    users.router,
    audit.router,
    otlp.router,
    traces.router,
    apps.router,
    apps.invoke_router,
    deployments.router,
    evals.suites,
    evals.router,
    sweeps.router,  # issue 6: knob sweeps
    ripple.router,  # issue 6: the ripple engine
)
