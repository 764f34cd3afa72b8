"""Users, tokens, roles and secrets in the service layer."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from rippleops.domain.access import Action, Principal
from rippleops.errors import ConflictError, ForbiddenError, InvalidError, UnauthenticatedError
from rippleops.services import Services
from rippleops.services.access import DECISION_TTL_S
from rippleops.settings import Settings
from rippleops.store.models import Secret, Token
from rippleops.store.models.base import utcnow


def _user(services: Services, admin: Principal, name: str, role: str | None) -> Principal:
    services.access.create_user(admin, name)
    if role:
        services.access.grant(admin, "default", name, role)
    token = services.access.create_token(admin, user=name).token
    assert token
    return services.access.authenticate(token)


def test_roles_allow_what_they_should(services: Services, admin: Principal) -> None:
    services.assets.register(admin, "default", "prompt", "answer", {"t": 1})
    viewer = _user(services, admin, "vera", "viewer")
    engineer = _user(services, admin, "erin", "engineer")
    outsider = _user(services, admin, "oscar", None)
    assert services.assets.get(viewer, "default", "prompt/answer").version == 1
    with pytest.raises(ForbiddenError, match=r"vera has role viewer.*needs engineer"):
        services.assets.register(viewer, "default", "prompt", "answer", {"t": 2})
    with pytest.raises(ForbiddenError, match="no role"):
        services.assets.get(outsider, "default", "prompt/answer")
    services.assets.register(engineer, "default", "prompt", "answer", {"t": 2})
    services.labels.set(engineer, "default", "prompt/answer", "staging", 2)
    with pytest.raises(ForbiddenError, match="needs admin"):
        services.labels.set(engineer, "default", "prompt/answer", "production", 2)
    with pytest.raises(ForbiddenError):
        services.access.grant(engineer, "default", "vera", "admin")
    with pytest.raises(ForbiddenError):
        services.audit.verify(engineer)
    with pytest.raises(InvalidError, match="unknown role"):
        services.access.grant(admin, "default", "vera", "wizard")


def test_tokens_are_hashed_revocable_and_expire(services: Services, admin: Principal) -> None:
    rec = services.access.create_token(admin, name="ci")
    assert rec.token and rec.token.startswith("rpl_")
    with services.db.engine.connect() as conn:
        stored = conn.execute(sa.select(Token.token_hash).where(Token.id == rec.id)).scalar_one()
    assert rec.token not in stored
    assert services.access.authenticate(rec.token).name == "alice"
    services.access.revoke_token(admin, rec.id)
    with pytest.raises(UnauthenticatedError, match="revoked"):
        services.access.authenticate(rec.token)
    with pytest.raises(ConflictError):
        services.access.revoke_token(admin, rec.id)
    short = services.access.create_token(admin, expires_at=utcnow() + timedelta(seconds=60))
    with services.db.engine.begin() as conn:
        conn.execute(sa.update(Token).where(Token.id == short.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(UnauthenticatedError, match="expired"):
        services.access.authenticate(short.token)
    with pytest.raises(UnauthenticatedError, match="not known"):
        services.access.authenticate("rpl_nope")


def test_secrets_are_encrypted_at_rest(services: Services, admin: Principal) -> None:
    services.secrets.set(admin, "default", "OPENAI_API_KEY", "sk-very-secret")
    with services.db.engine.connect() as conn:
        stored = conn.execute(sa.select(Secret.ciphertext)).scalar_one()
    assert "sk-very-secret" not in stored
    assert services.secrets.reveal(admin, "default", "OPENAI_API_KEY") == "sk-very-secret"
    assert [s.name for s in services.secrets.list(admin, "default")] == ["OPENAI_API_KEY"]
    events = services.audit.log(admin, action="secret")
    assert events and all("sk-very-secret" not in str(e.model_dump()) for e in events)
    assert (services.settings.secret_key_file.stat().st_mode & 0o777) == 0o600
    with pytest.raises(InvalidError):
        services.secrets.set(admin, "default", "bad name!", "x")


def test_the_serving_decision_cache_forgets_access_changes(
    services: Services, admin: Principal, settings: Settings
) -> None:
    # The hot path reuses a token check and an authorisation for at most DECISION_TTL_S; a
    # change made through the same services applies at once, one made elsewhere within the TTL.
    assert services.access.local_admin_cached() == services.access.local_admin() == admin
    viewer = _user(services, admin, "vera", "viewer")
    made = services.access.create_token(admin, user="vera")
    token = made.token
    assert token
    assert services.access.authenticate_cached(token).name == "vera"
    assert services.access.authorize_cached(viewer, "default", Action.READ).name == "default"
    services.access.revoke(admin, "default", "vera")  # in this process: at once
    with pytest.raises(ForbiddenError, match="no role"):
        services.access.authorize_cached(viewer, "default", Action.READ)
    with pytest.raises(ForbiddenError):  # refusals are not cached
        services.access.authorize_cached(viewer, "default", Action.READ)
    services.access.grant(admin, "default", "vera", "viewer")
    assert services.access.authorize_cached(viewer, "default", Action.READ).name == "default"
    assert services.access.authenticate_cached(token).name == "vera"
    other = Services(settings)  # another process's change: applies within the TTL
    try:
        other.access.revoke_token(admin, made.id)
        other.access.revoke(admin, "default", "vera")
    finally:
        other.close()
    assert services.access.authenticate_cached(token).name == "vera"  # still cached ...
    time.sleep(DECISION_TTL_S + 0.05)
    with pytest.raises(UnauthenticatedError, match="revoked"):  # ... then asked again
        services.access.authenticate_cached(token)
    with pytest.raises(ForbiddenError):
        services.access.authorize_cached(viewer, "default", Action.READ)
