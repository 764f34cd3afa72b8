"""Users, the caller (``/me``) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import TokenRecord, UserRecord
from rippleops.server.auth import CallerDep, ServicesDep
from rippleops.server.routers.paths import API
from rippleops.server.schemas import ERROR_RESPONSES, TokenCreate, UserCreate

router = APIRouter(prefix=API, responses=ERROR_RESPONSES)


@router.get("/users", response_model=list[UserRecord], tags=["users"])
async def list_users(caller: CallerDep, services: ServicesDep) -> list[UserRecord]:
    return await caller.run(services.access.list_users)


@router.post("/users", response_model=UserRecord, status_code=201, tags=["users"])
async def create_user(body: UserCreate, caller: CallerDep, services: ServicesDep) -> UserRecord:
    """A new user (instance admins); give them a role with ``PUT .../members/{user}``."""
    return await caller.run(services.access.create_user, body.name, is_admin=body.is_admin)


@router.get("/me", response_model=UserRecord, tags=["users"])
async def whoami(caller: CallerDep, services: ServicesDep) -> UserRecord:
    return await caller.run(services.access.whoami)


@router.get("/tokens", response_model=list[TokenRecord], tags=["tokens"])
async def list_tokens(caller: CallerDep, services: ServicesDep, user: str | None = None) -> list[TokenRecord]:
    """Your tokens (any user's for instance admins); never their values."""
    return await caller.run(services.access.list_tokens, user=user)


@router.post("/tokens", response_model=TokenRecord, status_code=201, tags=["tokens"])
async def create_token(body: TokenCreate, caller: CallerDep, services: ServicesDep) -> TokenRecord:
    """A new token; its value is in ``token`` this once and never again."""
    return await caller.run(services.access.create_token, user=body.user, name=body.name, expires_at=body.expires_at)


@router.delete("/tokens/{token_id}", response_model=TokenRecord, tags=["tokens"])
async def revoke_token(token_id: int, caller: CallerDep, services: ServicesDep) -> TokenRecord:
    return await caller.run(services.access.revoke_token, token_id)
