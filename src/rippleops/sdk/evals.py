"""``rp.evals``: run suites on targets (as jobs), read runs and their samples, compare two
runs, and check a run's gates.

>>> job = rp.evals.run("support-qa", "app/support-bot:3")            # doctest: +SKIP
>>> run = rp.evals.get(job.result["run"])                             # doctest: +SKIP
>>> run.aggregates["rouge_l"].mean, rp.evals.gate(run.id).passed      # doctest: +SKIP
(0.41, True)
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from rippleops.domain.records import CompareRecord, EvalRunRecord, EvalSampleRecord, GateReport, JobRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import GateFailedError
from rippleops.sdk.jobs import OnUpdate
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

JOB_KIND = "eval.run"


class Evals:
    """Eval runs: a suite version scoring a target version over the suite's dataset version."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def _p(self, project: str | None) -> str:
        return self._client.project_of(project)

    def run(
        self,
        suite: str,
        target: str,
        *,
        concurrency: int | None = None,
        limit: int | None = None,
        wait: bool = True,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Score ``target`` (``app/support-bot:3``, ``app/support-bot@staging`` ...) with
        ``suite``, as an ``eval.run`` job: by default wait for it and return the finished job
        (``job.result["run"]`` is the run id). An unfinished run of the same suite version
        on the same target version is resumed, keeping the samples it already scored.

        >>> rp.evals.run("support-qa", "app/support-bot@staging", concurrency=2).result["means"]  # doctest: +SKIP
        """
        params: dict[str, Any] = {"suite": parse_ref(suite, "suite").text, "target": target}
        if concurrency is not None:
            params["concurrency"] = concurrency
        if limit is not None:
            params["limit"] = limit
        return self._client.jobs.submit(
            JOB_KIND, params, wait=wait, timeout=timeout, on_update=on_update, project=project
        )

    def get(self, run_id: int, *, project: str | None = None) -> EvalRunRecord:
        """One run: state, aggregates (mean, bootstrap interval, p50, p95 per metric), last gates."""
        return self._t.get_eval_run(self._p(project), run_id)

    def list(
        self,
        *,
        suite: str | None = None,
        target: str | None = None,
        state: str | None = None,
        limit: int = 50,
        project: str | None = None,
    ) -> builtins.list[EvalRunRecord]:
        """Runs, newest first; ``suite`` / ``target`` an asset (any version) or an exact version.

        >>> [r.id for r in rp.evals.list(suite="support-qa", target="app/support-bot")]   # doctest: +SKIP
        """
        suite = None if suite is None else parse_ref(suite, "suite").text
        return self._t.list_eval_runs(self._p(project), suite=suite, target=target, state=state, limit=limit)

    def samples(
        self, run_id: int, *, offset: int = 0, limit: int | None = 100, project: str | None = None
    ) -> builtins.list[EvalSampleRecord]:
        """A run's per-sample results (input, expected, output, scores, metric errors)."""
        return self._t.eval_samples(self._p(project), run_id, offset=offset, limit=limit)

    def gate(
        self, run_id: int, *, baseline: int | None = None, check: bool = False, project: str | None = None
    ) -> GateReport:
        """The suite's gates on the run, against ``baseline`` (a run id) or the run of the
        target version that holds the suite's baseline label. ``check=True`` raises
        :class:`~rippleops.errors.GateFailedError` when the run does not pass.

        >>> rp.evals.gate(12, check=True)   # in CI: an exception when a gate fails   # doctest: +SKIP
        """
        report = self._t.gate_eval_run(self._p(project), run_id, baseline)
        if check and not report.passed:
            raise GateFailedError(
                f"eval run {report.run} ({report.target}) did not pass its gates: {report.message}",
                details={"report": report.model_dump(mode="json")},
            )
        return report

    def compare(self, run_a: int, run_b: int, *, top: int = 10, project: str | None = None) -> CompareRecord:
        """B against A: per-metric deltas with paired bootstrap intervals, and the ``top``
        samples that regressed most, side by side."""
        return self._t.compare_eval_runs(self._p(project), run_a, run_b, top)

    def report_html(self, run_id: int, *, project: str | None = None) -> str:
        """A run's HTML report (Plotly charts inline, works offline)."""
        return self._t.eval_report_html(self._p(project), run_id)

    def compare_html(self, run_a: int, run_b: int, *, project: str | None = None) -> str:
        """The HTML report of :meth:`compare`."""
        return self._t.eval_compare_html(self._p(project), run_a, run_b)
