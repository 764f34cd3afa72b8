"""Who may do what: authentication by token, and :func:`AccessService.authorize`, the one
place every request of every interface is authorised. Also users, tokens and roles.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal, Role, allows, needed_role
from rippleops.domain.records import MemberRecord, TokenRecord, UserRecord
from rippleops.domain.refs import validate_name
from rippleops.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
)
from rippleops.services import audit
from rippleops.store import queries
from rippleops.store.db import Database
from rippleops.store.models import Membership, Project, Token, User
from rippleops.store.models.base import utcnow

TOKEN_PREFIX = "rpl_"
#: How long the serving hot path may reuse a token check or an authorisation. Changes made
#: through this process (revoking a token, granting or revoking a role) clear the cache at
#: once; changes made by another process apply within this many seconds.
DECISION_TTL_S = 1.0
_DECISION_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """The project a request was authorised in."""

    id: int
    name: str


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain sha256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None


class AccessService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._decisions: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._decisions_lock = threading.Lock()

    # -- authentication and authorisation ----------------------------------------------

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise UnauthenticatedError(
                "no API token given; pass --token / RIPPLE_TOKEN (create one with `ripple token create`)"
            )
        with self.db.reading() as s:
            row = s.execute(queries.TOKEN_USER, {"token_hash": hash_token(token)}).first()
        if row is None:
            raise UnauthenticatedError(
                "the API token is not known; check RIPPLE_TOKEN or create one with `ripple token create`"
            )
        prefix, revoked_at, expires_at, user_id, name, is_admin, is_active = row
        if revoked_at is not None:
            raise UnauthenticatedError(
                f"the API token {prefix}... was revoked; create a new one with `ripple token create`"
            )
        if expires_at is not None and _aware(expires_at) <= utcnow():
            raise UnauthenticatedError(
                f"the API token {prefix}... expired at {expires_at:%Y-%m-%d %H:%M}Z; create a new one"
            )
        if not is_active:
            raise UnauthenticatedError(f"user {name} is deactivated")
        return Principal(user_id, name, bool(is_admin))

    def authenticate_cached(self, token: str | None) -> Principal:
        """:meth:`authenticate`, reusing a success for :data:`DECISION_TTL_S` (the serving hot
        path: one request of an app should not cost a token query). Failures are not kept."""
        key = ("token", hash_token(token)) if token else None
        hit = self._recall(key) if key else None
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        principal = self.authenticate(token)
        self._remember(key, principal)
        return principal

    def authorize_cached(self, principal: Principal, project: str, action: Action) -> ProjectRef:
        """:meth:`authorize` in a session of its own, reusing an allowed decision for
        :data:`DECISION_TTL_S` (refusals are not kept: they are asked again each time)."""
        key = ("authz", principal.user_id, principal.is_admin, project, action)
        hit = self._recall(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        with self.db.reading() as s:
            proj = self.authorize(s, principal, project, action)
        self._remember(key, proj)
        return proj

    def local_admin_cached(self) -> Principal:
        """:meth:`local_admin`, reused for :data:`DECISION_TTL_S` (a loopback server without auth)."""
        hit = self._recall(("local_admin",))
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        principal = self.local_admin()
        self._remember(("local_admin",), principal)
        return principal

    def forget_decisions(self) -> None:
        """Drop every cached token check and authorisation (after a change of access)."""
        with self._decisions_lock:
            self._decisions.clear()

    def _recall(self, key: tuple[Any, ...]) -> Any | None:
        with self._decisions_lock:
            hit = self._decisions.get(key)
        if hit is None or time.monotonic() - hit[0] >= DECISION_TTL_S:
            return None
        return hit[1]

    def _remember(self, key: tuple[Any, ...] | None, value: Any) -> None:
        if key is None:
            return
        with self._decisions_lock:
            if len(self._decisions) >= _DECISION_CACHE_SIZE:
                self._decisions.clear()
            self._decisions[key] = (time.monotonic(), value)

    def local_admin(self) -> Principal:
        """The single local admin of a loopback server without auth (DESIGN "Security"):
        the first active instance admin, by id."""
        with self.db.reading() as s:
            user = s.execute(
                select(User).where(User.is_admin.is_(True), User.is_active.is_(True)).order_by(User.id).limit(1)
            ).scalar_one_or_none()
            if user is None:
                raise UnauthenticatedError("there is no active admin yet; run `ripple init`")
            return Principal(user.id, user.name, True)

    def authorize(self, session: Session, principal: Principal, project: str, action: Action) -> ProjectRef:
        """Return the project if ``principal`` may do ``action`` in it, else raise.

        The one place every request of every interface is authorised (one query)."""
        row = session.execute(queries.PROJECT_ROLE, {"project": project, "user_id": principal.user_id}).first()
        if row is None:
            raise NotFoundError(f"project {project!r} does not exist; create it with `ripple project create {project}`")
        proj = ProjectRef(row[0], project)
        if principal.is_admin:
            return proj
        role = row[1]
        if not allows(Role(role) if role else None, action):
            have = f"role {role}" if role else "no role"
            need = needed_role(action).value
            raise ForbiddenError(
                f"{principal.name} has {have} in project {project!r}; {action.value} needs {need} "
                f"(an admin can run `ripple role grant {principal.name} {need} --project {project}`)"
            )
        return proj

    # -- users --------------------------------------------------------------------------

    def create_user(self, principal: Principal, name: str, *, is_admin: bool = False) -> UserRecord:
        _instance_admin(principal, "create users")
        validate_name(name, "user name")

        def work(s: Session) -> UserRecord:
            if s.execute(select(User).where(User.name == name)).scalar_one_or_none():
                raise ConflictError(f"user {name!r} already exists")
            user = User(name=name, is_admin=is_admin, is_active=True)
            s.add(user)
            s.flush()
            audit.record(s, principal.name, "user.create", f"user/{name}", after={"is_admin": is_admin})
            return _user_record(s, user)

        return self.db.write(work)

    def bootstrap_admin(self, name: str) -> tuple[UserRecord, str] | None:
        """First admin of a new home (``ripple init``); None when users already exist."""

        def work(s: Session) -> tuple[UserRecord, str] | None:
            if s.execute(select(User.id).limit(1)).first() is not None:
                return None
            user = User(name=name, is_admin=True, is_active=True)
            s.add(user)
            s.flush()
            token = new_token()
            s.add(Token(user_id=user.id, name="init", prefix=token[:12], token_hash=hash_token(token)))
            for proj in s.execute(select(Project)).scalars():
                s.add(Membership(project_id=proj.id, user_id=user.id, role=Role.ADMIN.value))
            audit.record(s, name, "user.bootstrap", f"user/{name}", after={"is_admin": True})
            return _user_record(s, user), token

        return self.db.write(work)

    def list_users(self, principal: Principal) -> list[UserRecord]:
        _instance_admin(principal, "list users")
        with self.db.reading() as s:
            return [_user_record(s, u) for u in s.execute(select(User).order_by(User.name)).scalars()]

    def whoami(self, principal: Principal) -> UserRecord:
        with self.db.reading() as s:
            user = s.get(User, principal.user_id)
            if user is None:
                raise NotFoundError(f"user {principal.name} no longer exists")
            return _user_record(s, user)

    # -- tokens -------------------------------------------------------------------------

    def create_token(
        self, principal: Principal, *, user: str | None = None, name: str = "api", expires_at: datetime | None = None
    ) -> TokenRecord:
        """A new token, shown once in ``TokenRecord.token``; only its hash is stored."""
        owner = user or principal.name
        if owner != principal.name:
            _instance_admin(principal, f"create tokens for {owner}")
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidError("the expiry is in the past; give a future time or a duration such as 30d")

        def work(s: Session) -> TokenRecord:
            u = _find_user(s, owner)
            token = new_token()
            row = Token(user_id=u.id, name=name, prefix=token[:12], token_hash=hash_token(token), expires_at=expires_at)
            s.add(row)
            s.flush()
            audit.record(s, principal.name, "token.create", f"token/{row.id}", after={"user": owner, "name": name})
            return _token_record(row, u.name, token)

        return self.db.write(work)

    def list_tokens(self, principal: Principal, *, user: str | None = None) -> list[TokenRecord]:
        with self.db.reading() as s:
            q = select(Token).join(User).order_by(Token.id)
            if not principal.is_admin:
                q = q.where(Token.user_id == principal.user_id)
            elif user is not None:
                q = q.where(User.name == user)
            return [_token_record(t, t.user.name) for t in s.execute(q).scalars()]

    def revoke_token(self, principal: Principal, token_id: int) -> TokenRecord:
        def work(s: Session) -> TokenRecord:
            row = s.get(Token, token_id)
            if row is None or (row.user_id != principal.user_id and not principal.is_admin):
                raise NotFoundError(f"token {token_id} does not exist; list yours with `ripple token list`")
            if row.revoked_at is not None:
                raise ConflictError(f"token {token_id} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M}Z")
            row.revoked_at = utcnow()
            audit.record(
                s, principal.name, "token.revoke", f"token/{row.id}", before={"revoked": False}, after={"revoked": True}
            )
            return _token_record(row, row.user.name)

        try:
            return self.db.write(work)
        finally:
            self.forget_decisions()  # a change of access applies at once in this process

    # -- roles --------------------------------------------------------------------------

    def grant(self, principal: Principal, project: str, user: str, role: str) -> MemberRecord:
        r = parse_role(role)

        def work(s: Session) -> MemberRecord:
            proj = self.authorize(s, principal, project, Action.ADMIN)
            u = _find_user(s, user)
            m = s.get(Membership, (proj.id, u.id))
            before = m.role if m else None
            if m is None:
                s.add(Membership(project_id=proj.id, user_id=u.id, role=r.value))
            else:
                m.role = r.value
            audit.record(s, principal.name, "role.grant", f"user/{user}", project=project, before=before, after=r.value)
            return MemberRecord(project=project, user=user, role=r.value)

        try:
            return self.db.write(work)
        finally:
            self.forget_decisions()  # a change of access applies at once in this process

    def revoke(self, principal: Principal, project: str, user: str) -> MemberRecord:
        def work(s: Session) -> MemberRecord:
            proj = self.authorize(s, principal, project, Action.ADMIN)
            u = _find_user(s, user)
            m = s.get(Membership, (proj.id, u.id))
            if m is None:
                raise NotFoundError(f"{user} has no role in project {project!r}")
            s.delete(m)
            audit.record(s, principal.name, "role.revoke", f"user/{user}", project=project, before=m.role)
            return MemberRecord(project=project, user=user, role=m.role)

        try:
            return self.db.write(work)
        finally:
            self.forget_decisions()  # a change of access applies at once in this process

    def members(self, principal: Principal, project: str) -> list[MemberRecord]:
        with self.db.reading() as s:
            proj = self.authorize(s, principal, project, Action.READ)
            rows = s.execute(
                select(User.name, Membership.role)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.project_id == proj.id)
                .order_by(User.name)
            ).all()
            return [MemberRecord(project=project, user=n, role=r) for n, r in rows]


def _aware(value: datetime) -> datetime:
    """Core queries skip the ORM type that marks SQLite's naive datetimes as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _instance_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise ForbiddenError(f"{principal.name} cannot {what}: that needs an instance admin")


def _find_user(s: Session, name: str) -> User:
    u = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if u is None:
        raise NotFoundError(f"user {name!r} does not exist; create it with `ripple user create {name}`")
    return u


def _user_record(s: Session, u: User) -> UserRecord:
    roles: dict[str, str] = dict(
        s.execute(
            select(Project.name, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == u.id)
        ).all()
    )
    return UserRecord(name=u.name, is_admin=u.is_admin, is_active=u.is_active, created_at=u.created_at, roles=roles)


def _token_record(t: Token, user: str, token: str | None = None) -> TokenRecord:
    return TokenRecord(
        id=t.id,
        user=user,
        name=t.name,
        prefix=t.prefix,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        token=token,
    )
