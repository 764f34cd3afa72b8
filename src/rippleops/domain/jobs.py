"""Jobs: the states a job goes through and the rules between them (pure, no I/O).

::

    queued ──> running ──> succeeded
      │           ├──────> failed       (the job raised, or its process died: see recovery)
      │           └──────> cancelled    (it saw a cancel request and stopped)
      └──────────────────> cancelled    (cancelled before it started)
      └──────────────────> failed       (its process died before it started)

A failed or cancelled job can be rerun: a new job with the same kind and parameters,
``rerun_of`` pointing back and ``attempt`` one higher.

>>> JobState.RUNNING.is_terminal
False
>>> can_rerun(JobState.FAILED), can_rerun(JobState.SUCCEEDED)
(True, False)
>>> validate_job_kind("prompt.import")
'prompt.import'
"""

from __future__ import annotations

import re
from enum import StrEnum

from rippleops.errors import InvalidError

_KIND = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
MAX_LOG_MESSAGE = 4000  # characters kept of one log line
MAX_LOG_LINES = 10_000  # lines kept per job; later ones are dropped with one note
LOG_LEVELS = ("debug", "info", "warning", "error")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})
TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

# error types a job can end with besides the exception class of the job code
LOST = "JobLostError"  # its process died (kill -9, crash, power cut)
INTERRUPTED = "JobInterruptedError"  # its server shut down before it finished


def can_rerun(state: JobState) -> bool:
    """Only a job that did not succeed and is not still going can be rerun."""
    return state in (JobState.FAILED, JobState.CANCELLED)


def lost_message(job_id: int) -> str:
    """The error of a job whose process died, with the way out."""
    return f"the process running this job stopped (killed or crashed); rerun it with `ripple job rerun {job_id}`"


def interrupted_message(job_id: int) -> str:
    return f"the server shut down before this job finished; rerun it with `ripple job rerun {job_id}`"


def validate_job_kind(kind: str) -> str:
    """Job kinds are dotted lowercase names, ``area.verb``: ``prompt.import``."""
    if not isinstance(kind, str) or len(kind) > 60 or not _KIND.match(kind):
        raise InvalidError(f"job kind {kind!r} is not valid: write it as area.verb, such as prompt.import")
    return kind


def validate_level(level: str) -> str:
    if level not in LOG_LEVELS:
        raise InvalidError(f"log level {level!r} is not valid; levels: {', '.join(LOG_LEVELS)}")
    return level
