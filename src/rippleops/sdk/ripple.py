"""``rp.ripple``: what a change affects, what is stale, and applying a change safely.

>>> plan = rp.ripple.impact("embedder/minilm:2")                    # doctest: +SKIP
>>> [(s.action, s.target) for s in plan.steps]                      # doctest: +SKIP
[('rebuild', 'index/docs:1'), ('rebuild', 'app/support-bot:3'), ('re-evaluate', 'app/support-bot:3')]
>>> rp.ripple.apply("embedder/minilm:2", wait=True).report["promoted"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rippleops.domain.records import ApplyRecord, JobWatcher, PlanRecord, StaleReport
from rippleops.sdk.ripple_transport import RippleTransport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client


class Ripple:
    """The ripple engine of the client's project."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> RippleTransport:
        return cast(RippleTransport, self._client.transport)

    def impact(self, change: str, *, to: int | None = None, project: str | None = None) -> PlanRecord:
        """Every live version ``change`` affects (``embedder/minilm:2``, or a label move
        ``prompt/answer@production``, hypothetically ``to`` version N), with the action each
        needs and its estimated cost, in topological order.

        >>> rp.ripple.impact("prompt/answer@production", to=4).steps  # doctest: +SKIP
        """
        return self._t.ripple_impact(self._client.project_of(project), change, to)

    def stale(self, *, all: bool = False, kind: str | None = None, project: str | None = None) -> StaleReport:
        """Every live version (every version with ``all``) whose recorded inputs no longer
        match what its references resolve to, and why.

        >>> [i.ref for i in rp.ripple.stale().items]  # doctest: +SKIP
        """
        return self._t.ripple_stale(self._client.project_of(project), all, kind)

    def apply(
        self,
        change: str | None = None,
        *,
        to: int | None = None,
        stale: bool = False,
        dry_run: bool = False,
        wait: bool = True,
        resume: int | None = None,
        on_update: JobWatcher | None = None,
        project: str | None = None,
    ) -> ApplyRecord:
        """Rebuild what ``change`` (or everything ``stale``) affects, re-run the suites, and
        move labels and redeploy only where every gate passes, as one resumable job.
        ``dry_run`` returns the plan without running it; ``resume`` reruns an apply.

        >>> rp.ripple.apply("dataset/docs:2", dry_run=True).plan.steps  # doctest: +SKIP
        """
        options = {"change": change, "to": to, "stale": stale, "dry_run": dry_run, "wait": wait, "resume": resume}
        return self._t.ripple_apply(self._client.project_of(project), options, on_update)

    def get_apply(self, apply_id: int, *, project: str | None = None) -> ApplyRecord:
        """One apply: its plan, each step's outcome and the final report.

        >>> rp.ripple.get_apply(3).report["held"]  # doctest: +SKIP
        """
        return self._t.ripple_get_apply(self._client.project_of(project), apply_id)
