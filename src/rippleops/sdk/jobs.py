"""``rp.jobs``: submit work that takes time, follow its progress and logs, cancel, rerun.

On the embedded transport a job runs in the calling thread before ``submit`` returns (and
``on_update`` is called as it runs); on a server the pool runs it, ``submit`` returns the
queued job at once, and ``wait=True`` / :meth:`Jobs.wait` poll until it has finished.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import Any

from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.sdk.collections import _Collection

OnUpdate = Callable[[JobRecord, list[JobLogRecord]], None]
POLL_FIRST = 0.05  # seconds; doubled while nothing changes, up to POLL_MAX
POLL_MAX = 1.0


class _Follower:
    """Calls ``on_update`` with each new state of a job and each new log line, once."""

    def __init__(self, on_update: OnUpdate | None) -> None:
        self.on_update = on_update
        self.last_seq = 0
        self.last: JobRecord | None = None

    def __call__(self, job: JobRecord, logs: list[JobLogRecord]) -> None:
        fresh = [line for line in logs if line.seq > self.last_seq]
        if fresh:
            self.last_seq = fresh[-1].seq
        changed = job != self.last
        self.last = job
        if self.on_update is not None and (fresh or changed):
            self.on_update(job, fresh)


class Jobs(_Collection):
    """Jobs: imports now; index builds, evals and training later. Each has a state
    (queued, running, succeeded, failed, cancelled), progress, logs, a result or an error.

    >>> job = rp.jobs.submit("prompt.import", {"path": "prompts/"}, wait=True)   # doctest: +SKIP
    >>> job.state, job.result["created"]                                         # doctest: +SKIP
    ('succeeded', ['prompt/answer:1', 'prompt/system:1'])
    >>> [line.message for line in rp.jobs.logs(job.id)]                          # doctest: +SKIP
    ['answer.yaml: created prompt/answer:1', 'system.yaml: created prompt/system:1']
    """

    def submit(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Start a job of ``kind``; with ``wait=True`` return once it has finished.

        ``on_update(job, new_log_lines)`` is called as the job moves on (in this process
        on the embedded transport, by polling on a server)."""
        p = self._p(project)
        follower = _Follower(on_update)
        job = self._t.submit_job(p, kind, params or {}, watch=follower if on_update else None)
        return self._finish(p, job, follower, wait, timeout)

    def rerun(
        self,
        job_id: int,
        *,
        wait: bool = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """A new job with the kind and parameters of a failed or cancelled one (``rerun_of`` set)."""
        p = self._p(project)
        follower = _Follower(on_update)
        job = self._t.rerun_job(p, job_id, watch=follower if on_update else None)
        return self._finish(p, job, follower, wait, timeout)

    def _finish(
        self, project: str, job: JobRecord, follower: _Follower, wait: bool, timeout: float | None
    ) -> JobRecord:
        if wait or (follower.on_update is not None and job.state.is_terminal):
            return self._follow(project, job.id, timeout, follower)
        return job

    def list(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 50, project: str | None = None
    ) -> builtins.list[JobRecord]:
        """Jobs of the project, newest first."""
        return self._t.list_jobs(self._p(project), state=state, kind=kind, limit=limit)

    def get(self, job_id: int, *, project: str | None = None) -> JobRecord:
        return self._t.get_job(self._p(project), job_id)

    def logs(
        self, job_id: int, *, after: int = 0, limit: int = 1000, project: str | None = None
    ) -> builtins.list[JobLogRecord]:
        """Log lines after sequence number ``after`` (pass the last ``seq`` seen to get new ones)."""
        return self._t.job_logs(self._p(project), job_id, after, limit)

    def cancel(self, job_id: int, *, project: str | None = None) -> JobRecord:
        """Cancel a queued job at once, or ask a running one to stop (``cancel_requested``)."""
        return self._t.cancel_job(self._p(project), job_id)

    def wait(
        self,
        job_id: int,
        timeout: float | None = None,
        *,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Poll until the job has finished (backing off from 0.05 s to 1 s while nothing
        changes) and return it; raise :class:`TimeoutError` after ``timeout`` seconds."""
        return self._follow(self._p(project), job_id, timeout, _Follower(on_update))

    def _follow(self, project: str, job_id: int, timeout: float | None, follower: _Follower) -> JobRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = POLL_FIRST
        while True:
            job = self._t.get_job(project, job_id)
            logs = self._t.job_logs(project, job_id, follower.last_seq) if follower.on_update else []
            before = (follower.last_seq, follower.last)
            follower(job, logs)
            if job.state.is_terminal:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"job {job_id} is still {job.state.value} after {timeout} s; "
                    f"wait longer with rp.jobs.wait({job_id}) or cancel it with rp.jobs.cancel({job_id})"
                )
            changed = before != (follower.last_seq, follower.last)
            delay = POLL_FIRST if changed else min(delay * 2, POLL_MAX)
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
