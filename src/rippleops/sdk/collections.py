"""The SDK's collections besides prompts: ``rp.assets``, ``rp.audit``, ``rp.users``,
``rp.tokens``, ``rp.roles``, ``rp.secrets``, ``rp.projects``. Each is a thin, typed view
on the transport; no business rule lives here."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING

from rippleops.domain.records import (
    AssetRecord,
    AuditEventRecord,
    AuditVerifyRecord,
    LabelRecord,
    LineageRecord,
    MemberRecord,
    Page,
    ProjectRecord,
    SecretRecord,
    TokenRecord,
    UserRecord,
    VersionRecord,
)
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client


class _Collection:
    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def _p(self, project: str | None) -> str:
        return self._client.project_of(project)


class Assets(_Collection):
    """Any asset by ``kind/name``: list, show, versions, labels, lineage, metadata.

    >>> rp.assets.list(kind="prompt")          # doctest: +SKIP
    >>> rp.assets.lineage("prompt/answer:2")   # doctest: +SKIP
    """

    def page(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        project: str | None = None,
    ) -> Page:
        """One page of assets; pass ``page.next_cursor`` as ``cursor`` for the next."""
        page: Page = self._t.list_assets(
            self._p(project), kind=kind, tag=tag, label=label, search=search, limit=limit, cursor=cursor
        )
        page.items = [a if isinstance(a, AssetRecord) else AssetRecord.model_validate(a) for a in page.items]
        return page

    def list(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        search: str | None = None,
        project: str | None = None,
    ) -> builtins.list[AssetRecord]:
        """All matching assets (follows the pages)."""
        out: builtins.list[AssetRecord] = []
        cursor = None
        while True:
            page = self.page(kind=kind, tag=tag, label=label, search=search, limit=500, cursor=cursor, project=project)
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    def show(self, asset: str, *, project: str | None = None) -> AssetRecord:
        return self._t.show_asset(self._p(project), asset)

    def get(self, ref: str, *, project: str | None = None) -> VersionRecord:
        """One version of any kind: ``kind/name``, ``kind/name@label``, ``kind/name:N``."""
        return self._t.get_version(self._p(project), ref)

    def versions(self, asset: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._p(project), asset)

    def update(
        self,
        asset: str,
        *,
        description: str | None = None,
        add_tags: builtins.list[str] | None = None,
        remove_tags: builtins.list[str] | None = None,
        project: str | None = None,
    ) -> AssetRecord:
        """Edit description and tags; versions and hashes never change."""
        return self._t.update_asset(
            self._p(project), asset, description=description, add_tags=add_tags, remove_tags=remove_tags
        )

    def label(self, asset: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        return self._t.set_label(self._p(project), asset, label, version)

    def lineage(
        self, ref: str, *, direction: str = "both", depth: int = 50, project: str | None = None
    ) -> LineageRecord:
        """Upstream (what it was built from) and downstream (what was built from it)."""
        return self._t.lineage(self._p(project), ref, direction, depth)


class Audit(_Collection):
    """The audit log (instance admins).

    >>> rp.audit.verify().ok   # doctest: +SKIP
    True
    """

    def log(
        self,
        *,
        since: datetime | None = None,
        project: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEventRecord]:
        return self._t.audit_log(since=since, project=project, action=action, actor=actor, limit=limit)

    def verify(self) -> AuditVerifyRecord:
        return self._t.audit_verify()


class Projects(_Collection):
    def create(self, name: str, description: str = "") -> ProjectRecord:
        return self._t.create_project(name, description)

    def list(self) -> builtins.list[ProjectRecord]:
        return self._t.list_projects()


class Users(_Collection):
    def create(self, name: str, *, is_admin: bool = False) -> UserRecord:
        return self._t.create_user(name, is_admin=is_admin)

    def list(self) -> builtins.list[UserRecord]:
        return self._t.list_users()

    def me(self) -> UserRecord:
        return self._t.whoami()


class Tokens(_Collection):
    """API tokens: the value is shown once, in ``create(...).token``."""

    def create(self, *, user: str | None = None, name: str = "api", expires_at: datetime | None = None) -> TokenRecord:
        return self._t.create_token(user=user, name=name, expires_at=expires_at)

    def list(self, *, user: str | None = None) -> builtins.list[TokenRecord]:
        return self._t.list_tokens(user=user)

    def revoke(self, token_id: int) -> TokenRecord:
        return self._t.revoke_token(token_id)


class Roles(_Collection):
    """Project roles: viewer, annotator, engineer, admin."""

    def grant(self, user: str, role: str, *, project: str | None = None) -> MemberRecord:
        return self._t.grant_role(self._p(project), user, role)

    def revoke(self, user: str, *, project: str | None = None) -> MemberRecord:
        return self._t.revoke_role(self._p(project), user)

    def list(self, *, project: str | None = None) -> builtins.list[MemberRecord]:
        return self._t.list_members(self._p(project))


class Secrets(_Collection):
    """Encrypted provider secrets; values can be set, never read back through the SDK."""

    def set(self, name: str, value: str, *, project: str | None = None) -> SecretRecord:
        return self._t.set_secret(self._p(project), name, value)

    def list(self, *, project: str | None = None) -> builtins.list[SecretRecord]:
        return self._t.list_secrets(self._p(project))

    def delete(self, name: str, *, project: str | None = None) -> SecretRecord:
        return self._t.delete_secret(self._p(project), name)
