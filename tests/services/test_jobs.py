"""Jobs through the service layer, on SQLite and PostgreSQL: submit, list, show, logs,
cancel (queued, running, from another process's view), rerun, throttled progress, recovery
of jobs whose process died, and the audit events."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from rippleops.domain.access import Principal
from rippleops.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, UnavailableError
from rippleops.runtime.executor import JobCancelled, JobContext, LocalPoolExecutor
from rippleops.runtime.process import identity_of
from rippleops.services import Services
from rippleops.services.job_kinds import KINDS, JobEnv, JobKind
from rippleops.settings import Settings
from rippleops.store.models import Job

P = "default"
GOOD = {
    "answer.yaml": "template: 'Answer: {{ question }}'\nmessage: from a file\n",
    "system.json": '{"template": "Be brief."}',
}


def write_folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_kind(fn: Callable[[JobContext, dict[str, Any]], Any], name: str = "test.run") -> dict[str, JobKind]:
    """The shipped kinds plus one running ``fn`` (parameters pass through unchecked)."""
    return {**KINDS, name: JobKind(name, "a test job", lambda params, env: params, lambda env: fn)}


test_kind.__test__ = False  # type: ignore[attr-defined]


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def pool(settings: Settings, tmp_path: Path) -> Iterator[Services]:
    """Services whose jobs run on a one-worker pool, as in the server (importing under tmp_path/imports)."""
    svc = Services(
        settings.model_copy(update={"import_roots": str(tmp_path / "imports")}), executor=LocalPoolExecutor(1)
    )
    yield svc
    svc.close()


def test_prompt_import_runs_inline_and_is_audited(services: Services, admin: Principal, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "prompts", {**GOOD, "notes.txt": "not a prompt", ".hidden.yaml": "x"})
    job = services.jobs.submit(admin, P, "prompt.import", {"path": str(folder)})
    assert (job.id, job.kind, job.state.value, job.created_by, job.attempt) == (
        1,
        "prompt.import",
        "succeeded",
        "alice",
        1,
    )
    assert job.params == {"path": str(folder.resolve())}
    assert job.result == {"created": ["prompt/answer:1", "prompt/system:1"], "unchanged": [], "failed": {}}
    assert (job.progress.done, job.progress.total) == (2, 2)
    assert job.started_at and job.finished_at and job.error is None
    assert services.prompts.get(admin, P, "answer").message == "from a file"
    logs = services.jobs.logs(admin, P, job.id)
    assert [(line.seq, line.message) for line in logs] == [
        (1, "answer.yaml: created prompt/answer:1"),
        (2, "system.json: created prompt/system:1"),
    ]
    assert services.jobs.logs(admin, P, job.id, after_seq=1)[0].seq == 2
    actions = [(e.action, e.target) for e in services.audit.log(admin) if e.action.startswith(("job", "version"))]
    assert actions == [
        ("job.submit", "job/1"),
        ("version.create", "prompt/answer:1"),
        ("version.create", "prompt/system:1"),
        ("job.finish", "job/1"),
    ]
    again = services.jobs.submit(admin, P, "prompt.import", {"path": str(folder), "message": "again"})
    assert again.result is not None and again.result["unchanged"] == ["prompt/answer:1", "prompt/system:1"]


def test_bad_files_are_skipped_and_fail_the_job_at_the_end(
    services: Services, admin: Principal, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "p", {**GOOD, "broken.yaml": "template: [oops\n", "Bad Name.yaml": "template: x"})
    job = services.jobs.submit(admin, P, "prompt.import", {"path": str(folder)})
    assert job.state.value == "failed" and job.error is not None
    assert job.error.type == "InvalidError"
    assert "2 of 4 prompt files could not be imported: Bad Name.yaml, broken.yaml" in job.error.message
    assert job.result is not None and sorted(job.result["failed"]) == ["Bad Name.yaml", "broken.yaml"]
    assert job.result["created"] == ["prompt/answer:1", "prompt/system:1"]  # the good ones were imported
    levels = [(line.level, line.message.split(":")[0]) for line in services.jobs.logs(admin, P, job.id)]
    assert ("error", "broken.yaml") in levels and ("error", "Bad Name.yaml") in levels and levels[-1][0] == "error"


def test_submit_checks_kind_params_and_role(services: Services, admin: Principal, tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match=r"unknown job kind 'prompt\.nope'; kinds: .*prompt\.import"):
        services.jobs.submit(admin, P, "prompt.nope", {})
    with pytest.raises(InvalidError, match=r"area\.verb"):
        services.jobs.submit(admin, P, "Bad Kind", {})
    with pytest.raises(InvalidError, match="needs `path`"):
        services.jobs.submit(admin, P, "prompt.import", {})
    with pytest.raises(InvalidError, match="unknown: colour"):
        services.jobs.submit(admin, P, "prompt.import", {"path": ".", "colour": "red"})
    with pytest.raises(InvalidError, match="is not a folder"):
        services.jobs.submit(admin, P, "prompt.import", {"path": str(tmp_path / "missing")})
    services.access.create_user(admin, "bob")
    services.access.grant(admin, P, "bob", "viewer")
    bob = services.access.authenticate(services.access.create_token(admin, user="bob").token)
    with pytest.raises(ForbiddenError, match="write needs engineer"):
        services.jobs.submit(bob, P, "prompt.import", {"path": str(tmp_path)})
    assert services.jobs.list(admin, P) == []  # nothing was created by the refused submits
    services.jobs.submit(admin, P, "prompt.import", {"path": str(write_folder(tmp_path / "p", GOOD))})
    assert [j.id for j in services.jobs.list(bob, P)] == [1]  # viewers read jobs
    with pytest.raises(ForbiddenError):
        services.jobs.cancel(bob, P, 1)


def test_list_filters_and_show_in_another_project(services: Services, admin: Principal, tmp_path: Path) -> None:
    good = str(write_folder(tmp_path / "good", GOOD))
    bad = str(write_folder(tmp_path / "bad", {"x.yaml": "nope: 1"}))
    ids = [services.jobs.submit(admin, P, "prompt.import", {"path": p}).id for p in (good, bad, good)]
    assert [j.id for j in services.jobs.list(admin, P)] == ids[::-1]  # newest first
    assert [j.id for j in services.jobs.list(admin, P, state="failed")] == [ids[1]]
    assert [j.id for j in services.jobs.list(admin, P, kind="prompt.import", limit=1)] == [ids[2]]
    assert services.jobs.list(admin, P, kind="dataset.import") == []
    with pytest.raises(InvalidError, match="unknown job state 'done'"):
        services.jobs.list(admin, P, state="done")
    with pytest.raises(InvalidError, match="limit"):
        services.jobs.list(admin, P, limit=0)
    services.projects.create(admin, "other")
    with pytest.raises(NotFoundError, match="job 1 does not exist in project 'other'"):
        services.jobs.show(admin, "other", 1)
    with pytest.raises(NotFoundError):
        services.jobs.logs(admin, "other", 1)


def test_rerun_only_failed_or_cancelled(services: Services, admin: Principal, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "p", {**GOOD, "broken.yaml": "template: [oops\n"})
    failed = services.jobs.submit(admin, P, "prompt.import", {"path": str(folder)})
    (folder / "broken.yaml").write_text("template: fixed\n")
    rerun = services.jobs.rerun(admin, P, failed.id)
    assert (rerun.state.value, rerun.rerun_of, rerun.attempt, rerun.kind) == (
        "succeeded",
        failed.id,
        2,
        "prompt.import",
    )
    assert rerun.result == {
        "created": ["prompt/broken:1"],
        "unchanged": ["prompt/answer:1", "prompt/system:1"],
        "failed": {},
    }
    with pytest.raises(ConflictError, match=f"job {rerun.id} is succeeded; only failed or cancelled jobs can be rerun"):
        services.jobs.rerun(admin, P, rerun.id)
    assert [e.action for e in services.audit.log(admin, action="job.rerun")] == ["job.rerun"]


def test_cancel_a_running_and_a_queued_job(pool: Services, admin: Principal) -> None:
    started = threading.Event()

    def loop(ctx: JobContext, params: dict[str, Any]) -> None:
        started.set()
        while True:
            if ctx.cancelled():
                raise JobCancelled()
            time.sleep(0.01)

    pool.jobs.kinds = test_kind(loop)
    running = pool.jobs.submit(admin, P, "test.run", {})
    queued = pool.jobs.submit(admin, P, "test.run", {})
    assert started.wait(10)
    assert pool.jobs.show(admin, P, queued.id).state.value == "queued"  # one worker, and it is busy

    cancelled = pool.jobs.cancel(admin, P, queued.id)
    assert cancelled.state.value == "cancelled" and cancelled.finished_at is not None
    asked = pool.jobs.cancel(admin, P, running.id)
    assert asked.state.value == "running" and asked.cancel_requested
    wait_for(lambda: pool.jobs.show(admin, P, running.id).state.value == "cancelled")
    wait_for(lambda: pool.jobs.executor.running() == [])  # type: ignore[attr-defined]
    assert pool.jobs.show(admin, P, queued.id).started_at is None  # the worker skipped it
    with pytest.raises(ConflictError, match="already cancelled; there is nothing to cancel"):
        pool.jobs.cancel(admin, P, queued.id)
    logs = [line.message for line in pool.jobs.logs(admin, P, running.id)]
    assert logs == ["cancel requested by alice", "cancelled"]
    assert [e.after["state"] for e in pool.audit.log(admin, action="job.cancel")] == ["cancelled", "running"]
    assert pool.jobs.rerun(admin, P, queued.id).rerun_of == queued.id


def test_a_cancel_made_by_another_process_is_seen(pool: Services, settings: Settings, admin: Principal) -> None:
    started = threading.Event()

    def loop(ctx: JobContext, params: dict[str, Any]) -> None:
        started.set()
        while not ctx.cancelled():
            time.sleep(0.01)
        raise JobCancelled()

    pool.jobs.kinds = test_kind(loop)
    job = pool.jobs.submit(admin, P, "test.run", {})
    assert started.wait(10)
    other = Services(settings)  # another client on the same database: only the row tells the job
    try:
        other.jobs.cancel(admin, P, job.id)
    finally:
        other.close()
    wait_for(lambda: pool.jobs.show(admin, P, job.id).state.value == "cancelled")


def test_wait_blocks_until_a_pool_job_ends(pool: Services, admin: Principal, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "imports" / "p", GOOD)
    job = pool.jobs.submit(admin, P, "prompt.import", {"path": str(folder)}, wait=True)
    assert job.state.value == "succeeded" and job.result is not None and len(job.result["created"]) == 2


def test_a_server_imports_only_under_its_import_roots(pool: Services, admin: Principal, tmp_path: Path) -> None:
    outside = write_folder(tmp_path / "elsewhere", GOOD)
    with pytest.raises(InvalidError, match="only from folders under RIPPLE_IMPORT_ROOTS"):
        pool.jobs.submit(admin, P, "prompt.import", {"path": str(outside)})
    with pytest.raises(InvalidError, match="RIPPLE_IMPORT_ROOTS"):
        pool.jobs.submit(admin, P, "prompt.import", {"path": str(tmp_path / "imports" / ".." / "elsewhere")})
    inside = write_folder(tmp_path / "imports" / "p", GOOD)
    (inside / "escape.yaml").symlink_to(outside / "answer.yaml")  # a link out of the root is not followed
    job = pool.jobs.submit(admin, P, "prompt.import", {"path": str(inside)}, wait=True)
    assert job.state.value == "failed" and job.result is not None
    assert job.result["failed"] == {"escape.yaml": "it links to a file outside RIPPLE_IMPORT_ROOTS"}


def test_progress_writes_are_throttled(services: Services, admin: Principal) -> None:
    n = 20_000

    def tight(ctx: JobContext, params: dict[str, Any]) -> int:
        for i in range(n):
            ctx.progress(i + 1, n, "row")
        return n

    writes: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE jobs SET progress_done"):
            writes.append(statement)

    services.jobs.kinds = test_kind(tight)
    event.listen(services.db.engine, "before_cursor_execute", count)
    try:
        start = time.monotonic()
        job = services.jobs.submit(admin, P, "test.run", {})
        elapsed = time.monotonic() - start
    finally:
        event.remove(services.db.engine, "before_cursor_execute", count)
    assert job.state.value == "succeeded" and job.result == n
    assert (job.progress.done, job.progress.total) == (n, n)
    assert 1 <= len(writes) <= 2 + elapsed / 0.2, f"{len(writes)} progress writes in {elapsed:.2f} s"


def test_a_bad_log_level_fails_the_job(services: Services, admin: Principal) -> None:
    services.jobs.kinds = test_kind(lambda ctx, params: ctx.log("hi", level="loud"))
    job = services.jobs.submit(admin, P, "test.run", {})
    assert job.state.value == "failed" and job.error is not None and "loud" in job.error.message


def test_recovery_fails_the_jobs_of_dead_processes_only(
    services: Services, settings: Settings, admin: Principal, tmp_path: Path
) -> None:
    if identity_of(1) is None and not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to name another process")
    folder = str(write_folder(tmp_path / "p", GOOD))
    ids = [services.jobs.submit(admin, P, "prompt.import", {"path": folder}).id for _ in range(3)]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = identity_of(child.pid)
    child.kill()
    child.wait()
    assert dead is not None
    owners = {
        ids[0]: (dead.host, dead.pid, dead.instance, "running"),  # its process was killed
        ids[1]: ("another-host", 1, "x/y/1", "running"),  # cannot be checked from here
        ids[2]: (dead.host, dead.pid, dead.instance, "queued"),
    }

    def rewind(s: Any) -> None:
        for job_id, (host, pid, instance, state) in owners.items():
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(owner_host=host, owner_pid=pid, owner_instance=instance, state=state, finished_at=None)
            )

    services.db.write(rewind)
    fresh = Services(settings)  # a process starting up: its first job operation recovers
    try:
        listed = {j.id: j for j in fresh.jobs.list(admin, P)}
        assert fresh.jobs.recover() == []  # already done, and idempotent
    finally:
        fresh.close()
    for job_id in (ids[0], ids[2]):
        job = listed[job_id]
        assert job.state.value == "failed" and job.error is not None and job.error.type == "JobLostError"
        assert job.error.message == (
            f"the process running this job stopped (killed or crashed); rerun it with `ripple job rerun {job_id}`"
        )
    assert listed[ids[1]].state.value == "running"
    assert [e.target for e in services.audit.log(admin, action="job.recover")] == [f"job/{ids[0]}", f"job/{ids[2]}"]
    assert services.audit.log(admin, action="job.recover")[0].actor == "system:recovery"
    assert services.jobs.rerun(admin, P, ids[0]).state.value == "succeeded"
    assert services.audit.verify(admin).ok


def test_the_env_names_who_runs_the_job(services: Services, admin: Principal) -> None:
    seen: list[JobEnv] = []

    def build(env: JobEnv) -> Callable[[JobContext, dict[str, Any]], Any]:
        seen.append(env)
        return lambda ctx, params: None

    services.jobs.kinds = {"test.env": JobKind("test.env", "", lambda params, env: params, build)}
    services.jobs.submit(admin, P, "test.env", {})
    assert (seen[0].principal.name, seen[0].project, seen[0].local) == ("alice", P, True)


def test_a_stopped_pool_refuses_new_jobs_and_marks_them_failed(
    pool: Services, admin: Principal, tmp_path: Path
) -> None:
    pool.jobs.shutdown()
    folder = write_folder(tmp_path / "imports" / "p", GOOD)
    with pytest.raises(UnavailableError, match="the server is stopping"):
        pool.jobs.submit(admin, P, "prompt.import", {"path": str(folder)})
    job = pool.jobs.list(admin, P)[0]
    assert job.state.value == "failed" and job.error is not None and job.error.type == "JobInterruptedError"
