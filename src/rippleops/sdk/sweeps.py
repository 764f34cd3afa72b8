"""``rp.sweeps``: grid or Optuna searches over knobs of an app, each point a candidate app
version scored by a suite; the result is the Pareto front of quality against cost and
latency, the marginal gain per extra cost along it, and a recommendation.

>>> job = rp.sweeps.run("app/support-bot@production", suite="suite/support-qa",
...                     grid={"k": [1, 2, 4], "mode": ["vector", "hybrid"]})     # doctest: +SKIP
>>> job.result["recommendation"]["app"], job.result["recommendation"]["reason"]   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobRecord
from rippleops.errors import ConflictError, NotFoundError
from rippleops.sdk.collections import _Collection
from rippleops.sdk.jobs import OnUpdate
from rippleops.sdk.synth import job_error

KIND = "sweep.run"


class Sweeps(_Collection):
    """Sweeps run as ``sweep.run`` jobs: embedded, in this process before :meth:`run`
    returns; on a server in its pool (``wait=True`` polls until the job ends)."""

    def run(
        self,
        app: str | None = None,
        *,
        suite: str | None = None,
        grid: Mapping[str, Sequence[Any]] | None = None,
        method: str = "grid",
        trials: int | None = None,
        objective: str | None = None,
        max_points: int | None = None,
        storage: str | None = None,
        study: str | None = None,
        seed: int | None = None,
        spec: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        check: bool = True,
        project: str | None = None,
    ) -> JobRecord:
        """Sweep the knobs in ``grid`` (``k``, ``mode``, ``chunk_size``, ``prompt``, ``model``,
        ``temperature``, ``max_tokens``) of ``app``, scoring each point with ``suite``.

        ``method="grid"`` scores every combination (at most ``max_points``, default 50);
        ``method="optuna"`` lets TPE pick ``trials`` of them (``storage``: an Optuna RDB URL to
        share the study between workers). ``spec`` takes a whole sweep file's mapping; the
        keywords given win over it. With ``check=True`` a failed job raises its error.

        >>> job = rp.sweeps.run("app/bot", suite="suite/qa", grid={"k": [1, 2]})   # doctest: +SKIP
        >>> [(p["knobs"], p["quality"]) for p in job.result["points"]]            # doctest: +SKIP
        """
        given = {
            "app": app, "suite": suite, "grid": {k: list(v) for k, v in grid.items()} if grid is not None else None,
            "method": method if method != "grid" or spec is None else None, "trials": trials, "objective": objective,
            "max_points": max_points, "storage": storage, "study": study, "seed": seed,
        }  # fmt: skip
        params = {**dict(spec or {}), **{k: v for k, v in given.items() if v is not None}}
        job = self._client.jobs.submit(KIND, params, wait=wait, timeout=timeout, on_update=on_update, project=project)
        if check and job.state in (JobState.FAILED, JobState.CANCELLED):
            raise job_error(job)
        return job

    def result(self, job_id: int, *, project: str | None = None) -> dict[str, Any]:
        """The result of a finished sweep job (``points``, ``front``, ``gains``, ``recommendation``)."""
        job = self._client.jobs.get(job_id, project=project)
        if job.kind != KIND:
            raise NotFoundError(f"job {job_id} is a {job.kind} job, not a sweep")
        if job.state is not JobState.SUCCEEDED or job.result is None:
            raise job_error(job) if job.state.is_terminal else _unfinished(job)
        return dict(job.result)

    def report_html(self, job_id: int, *, project: str | None = None) -> str:
        """The sweep's HTML report (quality against cost, the front highlighted), rendered here
        from its result; needs Plotly (``pip install 'rippleops[eval]'``)."""
        # imported here: the rest of a remote client never loads the service layer
        from rippleops.services.eval_report import render_sweep_html

        return render_sweep_html(self.result(job_id, project=project))


def _unfinished(job: JobRecord) -> Exception:
    return ConflictError(f"sweep job {job.id} is {job.state.value}; wait for it with rp.jobs.wait({job.id})")
