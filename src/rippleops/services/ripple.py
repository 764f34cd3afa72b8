"""The ripple engine: the impact of a change, what is stale, and apply.

``impact`` and ``stale`` load the project's graph with a few bulk queries (cached until a
version, label or eval run is added) and walk it in memory (:mod:`rippleops.domain.ripple`).
``apply`` fixes a plan in ``ripple_applies`` and runs it as one ``ripple.apply`` job; each
step's outcome is written when it finishes, so a rerun of the job (``ripple job rerun``) or
``apply(resume=ID)`` skips what is done. One apply runs per project at a time (a lock row,
taken over only from a holder whose job is no longer active).

>>> services.ripple.impact(alice, "default", "embedder/minilm:2").steps[0].key   # doctest: +SKIP
'rebuild:index/docs:1'
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.jobs import ACTIVE
from rippleops.domain.records import ApplyRecord, ApplyStepRecord, JobWatcher, PlanRecord, StaleReport
from rippleops.domain.ripple_plan import impact, stale_plan
from rippleops.errors import ConflictError, InvalidError, NotFoundError
from rippleops.runtime.executor import JobCancelled, JobContext, JobFunction
from rippleops.services import audit
from rippleops.services.access import ProjectRef
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.services.ripple_graph import GraphLoader, estimate
from rippleops.services.ripple_steps import FINAL_KEY, Finished, StepRunner, report
from rippleops.store.models import Job
from rippleops.store.models.base import utcnow
from rippleops.store.models.ripple import ApplyStep, RippleApply, RippleLock

if TYPE_CHECKING:
    from rippleops.services import Services

RA = cast(Table, RippleApply.__table__)
RS = cast(Table, ApplyStep.__table__)
RL = cast(Table, RippleLock.__table__)
J = cast(Table, Job.__table__)
JOB_KIND = "ripple.apply"
LOCK = "apply"
UNSTARTED_GRACE = timedelta(seconds=60)  # a lock whose job is not submitted yet counts as held this long


class RippleService:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.graphs = GraphLoader(settings.home_path / "cache", settings.resolved_database_url)

    # -- impact and stale ----------------------------------------------------------------------

    def impact(self, principal: Principal, project: str, change: str, *, to: int | None = None) -> PlanRecord:
        """Every live version ``change`` affects, with its action and estimate, in order."""
        start = time.perf_counter()
        with self.services.db.reading() as s:
            proj = self.services.access.authorize(s, principal, project, Action.READ)
            plan = impact(self.graphs.load(s, proj.id), change, to=to)
            plan = estimate(s, proj.id, plan)
        return plan.model_copy(update={"took_ms": round((time.perf_counter() - start) * 1000, 2)})

    def stale(self, principal: Principal, project: str, *, all: bool = False, kind: str | None = None) -> StaleReport:
        """Every version whose recorded inputs no longer match what its references resolve to."""
        start = time.perf_counter()
        with self.services.db.reading() as s:
            proj = self.services.access.authorize(s, principal, project, Action.READ)
            rep = self.graphs.load(s, proj.id).stale(all=all, kind=kind)
        return rep.model_copy(update={"took_ms": round((time.perf_counter() - start) * 1000, 2)})

    def _stale_plan(self, principal: Principal, project: str) -> PlanRecord:
        with self.services.db.reading() as s:
            proj = self.services.access.authorize(s, principal, project, Action.READ)
            return estimate(s, proj.id, stale_plan(self.graphs.load(s, proj.id)))

    # -- apply ---------------------------------------------------------------------------------

    def apply(
        self,
        principal: Principal,
        project: str,
        change: str | None = None,
        *,
        to: int | None = None,
        stale: bool = False,
        dry_run: bool = False,
        wait: bool = False,
        watch: JobWatcher | None = None,
        resume: int | None = None,
    ) -> ApplyRecord:
        """Run a plan (from ``change`` or from what is ``stale``) as one ``ripple.apply`` job;
        ``dry_run`` returns the plan without running anything; ``resume`` reruns an apply,
        skipping its finished steps."""
        if resume is not None:
            if change is not None or stale:
                raise InvalidError("--resume takes the apply id alone; the plan is fixed at creation")
            apply_id = self._reopen(principal, project, resume)
        else:
            if (change is None) == (not stale):
                raise InvalidError("give a change (kind/name:N or kind/name@label) or --stale, not both or neither")
            plan = (
                self._stale_plan(principal, project) if stale else self.impact(principal, project, change or "", to=to)
            )
            if dry_run:
                return ApplyRecord(
                    id=0, project=project, change=plan.change, state="dry-run", plan=plan,
                    created_at=utcnow(), created_by=principal.name,
                )  # fmt: skip
            apply_id = self._create(principal, project, plan)
        self.services.jobs.submit(principal, project, JOB_KIND, {"apply": apply_id}, wait=wait, watch=watch)
        return self.get_apply(principal, project, apply_id)

    def _create(self, principal: Principal, project: str, plan: PlanRecord) -> int:
        self.services.jobs.recover()  # a holder killed with its process shows as lost, not running

        def work(s: Session) -> int:
            proj = self.services.access.authorize(s, principal, project, Action.WRITE)
            apply_id = int(
                s.execute(
                    insert(RA).returning(RA.c.id),
                    {"project_id": proj.id, "change": plan.change[:250], "plan": plan.model_dump(mode="json"),
                     "state": "running", "created_at": utcnow(), "created_by": principal.name},
                ).scalar_one()
            )  # fmt: skip
            _take_lock(s, proj, apply_id, None)
            audit.record(s, principal.name, "ripple.apply.start", f"apply/{apply_id}", project=project,
                         after={"change": plan.change, "steps": [st.key for st in plan.steps]})  # fmt: skip
            return apply_id

        return self.services.db.write(work)

    def _reopen(self, principal: Principal, project: str, apply_id: int) -> int:
        self.services.jobs.recover()

        def work(s: Session) -> int:
            proj = self.services.access.authorize(s, principal, project, Action.WRITE)
            row = _apply_row(s, proj, apply_id)
            if row.state == "succeeded":
                raise ConflictError(f"apply {apply_id} already finished; see it with `ripple apply --show {apply_id}`")
            _take_lock(s, proj, apply_id, None)
            if row.state == "failed":  # it finished with failed steps (a model that was down ...):
                # those and what they held back run again; an interrupted apply just goes on
                again = RS.c.status.in_(("failed", "skipped")) | (RS.c.key == FINAL_KEY)
                s.execute(delete(RS).where(RS.c.apply_id == apply_id, again))
            s.execute(update(RA).where(RA.c.id == apply_id).values(state="running", report=None, finished_at=None))
            audit.record(s, principal.name, "ripple.apply.resume", f"apply/{apply_id}", project=project)
            return apply_id

        return self.services.db.write(work)

    def get_apply(self, principal: Principal, project: str, apply_id: int) -> ApplyRecord:
        with self.services.db.reading() as s:
            proj = self.services.access.authorize(s, principal, project, Action.READ)
            return _apply_record(s, proj, _apply_row(s, proj, apply_id))

    def list_applies(self, principal: Principal, project: str, *, limit: int = 50) -> list[ApplyRecord]:
        with self.services.db.reading() as s:
            proj = self.services.access.authorize(s, principal, project, Action.READ)
            rows = s.execute(
                select(RA).where(RA.c.project_id == proj.id).order_by(RA.c.id.desc()).limit(max(1, min(limit, 500)))
            ).all()
            return [_apply_record(s, proj, r) for r in rows]

    # -- the job -------------------------------------------------------------------------------

    def run_apply(self, principal: Principal, project: str, apply_id: int, ctx: JobContext) -> dict[str, Any]:
        """The body of a ``ripple.apply`` job: run the fixed plan's unfinished steps in order."""
        settings = self.services.settings

        def start(s: Session) -> tuple[PlanRecord, dict[str, Finished]]:
            proj = self.services.access.authorize(s, principal, project, Action.WRITE)
            row = _apply_row(s, proj, apply_id)
            _take_lock(s, proj, apply_id, ctx.job_id)
            s.execute(update(RA).where(RA.c.id == apply_id).values(job_id=ctx.job_id, state="running"))
            done = {
                r.key: Finished(r.status, r.message, dict(r.result or {}))
                for r in s.execute(select(RS).where(RS.c.apply_id == apply_id)).all()
            }
            return PlanRecord.model_validate(row.plan), done

        plan, finished = self.services.db.write(start)
        runner = StepRunner(self.services, principal, project, plan, finished, ctx)
        total = len(plan.steps) + 1
        for i, step in enumerate([*plan.steps, None]):
            key = step.key if step is not None else FINAL_KEY
            if key in finished:
                continue
            if ctx.cancelled():
                raise JobCancelled()
            ctx.progress(i, total, key)
            status, message, result = runner.run(step) if step is not None else runner.promote_upstream()
            ctx.log(f"{key}: {status}: {message}", "error" if status == "failed" else "info")
            self._finish_step(apply_id, key, status, message, result)
            finished[key] = Finished(status, message, result)
            settings.fault("ripple.apply.after_step")
        final = report(plan, finished)
        self._finish(principal, project, apply_id, final)
        ctx.progress(total, total, "done")
        return {"apply": apply_id, **{k: len(v) for k, v in final.items()}}

    def _finish_step(self, apply_id: int, key: str, status: str, message: str, result: dict[str, Any]) -> None:
        def work(s: Session) -> None:
            if s.execute(select(RS.c.id).where(RS.c.apply_id == apply_id, RS.c.key == key)).first() is None:
                s.execute(
                    insert(RS),
                    {"apply_id": apply_id, "key": key, "status": status, "result": result,
                     "message": message, "finished_at": utcnow()},
                )  # fmt: skip

        self.services.db.write(work)

    def _finish(self, principal: Principal, project: str, apply_id: int, final: dict[str, Any]) -> None:
        def work(s: Session) -> None:
            state = "failed" if final["failed"] else "succeeded"
            s.execute(update(RA).where(RA.c.id == apply_id).values(state=state, report=final, finished_at=utcnow()))
            s.execute(delete(RL).where(RL.c.apply_id == apply_id))
            summary = {k: len(v) for k, v in final.items()}
            audit.record(s, principal.name, "ripple.apply.finish", f"apply/{apply_id}", project=project, after=summary)

        self.services.db.write(work)


# -- rows ----------------------------------------------------------------------------------------


def _apply_row(s: Session, proj: ProjectRef, apply_id: int) -> Any:
    row = s.execute(select(RA).where(RA.c.id == apply_id, RA.c.project_id == proj.id)).first()
    if row is None:
        raise NotFoundError(
            f"apply {apply_id} does not exist in project {proj.name!r}; list them with `ripple apply --list`"
        )
    return row


def _apply_record(s: Session, proj: ProjectRef, row: Any) -> ApplyRecord:
    steps = {
        r.key: ApplyStepRecord(
            key=r.key, status=r.status, message=r.message, result=r.result or {}, finished_at=r.finished_at
        )
        for r in s.execute(select(RS).where(RS.c.apply_id == row.id).order_by(RS.c.id)).all()
    }
    plan = PlanRecord.model_validate(row.plan)
    keys = [st.key for st in plan.steps] + [FINAL_KEY]
    state = row.state
    if state == "running" and row.job_id is not None:  # its job ended without finishing it (killed, failed)
        job_state = s.execute(select(J.c.state).where(J.c.id == row.job_id)).scalar_one_or_none()
        if job_state in ("failed", "cancelled"):
            state = job_state
    return ApplyRecord(
        id=row.id, project=proj.name, change=row.change, state=state, job_id=row.job_id, plan=plan,
        steps=[steps.get(k) or ApplyStepRecord(key=k, status="pending") for k in keys], report=row.report,
        created_at=row.created_at, created_by=row.created_by, finished_at=row.finished_at,
    )  # fmt: skip


def _take_lock(s: Session, proj: ProjectRef, apply_id: int, job_id: int | None) -> None:
    """Hold the project's apply lock for ``apply_id``; refuse while another apply's job is active."""
    row = s.execute(select(RL).where(RL.c.project_id == proj.id, RL.c.name == LOCK).with_for_update()).first()
    now = utcnow()
    if row is None:
        s.execute(
            insert(RL),
            {"project_id": proj.id, "name": LOCK, "apply_id": apply_id, "job_id": job_id, "acquired_at": now},
        )
        return
    if row.apply_id != apply_id and _holder_active(s, row, now):
        job = f"job {row.job_id}" if row.job_id else "its job is starting"
        cancel = f"`ripple job cancel {row.job_id}`" if row.job_id else "`ripple job cancel JOB`"
        raise ConflictError(
            f"apply {row.apply_id} ({job}) is running in project {proj.name!r}; wait for it or cancel it with {cancel}",
            details={"apply": row.apply_id, "job": row.job_id},
        )
    values: dict[str, Any] = {"apply_id": apply_id, "job_id": job_id}
    if row.apply_id != apply_id:
        values["acquired_at"] = now
    s.execute(update(RL).where(RL.c.id == row.id).values(**values))


def _holder_active(s: Session, row: Any, now: Any) -> bool:
    if row.job_id is None:
        acquired = row.acquired_at if row.acquired_at.tzinfo else row.acquired_at.replace(tzinfo=now.tzinfo)
        return bool(now - acquired < UNSTARTED_GRACE)
    state = s.execute(select(J.c.state).where(J.c.id == row.job_id)).scalar_one_or_none()
    return state in {st.value for st in ACTIVE}


# -- the job kind ----------------------------------------------------------------------------------


def _check(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    apply_id = params.get("apply")
    if set(params) != {"apply"} or not isinstance(apply_id, int) or isinstance(apply_id, bool):
        raise InvalidError('ripple.apply takes the apply id only: {"apply": 3} (start one with `ripple apply CHANGE`)')
    return {"apply": apply_id}


def _build(env: JobEnv) -> JobFunction:
    def apply_plan(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Run one apply's unfinished steps (see RippleService.run_apply)."""
        return env.services.ripple.run_apply(env.principal, env.project, int(params["apply"]), ctx)

    return apply_plan


RIPPLE_APPLY = JobKind(
    name=JOB_KIND,
    summary="apply a ripple plan: rebuild, re-evaluate, promote and redeploy, resumable",
    check=_check,
    build=_build,
)
