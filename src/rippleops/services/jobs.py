"""Jobs: submit work of a registered kind, follow it, cancel it, rerun it, and repair the
records of jobs whose process died (:meth:`JobService.recover`).

The service owns job records; the executor (inline in the CLI and SDK, a thread pool in the
server) runs the job function and reports back through :class:`~rippleops.services.job_runs.JobRun`.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.jobs import ACTIVE, LOST, JobState, can_rerun, lost_message, validate_job_kind
from rippleops.domain.records import JobLogRecord, JobRecord, JobWatcher
from rippleops.errors import ConflictError, InvalidError, NotFoundError, UnavailableError
from rippleops.runtime.executor import Executor, ExecutorClosedError, JobContext
from rippleops.runtime.process import ProcessIdentity, is_alive, this_process
from rippleops.services import audit
from rippleops.services.access import AccessService, ProjectRef
from rippleops.services.job_kinds import KINDS, JobEnv, JobKind
from rippleops.services.job_runs import JobRun, append_log, job_record
from rippleops.settings import Settings
from rippleops.store.db import Database
from rippleops.store.models import Job, JobLog, Project
from rippleops.store.models.base import utcnow

if TYPE_CHECKING:  # jobs get the whole services object (built around this one) through JobEnv
    from rippleops.services import Services

MAX_LIST = 500
MAX_LOG_PAGE = 5000
RECOVERY_ACTOR = "system:recovery"  # not a valid user name, so it never passes for one


class JobService:
    def __init__(
        self,
        db: Database,
        access: AccessService,
        settings: Settings,
        services: Services,
        executor: Executor,
        kinds: Mapping[str, JobKind] = KINDS,
    ) -> None:
        self.db = db
        self.access = access
        self.settings = settings
        self.services = services
        self.executor = executor
        self.kinds = kinds
        self._runs: dict[int, JobRun] = {}  # jobs submitted by this process and not finished
        self._lock = threading.Lock()
        self._recovered = False

    # -- submitting ----------------------------------------------------------------------------

    def submit(
        self,
        principal: Principal,
        project: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        watch: JobWatcher | None = None,
    ) -> JobRecord:
        """Create a queued job and hand it to the executor. The inline executor runs it
        before this returns; with a pool, ``wait=True`` blocks until it has finished."""
        self._ensure_recovered()
        job_kind, env = self._kind(kind), self._env(principal, project)
        checked = job_kind.check(_params(params), env)
        record = self._create(principal, project, job_kind.name, checked, "job.submit")
        return self._dispatch(record, job_kind, env, wait, watch)

    def rerun(
        self, principal: Principal, project: str, job_id: int, *, wait: bool = False, watch: JobWatcher | None = None
    ) -> JobRecord:
        """A new job with the kind and parameters of a failed or cancelled one."""
        self._ensure_recovered()
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            old = job_record(_find(s, proj, job_id), project)
        if not can_rerun(old.state):
            raise ConflictError(
                f"job {job_id} is {old.state.value}; only failed or cancelled jobs can be rerun"
                + (f" (cancel it first: `ripple job cancel {job_id}`)" if old.state in ACTIVE else "")
            )
        job_kind, env = self._kind(old.kind), self._env(principal, project)
        checked = job_kind.check(dict(old.params), env)
        record = self._create(principal, project, old.kind, checked, "job.rerun", rerun_of=old)
        return self._dispatch(record, job_kind, env, wait, watch)

    def _kind(self, kind: str) -> JobKind:
        found = self.kinds.get(validate_job_kind(kind))
        if found is None:
            raise InvalidError(f"unknown job kind {kind!r}; kinds: {', '.join(sorted(self.kinds))}")
        return found

    def _env(self, principal: Principal, project: str) -> JobEnv:
        return JobEnv(principal, project, self.services, self.settings, self.executor.local)

    def _create(
        self,
        principal: Principal,
        project: str,
        kind: str,
        params: dict[str, Any],
        action: str,
        rerun_of: JobRecord | None = None,
    ) -> JobRecord:
        owner = this_process()

        def work(s: Session) -> JobRecord:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            job = Job(
                project_id=proj.id, kind=kind, params=params, state=JobState.QUEUED.value, progress_done=0,
                progress_message="", cancel_requested=False, created_at=utcnow(), created_by=principal.name,
                attempt=rerun_of.attempt + 1 if rerun_of else 1, rerun_of=rerun_of.id if rerun_of else None,
                owner_host=owner.host, owner_pid=owner.pid, owner_instance=owner.instance,
            )  # fmt: skip
            s.add(job)
            s.flush()
            after = {"kind": kind, "params": params, **({"rerun_of": rerun_of.id} if rerun_of else {})}
            audit.record(s, principal.name, action, f"job/{job.id}", project=project, after=after)
            return job_record(job, project)

        return self.db.write(work)

    def _dispatch(
        self, record: JobRecord, kind: JobKind, env: JobEnv, wait: bool, watch: JobWatcher | None
    ) -> JobRecord:
        run = JobRun(self.db, self.settings, record, env.principal.name, watch, self._forget)
        with self._lock:
            self._runs[record.id] = run
        try:
            self.executor.submit(record.id, kind.build(env), record.params, JobContext(record.id, run.hooks()))
        except ExecutorClosedError as exc:
            run.finish("interrupted", None, None)
            raise UnavailableError(f"the job cannot start: {exc} (the server is stopping); submit it again") from exc
        if wait:
            run.done.wait()
        return self.show(env.principal, env.project, record.id)

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._runs.pop(job_id, None)

    # -- reading ---------------------------------------------------------------------------------

    def list(
        self,
        principal: Principal,
        project: str,
        *,
        state: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> builtins.list[JobRecord]:
        """Jobs of the project, newest first."""
        self._ensure_recovered()
        if not 1 <= limit <= MAX_LIST:
            raise InvalidError(f"limit must be between 1 and {MAX_LIST}")
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            q = select(Job).where(Job.project_id == proj.id).order_by(Job.id.desc()).limit(limit)
            if state is not None:
                q = q.where(Job.state == _state(state).value)
            if kind is not None:
                q = q.where(Job.kind == kind)
            return [job_record(j, project) for j in s.execute(q).scalars()]

    def show(self, principal: Principal, project: str, job_id: int) -> JobRecord:
        self._ensure_recovered()
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            return job_record(_find(s, proj, job_id), project)

    def logs(
        self, principal: Principal, project: str, job_id: int, after_seq: int = 0, limit: int = 1000
    ) -> builtins.list[JobLogRecord]:
        """Log lines with ``seq`` above ``after_seq``, oldest first (pass the last seen back)."""
        if not 1 <= limit <= MAX_LOG_PAGE:
            raise InvalidError(f"limit must be between 1 and {MAX_LOG_PAGE}")
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            job = _find(s, proj, job_id)
            q = select(JobLog).where(JobLog.job_id == job.id, JobLog.seq > after_seq).order_by(JobLog.seq).limit(limit)
            return [JobLogRecord(seq=r.seq, at=r.at, level=r.level, message=r.message) for r in s.execute(q).scalars()]

    # -- cancelling and recovering ---------------------------------------------------------------

    def cancel(self, principal: Principal, project: str, job_id: int) -> JobRecord:
        """A queued job is cancelled at once; a running one is asked to stop and does at its
        next check (``cancel_requested`` shows the request until then)."""
        self._ensure_recovered()

        def work(s: Session) -> JobRecord:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            job = _find(s, proj, job_id, lock=True)
            before = job.state
            if job.state == JobState.QUEUED.value:
                job.state, job.finished_at = JobState.CANCELLED.value, utcnow()
                append_log(s, job.id, "warning", f"cancelled by {principal.name} before it started")
            elif job.state == JobState.RUNNING.value:
                if not job.cancel_requested:
                    append_log(s, job.id, "warning", f"cancel requested by {principal.name}")
                job.cancel_requested = True
            else:
                raise ConflictError(f"job {job_id} already {job.state}; there is nothing to cancel")
            after = {"state": job.state, "cancel_requested": job.cancel_requested}
            audit.record(s, principal.name, "job.cancel", f"job/{job.id}", project=project, before=before, after=after)
            return job_record(job, project)

        record = self.db.write(work)
        with self._lock:
            run = self._runs.get(job_id)
        if run is not None:
            run.cancel.set()
        return record

    def _ensure_recovered(self) -> None:
        if not self._recovered:
            self.recover()

    def recover(self) -> builtins.list[int]:
        """Mark failed every queued or running job whose owner process is gone; their ids.

        Runs when the server starts and before the first job operation of an embedded
        client. Jobs of live processes, and of other hosts (which this one cannot check),
        are left alone."""
        self._recovered = True
        with self.db.reading() as s:
            rows = s.execute(
                select(Job.id, Job.owner_host, Job.owner_pid, Job.owner_instance)
                .where(Job.state.in_([st.value for st in ACTIVE]))
                .order_by(Job.id)
            ).all()
        marked = []
        for job_id, host, pid, instance in rows:
            if is_alive(ProcessIdentity(host, pid, instance)) is False:

                def work(s: Session, job_id: int = job_id, instance: str = instance) -> bool:
                    return _mark_lost(s, job_id, instance)

                if self.db.write(work):
                    marked.append(job_id)
        return marked

    def shutdown(self) -> None:
        """Stop the executor: running jobs are asked to stop, queued ones are marked failed."""
        self.executor.shutdown()


def _mark_lost(s: Session, job_id: int, instance: str) -> bool:
    job = s.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one()
    if job.state not in {st.value for st in ACTIVE} or job.owner_instance != instance:
        return False
    job.state, job.finished_at = JobState.FAILED.value, utcnow()
    job.error = {"type": LOST, "message": lost_message(job_id), "traceback": None}
    append_log(s, job_id, "error", f"failed: {lost_message(job_id)}")
    project = s.execute(select(Project.name).where(Project.id == job.project_id)).scalar_one()
    audit.record(s, RECOVERY_ACTOR, "job.recover", f"job/{job_id}", project=project, after={"state": job.state})
    return True


def _find(s: Session, proj: ProjectRef, job_id: int, *, lock: bool = False) -> Job:
    q = select(Job).where(Job.id == job_id, Job.project_id == proj.id)
    job = s.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if job is None:
        raise NotFoundError(
            f"job {job_id} does not exist in project {proj.name!r}; see the jobs with `ripple job list`"
        )
    return job


def _state(state: str) -> JobState:
    try:
        return JobState(state)
    except ValueError:
        raise InvalidError(f"unknown job state {state!r}; states: {', '.join(s.value for s in JobState)}") from None


def _params(params: dict[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidError("job parameters must be a JSON object")
    return params
