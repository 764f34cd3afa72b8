"""The ripple engine's operations on both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` and :class:`~rippleops.sdk.remote.RemoteTransport`.

Remote: ``GET /api/v1/projects/{project}/impact?change=...``, ``GET .../stale``,
``POST .../applies`` (the job runs on the server; the client polls the apply until it ends)
and ``GET .../applies/{id}``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, cast

from rippleops.domain.records import ApplyRecord, JobWatcher, PlanRecord, StaleReport

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

POLL_S = 0.5


class RippleTransport(Protocol):
    """What ``rp.ripple`` needs of a transport."""

    def ripple_impact(self, project: str, change: str, to: int | None) -> PlanRecord: ...
    def ripple_stale(self, project: str, all: bool, kind: str | None) -> StaleReport: ...
    def ripple_apply(self, project: str, options: dict[str, Any], watch: JobWatcher | None) -> ApplyRecord: ...
    def ripple_get_apply(self, project: str, apply_id: int) -> ApplyRecord: ...


class EmbeddedRipple:
    def _e(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def ripple_impact(self, project: str, change: str, to: int | None) -> PlanRecord:
        t = self._e()
        return t.services.ripple.impact(t.principal, project, change, to=to)

    def ripple_stale(self, project: str, all: bool, kind: str | None) -> StaleReport:
        t = self._e()
        return t.services.ripple.stale(t.principal, project, all=all, kind=kind)

    def ripple_apply(self, project: str, options: dict[str, Any], watch: JobWatcher | None) -> ApplyRecord:
        t = self._e()
        return t.services.ripple.apply(t.principal, project, watch=watch, **options)

    def ripple_get_apply(self, project: str, apply_id: int) -> ApplyRecord:
        t = self._e()
        return t.services.ripple.get_apply(t.principal, project, apply_id)


class RemoteRipple:
    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def ripple_impact(self, project: str, change: str, to: int | None) -> PlanRecord:
        t = self._r()
        params: dict[str, Any] = {"change": change, **({"to": to} if to is not None else {})}
        return t._record(PlanRecord, "GET", f"{t._p(project)}/impact", params=params)

    def ripple_stale(self, project: str, all: bool, kind: str | None) -> StaleReport:
        t = self._r()
        params: dict[str, Any] = {"all": str(all).lower(), **({"kind": kind} if kind else {})}
        return t._record(StaleReport, "GET", f"{t._p(project)}/stale", params=params)

    def ripple_apply(self, project: str, options: dict[str, Any], watch: JobWatcher | None) -> ApplyRecord:
        t = self._r()
        wait = bool(options.pop("wait", False))
        record = t._record(ApplyRecord, "POST", f"{t._p(project)}/applies", body=options)
        if not wait or record.state == "dry-run":
            return record
        while record.state == "running":
            job = t.get_job(project, record.job_id) if record.job_id else None
            if watch is not None and job is not None:
                watch(job, [])
            if job is not None and job.state.value not in ("queued", "running"):
                return self.ripple_get_apply(project, record.id)
            time.sleep(POLL_S)
            record = self.ripple_get_apply(project, record.id)
        return record

    def ripple_get_apply(self, project: str, apply_id: int) -> ApplyRecord:
        t = self._r()
        return t._record(ApplyRecord, "GET", f"{t._p(project)}/applies/{int(apply_id)}")
