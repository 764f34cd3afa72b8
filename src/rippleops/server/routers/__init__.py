"""The REST API under ``/api/v1``, one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.server.routers import assets, audit, members, projects, prompts, secrets, users

API_PREFIX = "/api/v1"
PROJECT_PREFIX = API_PREFIX + "/projects/{project}"

ROUTERS: tuple[tuple[str, APIRouter], ...] = (
    (PROJECT_PREFIX, prompts.router),
    (PROJECT_PREFIX, assets.router),
    (PROJECT_PREFIX, members.router),
    (PROJECT_PREFIX, secrets.router),
    (API_PREFIX, projects.router),
    (API_PREFIX, users.router),
    (API_PREFIX, audit.router),
)
