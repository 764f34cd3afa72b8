"""Eval runs: a suite version scoring a target version, as a resumable job; comparisons and
gates.

The contract other services rely on (the ripple engine's apply calls these):

- ``evaluate(principal, project, suite, target, *, ctx=None, concurrency=None) -> EvalRunRecord``:
  run the suite on the exact target version in this thread (resuming an unfinished run of the
  same suite version on the same target version) and return the finished run.
- ``run(principal, project, suite, target, *, concurrency=None, wait=False, watch=None) -> JobRecord``:
  the same as an ``eval.run`` job (its result holds ``{"run": id, ...}``).
- ``get_run(principal, project, run_id) -> EvalRunRecord``;
  ``runs(principal, project, *, suite=None, target=None, limit=50) -> list[EvalRunRecord]``.
- ``baseline(principal, project, suite, target_asset, *, label=None) -> EvalRunRecord | None``:
  the newest succeeded run of the suite (any version of it) on the version of ``target_asset``
  that holds ``label`` (the suite's ``baseline`` label, default ``production``).
- ``gate(principal, project, run_id, *, baseline=None) -> GateReport``: the suite's gates on the
  run, against ``baseline`` (a run id) or the default baseline; ``passed`` False when any gate
  fails or cannot be decided for a max_regression gate whose baseline is not comparable.
- ``compare(principal, project, run_a, run_b) -> CompareRecord``.

Besides: ``samples`` (a run's per-sample results, paged), ``report_html`` and
``compare_html`` (the HTML reports).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.eval_gates import check_gates, overall
from rippleops.domain.records import (
    CompareRecord,
    EvalRunRecord,
    EvalSampleRecord,
    GateReport,
    JobRecord,
    JobWatcher,
)
from rippleops.domain.refs import parse_ref
from rippleops.errors import ConflictError, GateFailedError, InvalidError, NotFoundError
from rippleops.runtime.executor import JobContext, JobFunction
from rippleops.services.eval_run import EvalRunner, resolve_target
from rippleops.services.eval_store import EvalStore
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.services.suites import suite_spec

if TYPE_CHECKING:
    from rippleops.services import Services

JOB_KIND = "eval.run"
PARAM_KEYS = ("suite", "target", "concurrency", "limit")
MAX_PAGE = 1000


class EvalService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = EvalStore(services.db, services.access)

    # -- running ---------------------------------------------------------------------------------

    def evaluate(
        self, principal: Principal, project: str, suite: str, target: str, *, ctx: JobContext | None = None,
        concurrency: int | None = None, limit: int | None = None,
    ) -> EvalRunRecord:  # fmt: skip
        """Run ``suite`` on the exact version ``target`` names, in this thread, and return the
        finished run (an unfinished run of the same suite and target versions is resumed)."""
        runner = EvalRunner(
            self.services, self.store, principal, project, suite, target, ctx=ctx, concurrency=concurrency, limit=limit
        )
        record = runner.run()
        report = self.gate(principal, project, record.id)
        return record.model_copy(update={"gates": report.gates})

    def run(
        self, principal: Principal, project: str, suite: str, target: str, *, concurrency: int | None = None,
        limit: int | None = None, wait: bool = False, watch: JobWatcher | None = None,
    ) -> JobRecord:  # fmt: skip
        """:meth:`evaluate` as an ``eval.run`` job (its result: ``{"run": id, ...}``)."""
        params: dict[str, Any] = {"suite": suite, "target": target, "concurrency": concurrency, "limit": limit}
        return self.services.jobs.submit(principal, project, JOB_KIND, params, wait=wait, watch=watch)

    def check_params(self, principal: Principal, project: str, params: dict[str, Any]) -> dict[str, Any]:
        """Normalise ``eval.run`` parameters: suite and target pinned to exact versions now,
        so the job (and a rerun of it) scores what was asked for when it was submitted."""
        unknown = sorted(set(params) - set(PARAM_KEYS))
        if unknown:
            raise InvalidError(f"eval.run does not take {', '.join(unknown)}; it takes {', '.join(PARAM_KEYS)}")
        suite, target = params.get("suite"), params.get("target")
        if not isinstance(suite, str) or not suite.strip():
            raise InvalidError('eval.run needs `suite`, such as {"suite": "suite/support-qa", "target": "app/bot:3"}')
        if not isinstance(target, str) or not target.strip():
            raise InvalidError('eval.run needs `target`, the version to score, such as "app/support-bot:3"')
        record = self.services.suites.get(principal, project, suite)
        spec = suite_spec(record)
        target_record = resolve_target(self.services, principal, project, spec, record.ref, target)
        out: dict[str, Any] = {"suite": record.ref, "target": target_record.ref}
        for key in ("concurrency", "limit"):
            value = params.get(key)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise InvalidError(f"eval.run `{key}` must be a whole number of 1 or more, not {value!r}")
                out[key] = value
        return out

    # -- reading ---------------------------------------------------------------------------------

    def get_run(self, principal: Principal, project: str, run_id: int) -> EvalRunRecord:
        return self.store.get(principal, project, run_id)

    def runs(
        self, principal: Principal, project: str, *, suite: str | None = None, target: str | None = None,
        state: str | None = None, limit: int = 50,
    ) -> builtins.list[EvalRunRecord]:  # fmt: skip
        """Runs, newest first; ``suite`` / ``target`` an asset (any version) or an exact version."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidError(f"limit must be from 1 to {MAX_PAGE}")
        return self.store.list(principal, project, suite=suite, target=target, state=state, limit=limit)

    def samples(
        self, principal: Principal, project: str, run_id: int, *, offset: int = 0, limit: int | None = 100
    ) -> builtins.list[EvalSampleRecord]:
        """A run's per-sample results in dataset order (``limit`` None: all of them)."""
        if offset < 0 or (limit is not None and not 1 <= limit <= 100_000):
            raise InvalidError("offset must be 0 or more and limit from 1 to 100000")
        return self.store.samples(principal, project, run_id, offset=offset, limit=limit)

    # -- baselines and gates -----------------------------------------------------------------------

    def baseline(
        self, principal: Principal, project: str, suite: str, target_asset: str, *, label: str | None = None
    ) -> EvalRunRecord | None:
        """The newest succeeded run of ``suite`` (any version) on the version of
        ``target_asset`` that holds ``label`` (default: the suite's ``baseline`` label)."""
        record = self.services.suites.get(principal, project, suite)
        label = label or suite_spec(record).baseline
        asset = parse_ref(target_asset).asset
        try:
            target = self.services.assets.get(principal, project, f"{asset}@{label}")
        except NotFoundError:
            return None
        return self.store.newest_succeeded(principal, project, parse_ref(record.ref).asset, target.ref)

    def gate(self, principal: Principal, project: str, run_id: int, *, baseline: int | None = None) -> GateReport:
        """The suite's gates on run ``run_id`` against ``baseline`` (a run id) or the default
        baseline; stored on the run as its last gate check."""
        run = self.get_run(principal, project, run_id)
        if run.state != "succeeded":
            raise ConflictError(
                f"eval run {run_id} is {run.state}; gates are checked on a finished run "
                f"(resume it with `ripple eval run {run.suite} --target {run.target}`)"
            )
        suite = self.services.suites.get(principal, project, run.suite)
        spec = suite_spec(suite)
        if baseline is not None:
            base: EvalRunRecord | None = self.get_run(principal, project, baseline)
        else:
            base = self.baseline(principal, project, run.suite, run.target, label=spec.baseline)
        own = base is not None and base.id == run.id
        comparable = base is None or own or base.dataset_hash == run.dataset_hash
        not_comparable = ""
        if base is not None and not comparable:
            not_comparable = (
                f"the baseline (run {base.id}, {base.target}) ran on {base.dataset} and this run on {run.dataset}: "
                f"another dataset version, so they are not compared. Re-run the baseline on this dataset with "
                f"`ripple eval run {run.suite} --target {base.target}`, then gate again"
            )
        results = check_gates(
            spec.gates, run.aggregates, None if base is None or own else base.aggregates, comparable=comparable,
            lower_is_better=spec.lower_is_better(), not_comparable=not_comparable,
        )  # fmt: skip
        if own:
            results = [
                g.model_copy(update={"message": f"{g.metric}: this run is the baseline ({run.target} holds {spec.baseline})"})
                if g.rule == "max_regression" else g
                for g in results
            ]  # fmt: skip
        passed, message = overall(results, comparable=comparable)
        if base is None:
            message += f". No baseline: no succeeded run of {run.suite.split(':')[0]} on the {spec.baseline} version of {parse_ref(run.target).asset}"
        self.store.set_gates(run.id, results)
        return GateReport(
            run=run.id, suite=run.suite, target=run.target, baseline_run=None if base is None else base.id,
            baseline_target=None if base is None else base.target, comparable=comparable, passed=passed,
            gates=results, message=message,
        )  # fmt: skip

    def require_pass(self, report: GateReport) -> GateReport:
        """``report`` when it passed; else a :class:`GateFailedError` naming what failed."""
        if not report.passed:
            raise GateFailedError(
                f"eval run {report.run} ({report.target}) did not pass its gates: {report.message}",
                details={"report": report.model_dump(mode="json")},
            )
        return report

    # -- comparisons and reports -------------------------------------------------------------------

    def compare(self, principal: Principal, project: str, run_a: int, run_b: int, *, top: int = 10) -> CompareRecord:
        """B against A: per-metric deltas with paired bootstrap intervals, and the samples
        that regressed most."""
        a, b = self.get_run(principal, project, run_a), self.get_run(principal, project, run_b)
        spec = suite_spec(self.services.suites.get(principal, project, b.suite))
        lower = {
            **suite_spec(self.services.suites.get(principal, project, a.suite)).lower_is_better(),
            **spec.lower_is_better(),
        }
        samples_a = self.samples(principal, project, a.id, limit=None)
        samples_b = self.samples(principal, project, b.id, limit=None)
        # TODO(merge i6-report): a top-level import once helper E's module is on this branch
        from rippleops.domain.eval_compare import compare_runs

        return compare_runs(a, samples_a, b, samples_b, lower_is_better=lower, top=top)

    def report_html(self, principal: Principal, project: str, run_id: int) -> str:
        from rippleops.services.eval_report import render_run_html  # Plotly loads on demand

        run = self.get_run(principal, project, run_id)
        return render_run_html(run, self.samples(principal, project, run_id, limit=None))

    def compare_html(self, principal: Principal, project: str, run_a: int, run_b: int) -> str:
        from rippleops.services.eval_report import render_compare_html  # Plotly loads on demand

        return render_compare_html(self.compare(principal, project, run_a, run_b))


# -- the job ---------------------------------------------------------------------------------------


def _check(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    return env.services.evals.check_params(env.principal, env.project, params)


def _build(env: JobEnv) -> JobFunction:
    def run_eval(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Score the suite on the target (see services/eval_run.py)."""
        run = env.services.evals.evaluate(
            env.principal, env.project, params["suite"], params["target"], ctx=ctx,
            concurrency=params.get("concurrency"), limit=params.get("limit"),
        )  # fmt: skip
        return {
            "run": run.id, "suite": run.suite, "target": run.target, "dataset": run.dataset, "samples": run.samples,
            "errors": run.errors, "means": {k: v.mean for k, v in run.aggregates.items()},
            "gates_passed": None if run.gates is None else all(g.passed is not False for g in run.gates),
        }  # fmt: skip

    return run_eval


EVAL_RUN = JobKind(
    name=JOB_KIND,
    summary="score a suite version on a target version (resumable: a rerun keeps the samples already scored)",
    check=_check,
    build=_build,
)
