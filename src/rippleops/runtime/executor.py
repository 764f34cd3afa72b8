"""Executors run jobs: :class:`InlineExecutor` in the caller's thread, :class:`LocalPoolExecutor`
on a pool of worker threads (the server's). :func:`run_job` is the boundary around job code.

A job function takes a :class:`JobContext` and the job's JSON parameters and returns a JSON
result. It reports through the context, which the jobs service builds from callbacks
(:class:`JobHooks`), so that nothing here knows where jobs are stored::

    def count(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        for i in range(params["n"]):
            if ctx.cancelled():
                raise JobCancelled()
            ctx.progress(i + 1, params["n"], f"item {i}")
        ctx.log("counted")
        return {"n": params["n"]}

The seam for running the same job code elsewhere (a Ray cluster, in a later issue) is
:class:`Executor`: ``submit`` gets the function, its parameters and the context; a remote
executor ships the first two and relays the context's calls back.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rippleops.errors import ERRORS_BY_TYPE, RippleError

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
Outcome = Literal["succeeded", "failed", "cancelled", "interrupted"]


class ExecutorClosedError(RuntimeError):
    """The executor was shut down (its server is stopping) and takes no more jobs."""


class JobCancelled(Exception):
    """Raised by job code when :meth:`JobContext.cancelled` says to stop."""


@dataclass(frozen=True, slots=True)
class JobFailure:
    """How job code failed: the exception's type, message and traceback."""

    type: str
    message: str
    traceback: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> JobFailure:
        """A Ripple error is named by its public type (``InvalidError`` ...), so that every
        interface can raise it again; anything else by its class name."""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        name = type(exc).__name__
        if isinstance(exc, RippleError):
            name = next(c.__name__ for c in type(exc).__mro__ if c.__name__ in ERRORS_BY_TYPE)
        return cls(name, str(message), tb)


@dataclass(slots=True)
class JobHooks:
    """What the jobs service gives an executor for one job.

    ``start`` marks the job running and returns False when it must not run (it was
    cancelled while queued); ``finish`` records how it ended, exactly once."""

    start: Callable[[], bool]
    finish: Callable[[Outcome, Any, JobFailure | None], None]
    progress: Callable[[int, int | None, str], None]
    log: Callable[[str, str], None]
    is_cancelled: Callable[[], bool]


@dataclass(slots=True)
class JobContext:
    """What a job function sees: report progress, write log lines, check for cancellation.

    >>> ctx = JobContext(1, JobHooks(lambda: True, print, print, print, lambda: False))
    >>> ctx.cancelled()
    False
    """

    job_id: int
    hooks: JobHooks
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the executor shuts down

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """``done`` of ``total`` steps (``total`` None: not known), with a short message."""
        self.hooks.progress(int(done), None if total is None else int(total), message)

    def log(self, message: str, level: str = "info") -> None:
        """A line in the job's log (levels: debug, info, warning, error)."""
        self.hooks.log(message, level)

    def cancelled(self) -> bool:
        """True when the job should stop: raise :class:`JobCancelled` then."""
        return self.stopping.is_set() or self.hooks.is_cancelled()


JobFunction = Callable[[JobContext, dict[str, Any]], Any]


def run_job(fn: JobFunction, params: dict[str, Any], context: JobContext) -> None:
    """Run one job and record how it ended through ``context.hooks.finish``."""
    hooks = context.hooks
    if not hooks.start():
        return
    try:
        result = fn(context, params)
        json.dumps(result)  # the result is stored and sent as JSON: refuse anything else here
    except JobCancelled:
        hooks.finish("interrupted" if context.stopping.is_set() else "cancelled", None, None)
    except KeyboardInterrupt:  # Ctrl-C in the CLI running a job inline: record it, then stop
        hooks.finish("cancelled", None, None)
        raise
    except Exception as exc:  # boundary around job code: record type, message and traceback; the job failed
        log.info("job %s failed: %s: %s", context.job_id, type(exc).__name__, exc)
        hooks.finish("failed", _partial_result(exc), JobFailure.from_exception(exc))
    else:
        hooks.finish("succeeded", result, None)


def _partial_result(exc: Exception) -> Any:
    """What a failed job did get done, when its exception carries a JSON ``result``."""
    result = getattr(exc, "result", None)
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        return None
    return result


class Executor(ABC):
    """Runs submitted jobs; the backends are inline, a local thread pool, and (later) Ray."""

    #: True when jobs run in the process that submits them (so they may read its files)
    local: bool = True

    @abstractmethod
    def submit(self, job_id: int, fn: JobFunction, params: dict[str, Any], context: JobContext) -> None: ...

    @abstractmethod
    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; ask running ones to stop and wait up to ``timeout`` seconds."""


class InlineExecutor(Executor):
    """Runs each job in the caller's thread before ``submit`` returns (CLI, SDK, tests)."""

    def submit(self, job_id: int, fn: JobFunction, params: dict[str, Any], context: JobContext) -> None:
        run_job(fn, params, context)

    def shutdown(self, timeout: float = 10.0) -> None:
        return None


@dataclass(slots=True)
class _Item:
    fn: JobFunction
    params: dict[str, Any]
    context: JobContext


class LocalPoolExecutor(Executor):
    """``workers`` daemon threads taking jobs from a queue, in submission order (the server's).

    Daemon threads, so a job that never checks :meth:`JobContext.cancelled` cannot keep the
    process from exiting; its record is then repaired by recovery at the next start."""

    local = False  # a server runs the job, not the caller's machine

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = workers
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._running: dict[int, JobContext] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job_id: int, fn: JobFunction, params: dict[str, Any], context: JobContext) -> None:
        with self._lock:
            if self._closed:
                raise ExecutorClosedError("the job pool was shut down")
            if not self._threads:  # started on first use: building an app must not spawn threads
                for i in range(self.workers):
                    t = threading.Thread(target=self._work, name=f"ripple-job-{i + 1}", daemon=True)
                    t.start()
                    self._threads.append(t)
        self._queue.put(_Item(fn, params, context))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._lock:
                closed = self._closed
                if not closed:
                    self._running[item.context.job_id] = item.context
            if closed:  # shut down while it waited: it never started
                self._abandon(item)
                continue
            try:
                run_job(item.fn, item.params, item.context)
            except Exception:  # boundary of the worker thread: a hook failed (database down); keep the worker
                log.exception("recording job %s failed; recovery repairs it at the next start", item.context.job_id)
            finally:
                with self._lock:
                    self._running.pop(item.context.job_id, None)

    @staticmethod
    def _abandon(item: _Item) -> None:
        try:
            item.context.hooks.finish("interrupted", None, None)
        except Exception:  # boundary of the worker thread, as above
            log.exception("recording job %s as interrupted failed", item.context.job_id)

    def running(self) -> list[int]:
        """Ids of the jobs running now."""
        with self._lock:
            return sorted(self._running)

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for context in self._running.values():
                context.stopping.set()
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for t in threads:
            t.join(timeout / max(len(threads), 1))
