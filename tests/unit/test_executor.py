"""The executors with plain job functions: progress, logs, results, errors with their
traceback, cancellation, Ctrl-C, and the pool's concurrency and shutdown. The hooks here
are a recorder standing in for the jobs service (which tests/services covers for real)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from rippleops.errors import NotFoundError
from rippleops.runtime.executor import (
    ExecutorClosedError,
    InlineExecutor,
    JobCancelled,
    JobContext,
    JobFailure,
    JobHooks,
    LocalPoolExecutor,
    run_job,
)


class Recorder:
    """Records every hook call of one job."""

    def __init__(self, job_id: int = 1, *, may_start: bool = True) -> None:
        self.job_id = job_id
        self.may_start = may_start
        self.started = False
        self.cancel = threading.Event()
        self.progress: list[tuple[int, int | None, str]] = []
        self.logs: list[tuple[str, str]] = []
        self.outcome: tuple[str, Any, JobFailure | None] | None = None
        self.finished = threading.Event()

    def start(self) -> bool:
        self.started = self.may_start
        return self.may_start

    def finish(self, outcome: str, result: Any, failure: JobFailure | None) -> None:
        self.outcome = (outcome, result, failure)
        self.finished.set()

    def context(self) -> JobContext:
        hooks = JobHooks(
            self.start,
            self.finish,  # type: ignore[arg-type]
            lambda d, t, m: self.progress.append((d, t, m)),
            lambda m, level: self.logs.append((level, m)),
            self.cancel.is_set,
        )
        return JobContext(self.job_id, hooks)


def count(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    for i in range(params["n"]):
        if ctx.cancelled():
            raise JobCancelled()
        ctx.progress(i + 1, params["n"], f"item {i}")
    ctx.log("counted")
    ctx.log("careful", level="warning")
    return {"n": params["n"]}


def test_inline_runs_before_returning_with_progress_logs_and_result() -> None:
    rec = Recorder()
    InlineExecutor().submit(1, count, {"n": 3}, rec.context())
    assert rec.started and rec.outcome == ("succeeded", {"n": 3}, None)
    assert rec.progress == [(1, 3, "item 0"), (2, 3, "item 1"), (3, 3, "item 2")]
    assert rec.logs == [("info", "counted"), ("warning", "careful")]


def test_errors_are_recorded_with_type_message_and_traceback() -> None:
    def broken(ctx: JobContext, params: dict[str, Any]) -> None:
        ctx.progress(1, 2)
        raise ValueError("the third row has no id")

    rec = Recorder()
    InlineExecutor().submit(1, broken, {}, rec.context())  # the executor does not raise
    assert rec.outcome is not None
    outcome, result, failure = rec.outcome
    assert (outcome, result) == ("failed", None)
    assert failure is not None and (failure.type, failure.message) == ("ValueError", "the third row has no id")
    assert failure.traceback is not None
    assert "Traceback" in failure.traceback and 'raise ValueError("the third row has no id")' in failure.traceback


def test_a_ripple_error_keeps_its_public_type_and_a_partial_result() -> None:
    class MissingThing(NotFoundError):
        def __init__(self) -> None:
            super().__init__("dataset/x does not exist")
            self.result = {"done": ["a"]}

    def missing(ctx: JobContext, params: dict[str, Any]) -> None:
        raise MissingThing()

    rec = Recorder()
    run_job(missing, {}, rec.context())
    assert rec.outcome is not None
    assert rec.outcome[0] == "failed" and rec.outcome[1] == {"done": ["a"]}
    assert rec.outcome[2] is not None and rec.outcome[2].type == "NotFoundError"


def test_a_result_that_is_not_json_fails_the_job() -> None:
    rec = Recorder()
    run_job(lambda ctx, params: {"when": object()}, {}, rec.context())
    assert rec.outcome is not None and rec.outcome[0] == "failed"
    assert rec.outcome[2] is not None and rec.outcome[2].type == "TypeError"


def test_cooperative_cancellation() -> None:
    rec = Recorder()
    rec.cancel.set()
    run_job(count, {"n": 5}, rec.context())
    assert rec.outcome == ("cancelled", None, None) and rec.progress == []


def test_a_job_that_may_not_start_is_not_run() -> None:
    rec = Recorder(may_start=False)
    run_job(count, {"n": 5}, rec.context())
    assert rec.outcome is None and rec.progress == []


def test_ctrl_c_records_a_cancel_and_still_stops_the_caller() -> None:
    def interrupted(ctx: JobContext, params: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    rec = Recorder()
    with pytest.raises(KeyboardInterrupt):
        InlineExecutor().submit(1, interrupted, {}, rec.context())
    assert rec.outcome == ("cancelled", None, None)


def test_the_pool_runs_jobs_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=10)  # both jobs must be running at once to pass it
    threads: set[str] = set()

    def meet(ctx: JobContext, params: dict[str, Any]) -> str:
        threads.add(threading.current_thread().name)
        barrier.wait()
        return "met"

    pool = LocalPoolExecutor(workers=2)
    recs = [Recorder(i) for i in (1, 2)]
    for rec in recs:
        pool.submit(rec.job_id, meet, {}, rec.context())
    for rec in recs:
        assert rec.finished.wait(10)
        assert rec.outcome == ("succeeded", "met", None)
    assert threads == {"ripple-job-1", "ripple-job-2"}
    pool.shutdown()


def test_the_pool_queues_beyond_its_workers_and_shutdown_interrupts() -> None:
    release = threading.Event()

    def block(ctx: JobContext, params: dict[str, Any]) -> None:
        while not release.wait(0.01):
            if ctx.cancelled():
                raise JobCancelled()

    pool = LocalPoolExecutor(workers=1)
    running, queued = Recorder(1), Recorder(2)
    pool.submit(1, block, {}, running.context())
    pool.submit(2, block, {}, queued.context())
    deadline = time.monotonic() + 10
    while pool.running() != [1]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not queued.started
    pool.shutdown(timeout=10)
    assert running.outcome == ("interrupted", None, None)  # it saw the stop and ended
    assert queued.outcome == ("interrupted", None, None) and not queued.started  # never started
    with pytest.raises(ExecutorClosedError, match="shut down"):
        pool.submit(3, block, {}, Recorder(3).context())


def test_the_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        LocalPoolExecutor(workers=0)
