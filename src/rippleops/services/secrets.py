"""Provider secrets, encrypted at rest with Fernet. Values go in and, for the services that
need them (model providers, later), come out; no interface ever prints one."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.records import SecretRecord
from rippleops.errors import InvalidError, NotFoundError, RippleError
from rippleops.services import audit
from rippleops.services.access import AccessService
from rippleops.store.db import Database
from rippleops.store.models import Secret
from rippleops.store.models.base import utcnow

_SECRET_NAME_HELP = "secret names are letters, digits and '_' (for example OPENAI_API_KEY)"
MAX_SECRET_BYTES = 64 * 1024


def load_key(key: str | None, key_file: Path) -> bytes:
    """The Fernet key from RIPPLE_SECRET_KEY, or a 0600 file in the home made on first use."""
    if key:
        return key.encode()
    if key_file.is_file():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    new = Fernet.generate_key()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(new)
    return new


class SecretService:
    def __init__(self, db: Database, access: AccessService, key: str | None, key_file: Path) -> None:
        self.db = db
        self.access = access
        self._key, self._key_file = key, key_file
        self._fernet: Fernet | None = None

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            try:
                self._fernet = Fernet(load_key(self._key, self._key_file))
            except ValueError as exc:
                raise InvalidError("RIPPLE_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from exc
        return self._fernet

    def set(self, principal: Principal, project: str, name: str, value: str) -> SecretRecord:
        if not name or not name.replace("_", "").isalnum() or len(name) > 100:
            raise InvalidError(f"secret name {name!r} is not valid; {_SECRET_NAME_HELP}")
        if not value:
            raise InvalidError("the secret value is empty")
        if len(value.encode()) > MAX_SECRET_BYTES:
            raise InvalidError(f"the secret value is over {MAX_SECRET_BYTES} bytes")
        token = self.fernet.encrypt(value.encode()).decode()

        def work(s: Session) -> SecretRecord:
            proj = self.access.authorize(s, principal, project, Action.ADMIN)
            row = s.execute(
                select(Secret).where(Secret.project_id == proj.id, Secret.name == name)
            ).scalar_one_or_none()
            action = "secret.update" if row else "secret.create"
            if row is None:
                row = Secret(project_id=proj.id, name=name, ciphertext=token, updated_by=principal.name)
                s.add(row)
            else:
                row.ciphertext, row.updated_at, row.updated_by = token, utcnow(), principal.name
            s.flush()
            # The audit log names the secret, never its value.
            audit.record(s, principal.name, action, f"secret/{name}", project=project)
            return _record(row, project)

        return self.db.write(work)

    def list(self, principal: Principal, project: str) -> list[SecretRecord]:
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.ADMIN)
            rows = s.execute(select(Secret).where(Secret.project_id == proj.id).order_by(Secret.name)).scalars()
            return [_record(r, project) for r in rows]

    def delete(self, principal: Principal, project: str, name: str) -> SecretRecord:
        def work(s: Session) -> SecretRecord:
            proj = self.access.authorize(s, principal, project, Action.ADMIN)
            row = s.execute(
                select(Secret).where(Secret.project_id == proj.id, Secret.name == name)
            ).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"secret {name!r} does not exist in project {project!r}")
            rec = _record(row, project)
            s.delete(row)
            audit.record(s, principal.name, "secret.delete", f"secret/{name}", project=project)
            return rec

        return self.db.write(work)

    def reveal(self, principal: Principal, project: str, name: str) -> str:
        """The plain value, for services that call providers; never shown by an interface."""
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            row = s.execute(
                select(Secret).where(Secret.project_id == proj.id, Secret.name == name)
            ).scalar_one_or_none()
            if row is None:
                raise NotFoundError(
                    f"secret {name!r} does not exist in project {project!r}; set it with `ripple secret set {name}`"
                )
            try:
                return self.fernet.decrypt(row.ciphertext.encode()).decode()
            except InvalidToken as exc:
                raise RippleError(
                    f"secret {name!r} cannot be decrypted with this key; was RIPPLE_SECRET_KEY changed?"
                ) from exc


def _record(r: Secret, project: str) -> SecretRecord:
    return SecretRecord(
        project=project, name=r.name, created_at=r.created_at, updated_at=r.updated_at, updated_by=r.updated_by
    )
