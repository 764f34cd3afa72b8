"""Users, the caller (``/me``) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from rippleops.domain.records import TokenRecord, UserRecord
from rippleops.server.auth import PrincipalDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES, TokenCreate, UserCreate

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/users", response_model=list[UserRecord], tags=["users"])
def list_users(principal: PrincipalDep, services: ServicesDep) -> list[UserRecord]:
    return services.access.list_users(principal)


@router.post("/users", response_model=UserRecord, status_code=201, tags=["users"])
def create_user(body: UserCreate, principal: PrincipalDep, services: ServicesDep) -> UserRecord:
    """A new user (instance admins); give them a role with ``PUT .../members/{user}``."""
    return services.access.create_user(principal, body.name, is_admin=body.is_admin)


@router.get("/me", response_model=UserRecord, tags=["users"])
def whoami(principal: PrincipalDep, services: ServicesDep) -> UserRecord:
    return services.access.whoami(principal)


@router.get("/tokens", response_model=list[TokenRecord], tags=["tokens"])
def list_tokens(principal: PrincipalDep, services: ServicesDep, user: str | None = None) -> list[TokenRecord]:
    """Your tokens (any user's for instance admins); never their values."""
    return services.access.list_tokens(principal, user=user)


@router.post("/tokens", response_model=TokenRecord, status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, principal: PrincipalDep, services: ServicesDep) -> TokenRecord:
    """A new token; its value is in ``token`` this once and never again."""
    return services.access.create_token(principal, user=body.user, name=body.name, expires_at=body.expires_at)


@router.delete("/tokens/{token_id}", response_model=TokenRecord, tags=["tokens"])
def revoke_token(token_id: int, principal: PrincipalDep, services: ServicesDep) -> TokenRecord:
    return services.access.revoke_token(principal, token_id)
