"""Request bodies (and the few responses that are not records of :mod:`rippleops.domain.records`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RenderRequest(Body):
    variables: dict[str, Any] = Field(default_factory=dict, description="values for the prompt's variables")


class RenderResult(BaseModel):
    output: str | list[dict[str, Any]] = Field(description="a string (text prompt) or a message list (chat prompt)")


class AssetUpdate(Body):
    description: str | None = None
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)


class LabelMove(Body):
    version: int | str = Field(description="a version number (3), `:3`, or `@staging` to copy another label")


class RoleGrant(Body):
    role: str = Field(description="viewer, annotator, engineer or admin")


class SecretValue(Body):
    value: str = Field(description="the secret; stored encrypted and never returned")


class ProjectCreate(Body):
    name: str
    description: str = ""


class UserCreate(Body):
    name: str
    is_admin: bool = False


class TokenCreate(Body):
    user: str | None = Field(default=None, description="whose token (instance admins only); default: yours")
    name: str = "api"
    expires_at: datetime | None = None


class JobSubmit(Body):
    kind: str = Field(description="the job kind, such as prompt.import")
    params: dict[str, Any] = Field(default_factory=dict, description='its parameters, e.g. {"path": "/srv/prompts"}')


class Health(BaseModel):
    status: str = Field(description="ok or unavailable")
    version: str = Field(description="Ripple's version")
    revision: str | None = Field(default=None, description="the database schema's migration revision")
    error: dict[str, Any] | None = None


class ErrorDetail(BaseModel):
    type: str = Field(description="the error class, e.g. NotFoundError")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "no token, or an unknown, expired or revoked one"),
        (403, "the caller's role does not allow this"),
        (404, "no such project, asset, version or label"),
        (422, "invalid input"),
    )
}
