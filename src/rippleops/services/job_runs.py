"""One job as it runs in this process: the callbacks (:class:`JobHooks`) the jobs service
gives the executor. They write the job's state, throttled progress and log lines, answer
"was it cancelled?", and tell an in-process watcher (the embedded CLI's progress bar)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from rippleops.domain.jobs import (
    INTERRUPTED,
    MAX_LOG_LINES,
    MAX_LOG_MESSAGE,
    JobState,
    interrupted_message,
    validate_level,
)
from rippleops.domain.records import JobError, JobLogRecord, JobProgress, JobRecord, JobWatcher
from rippleops.runtime.executor import JobFailure, JobHooks, Outcome
from rippleops.services import audit
from rippleops.settings import Settings
from rippleops.store.db import Database
from rippleops.store.models import Job, JobLog
from rippleops.store.models.base import utcnow

PROGRESS_INTERVAL = 0.2  # seconds between progress writes of one job (and always on completion)
CANCEL_POLL_INTERVAL = 0.5  # seconds between reads of a cancel request made by another process


def job_record(job: Job, project: str) -> JobRecord:
    return JobRecord(
        id=job.id,
        project=project,
        kind=job.kind,
        params=job.params,
        state=JobState(job.state),
        progress=JobProgress(done=job.progress_done, total=job.progress_total, message=job.progress_message),
        result=job.result,
        error=JobError.model_validate(job.error) if job.error else None,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        created_by=job.created_by,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempt=job.attempt,
        rerun_of=job.rerun_of,
        owner=f"{job.owner_host}:{job.owner_pid}",
    )


def append_log(s: Session, job_id: int, level: str, message: str) -> JobLogRecord:
    """Add a line to a job's log in the caller's transaction (``seq`` is the next number;
    a concurrent writer of the same job makes the unique (job_id, seq) clash and retry)."""
    seq = s.execute(select(func.coalesce(func.max(JobLog.seq), 0)).where(JobLog.job_id == job_id)).scalar_one() + 1
    line = JobLog(job_id=job_id, seq=seq, at=utcnow(), level=level, message=message[:MAX_LOG_MESSAGE])
    s.add(line)
    s.flush()
    return JobLogRecord(seq=line.seq, at=line.at, level=line.level, message=line.message)


def _changed(result: Any) -> bool:
    """Whether an UPDATE matched a row (its guard on the state held)."""
    return bool(cast(CursorResult[Any], result).rowcount)


class JobRun:
    """The hooks of one job; ``done`` is set once it has finished (for ``wait=True``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        record: JobRecord,
        actor: str,
        watch: JobWatcher | None,
        forget: Callable[[int], None],
    ) -> None:
        self.db = db
        self.forget = forget  # called once the job has ended, so the service drops this run
        self.settings = settings
        self.record = record  # a snapshot kept up to date for the watcher
        self.actor = actor
        self.watch = watch
        self.cancel = threading.Event()  # set by JobService.cancel in this process
        self.done = threading.Event()
        self._last_write = 0.0
        self._last_poll = time.monotonic()
        self._pending: tuple[int, int | None, str] | None = None
        self._lines = 0

    def hooks(self) -> JobHooks:
        return JobHooks(self.start, self.finish, self.progress, self.log, self.is_cancelled)

    def _notify(self, logs: list[JobLogRecord] | None = None) -> None:
        if self.watch is not None:
            self.watch(self.record, logs or [])

    # -- the hooks ---------------------------------------------------------------------------

    def start(self) -> bool:
        now = utcnow()

        def work(s: Session) -> bool:
            q = update(Job).where(Job.id == self.record.id, Job.state == JobState.QUEUED.value)
            return _changed(s.execute(q.values(state=JobState.RUNNING.value, started_at=now)))

        if not self.db.write(work):
            self._ended()  # cancelled (or recovered) while it waited
            return False
        self.record = self.record.model_copy(update={"state": JobState.RUNNING, "started_at": now})
        self._notify()
        return True

    def progress(self, done: int, total: int | None, message: str) -> None:
        """Every call reaches the watcher; the database gets at most one write per
        :data:`PROGRESS_INTERVAL`, plus the last one (on completion or when the job ends)."""
        self._pending = (done, total, message[:MAX_LOG_MESSAGE])
        if self.watch is not None:
            progress = JobProgress(done=done, total=total, message=self._pending[2])
            self.record = self.record.model_copy(update={"progress": progress})
            self._notify()
        now = time.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL and (total is None or done < total):
            return
        self._last_write = now
        self._write_progress()
        self.settings.fault("job.after_progress")

    def _write_progress(self) -> None:
        if self._pending is None:
            return
        done, total, message = self._pending
        self._pending = None

        def work(s: Session) -> None:
            q = update(Job).where(Job.id == self.record.id)
            s.execute(q.values(progress_done=done, progress_total=total, progress_message=message))

        self.db.write(work)
        progress = JobProgress(done=done, total=total, message=message)
        self.record = self.record.model_copy(update={"progress": progress})

    def log(self, message: str, level: str) -> None:
        validate_level(level)
        self._lines += 1
        if self._lines > MAX_LOG_LINES + 1:
            return
        if self._lines == MAX_LOG_LINES + 1:
            level, message = "warning", f"more than {MAX_LOG_LINES} log lines; the rest are dropped"
        line = self.db.write(lambda s: append_log(s, self.record.id, level, str(message)))
        self._notify([line])

    def is_cancelled(self) -> bool:
        if self.cancel.is_set():
            return True
        now = time.monotonic()
        if now - self._last_poll >= CANCEL_POLL_INTERVAL:
            self._last_poll = now
            with self.db.reading() as s:
                if s.execute(select(Job.cancel_requested).where(Job.id == self.record.id)).scalar_one_or_none():
                    self.cancel.set()
        return self.cancel.is_set()

    def finish(self, outcome: Outcome, result: Any, failure: JobFailure | None) -> None:
        try:
            self._write_progress()
            self._finish(outcome, result, failure)
        finally:
            self._ended()
        self._notify()

    def _ended(self) -> None:
        self.forget(self.record.id)
        self.done.set()

    def _finish(self, outcome: Outcome, result: Any, failure: JobFailure | None) -> None:
        job_id = self.record.id
        if outcome == "succeeded" and len(json.dumps(result)) > self.settings.max_payload_bytes:
            outcome, result = "failed", None
            failure = JobFailure("InvalidError", f"the job's result is over {self.settings.max_payload_bytes} bytes")
        state = {"succeeded": JobState.SUCCEEDED, "cancelled": JobState.CANCELLED}.get(outcome, JobState.FAILED)
        if outcome == "interrupted":
            failure = JobFailure(INTERRUPTED, interrupted_message(job_id))
        error = (
            None
            if failure is None
            else {"type": failure.type, "message": failure.message, "traceback": failure.traceback}
        )
        now = utcnow()

        def work(s: Session) -> bool:
            active = (JobState.QUEUED.value, JobState.RUNNING.value)
            q = update(Job).where(Job.id == job_id, Job.state.in_(active))
            if not _changed(s.execute(q.values(state=state.value, result=result, error=error, finished_at=now))):
                return False  # someone else ended it (recovery, a cancel while queued)
            if failure is not None:
                append_log(s, job_id, "error", f"failed: {failure.type}: {failure.message}")
            elif state is JobState.CANCELLED:
                append_log(s, job_id, "warning", "cancelled")
            after = {"state": state.value, **({"error": failure.type} if failure else {})}
            audit.record(s, self.actor, "job.finish", f"job/{job_id}", project=self.record.project, after=after)
            return True

        if self.db.write(work):
            update_ = {
                "state": state,
                "result": result,
                "finished_at": now,
                "error": JobError(**error) if error else None,
            }
            self.record = self.record.model_copy(update=update_)
