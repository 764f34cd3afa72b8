"""Sweeps: a grid or Optuna search over knobs of an app (k, search mode, chunk size, prompt,
model, temperature, max tokens), each point a candidate app version scored by a suite, run
as a ``sweep.run`` job (see :mod:`rippleops.services.sweep_run` for the body and
:mod:`rippleops.domain.sweeps` for the spec).

>>> job = services.sweeps.run(alice, "default", {"app": "app/support-bot@production",
...     "suite": "suite/support-qa", "grid": {"k": [1, 2, 4], "mode": ["vector", "hybrid"]}}, wait=True)  # doctest: +SKIP
>>> job.result["recommendation"]["reason"]                                                            # doctest: +SKIP
'the cheapest point within 1% of the best contains: 0.82 vs 0.83 at cost 0 instead of 0'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobRecord, JobWatcher
from rippleops.domain.refs import parse_ref
from rippleops.domain.sweeps import parse_sweep_spec, retrieve_index
from rippleops.errors import ConflictError, InvalidError, NotFoundError
from rippleops.runtime.executor import JobContext, JobFunction
from rippleops.services.eval_report import render_sweep_html
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.services.sweep_run import SweepRun, import_optuna, write_reports

if TYPE_CHECKING:
    from rippleops.services import Services

JOB_KIND = "sweep.run"
#: Optuna storages a server accepts from a request: databases only, never a file path on the server
SERVER_STORAGES = ("postgresql", "mysql")


class SweepService:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def reports_dir(self) -> Path:
        return self.services.settings.home_path / "reports"

    def run(
        self,
        principal: Principal,
        project: str,
        spec: Mapping[str, Any],
        *,
        wait: bool = False,
        watch: JobWatcher | None = None,
    ) -> JobRecord:
        """Submit a ``sweep.run`` job for ``spec`` (see :mod:`rippleops.domain.sweeps`)."""
        return self.services.jobs.submit(principal, project, JOB_KIND, dict(spec), wait=wait, watch=watch)

    def result(self, principal: Principal, project: str, job_id: int) -> dict[str, Any]:
        """The result of a finished sweep job: points, front, gains, recommendation, reports."""
        job = self.services.jobs.show(principal, project, job_id)
        if job.kind != JOB_KIND:
            raise NotFoundError(
                f"job {job_id} is a {job.kind} job, not a sweep; list sweeps with `ripple job list --kind {JOB_KIND}`"
            )
        if job.state is not JobState.SUCCEEDED or job.result is None:
            why = f": {job.error.message}" if job.error else ""
            raise ConflictError(
                f"sweep job {job_id} is {job.state.value}{why}; its result comes when it has succeeded (`ripple job show {job_id}`)"
            )
        return dict(job.result)

    def report_html(self, principal: Principal, project: str, job_id: int) -> str:
        """The HTML report of a finished sweep (rendered again from its result if the file is gone)."""
        result = self.result(principal, project, job_id)
        path = self.reports_dir / f"sweep-{job_id}.html"
        return path.read_text(encoding="utf-8") if path.is_file() else render_sweep_html(result)

    # -- the job ------------------------------------------------------------------------------

    def check_params(
        self, principal: Principal, project: str, params: dict[str, Any], *, local: bool
    ) -> dict[str, Any]:
        """Check a sweep spec when it is submitted: the knobs, the app and the suite exist, Optuna
        is installed for ``method: optuna``, and a server takes only database storages."""
        spec = parse_sweep_spec(params)
        base = self.services.apps.get(principal, project, spec.app)
        self.services.assets.get(principal, project, parse_ref(spec.suite, "suite"))
        if spec.method == "optuna":
            import_optuna()
        if spec.storage is not None and not local and not spec.storage.startswith(SERVER_STORAGES):
            raise InvalidError(
                "a server takes only a database Optuna storage (postgresql://... or mysql://...), not a file; "
                "or run the sweep on your machine"
            )
        if "chunk_size" in spec.grid:
            retrieve_index(base.content)  # an app without a retrieve step fails now, not in the job
        return spec.to_dict()

    def execute(self, principal: Principal, project: str, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        """The body of a ``sweep.run`` job."""
        result = SweepRun(self.services, principal, project, parse_sweep_spec(params), ctx).run()
        result["reports"] = write_reports(self.reports_dir, ctx.job_id, result)
        return result


def _check(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    return env.services.sweeps.check_params(env.principal, env.project, params, local=env.local)


def _build(env: JobEnv) -> JobFunction:
    def run_sweep(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Score every point of a sweep (see services/sweep_run.py)."""
        return env.services.sweeps.execute(env.principal, env.project, params, ctx)

    return run_sweep


SWEEP_RUN = JobKind(
    name=JOB_KIND,
    summary="score candidate versions of an app over a grid or Optuna search of its knobs with a suite",
    check=_check,
    build=_build,
)
