"""The REST API under ``/api/v1``, one router per area (project-scoped ones under
``/api/v1/projects/{project}``)."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.server.routers import assets, audit, jobs, members, projects, prompts, secrets, users

ROUTERS: tuple[APIRouter, ...] = (
    prompts.router,
    assets.router,
    jobs.router,
    members.router,
    secrets.router,
    projects.router,
    users.router,
    audit.router,
)
