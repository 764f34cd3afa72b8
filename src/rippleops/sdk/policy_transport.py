"""The policy operations of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` and :class:`~rippleops.sdk.remote.RemoteTransport`:
create and get ``policy/*`` versions, and check a text against one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rippleops.domain.guards import GuardResult
from rippleops.domain.records import VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.sdk._http import quote_part, ref_segment

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

KIND = "policy"


class EmbeddedPolicies:
    """Policy calls on the services (mixed into the embedded transport)."""

    def _pe(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def create_policy(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        t = self._pe()
        return t.services.policies.create(t.principal, project, name, spec)

    def get_policy(self, project: str, ref: str) -> VersionRecord:
        t = self._pe()
        return t.services.policies.get(t.principal, project, ref)

    def check_policy(
        self, project: str, ref: str, text: str, stage: str, context: dict[str, Any] | None
    ) -> GuardResult:
        t = self._pe()
        return t.services.policies.check(t.principal, project, ref, text, stage=stage, context=context)


class RemotePolicies:
    """Policy calls over HTTP (mixed into the remote transport)."""

    def _pr(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def _policy_path(self, project: str, ref: str) -> str:
        return f"{self._pr()._p(project)}/policies/{ref_segment(parse_ref(ref, KIND))}"

    def create_policy(self, project: str, name: str, spec: dict[str, Any]) -> VersionRecord:
        t = self._pr()
        return t._record(VersionRecord, "POST", f"{t._p(project)}/policies/{quote_part(name)}", body=spec)

    def get_policy(self, project: str, ref: str) -> VersionRecord:
        return self._pr()._record(VersionRecord, "GET", self._policy_path(project, ref))

    def check_policy(
        self, project: str, ref: str, text: str, stage: str, context: dict[str, Any] | None
    ) -> GuardResult:
        body = {"text": text, "stage": stage, "context": context}
        return self._pr()._record(GuardResult, "POST", self._policy_path(project, ref) + "/check", body=body)
