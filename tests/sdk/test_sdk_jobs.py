"""``rp.jobs`` on the embedded transport (the job runs inline, in this thread) and the
remote one (the server's pool runs it; the SDK polls), over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rippleops import Client, ConflictError, InvalidError, NotFoundError
from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.runtime.executor import JobCancelled, JobContext
from rippleops.services.job_kinds import KINDS, JobKind
from rippleops.settings import Settings
from support import RunningServer

FILES = {
    "answer.yaml": "template: 'Answer: {{ question }}'\n",
    "system.yaml": "template: Be brief.\n",
    "greet.json": '{"template": "Hello {{ name }}"}',
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The home of the suite, with tmp_path/imports as the server's import root."""
    return settings.model_copy(update={"import_roots": str(tmp_path / "imports")})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "imports" / "prompts"
    path.mkdir(parents=True)
    for name, text in FILES.items():
        (path / name).write_text(text)
    return path


def test_submit_and_wait(rp: Client, folder: Path) -> None:
    updates: list[tuple[str, int, list[str]]] = []

    def on_update(job: JobRecord, logs: list[JobLogRecord]) -> None:
        updates.append((job.state.value, job.progress.done, [line.message for line in logs]))

    job = rp.jobs.submit("prompt.import", {"path": str(folder)}, wait=True, timeout=30, on_update=on_update)
    assert (job.kind, job.state.value, job.created_by, job.project) == (
        "prompt.import",
        "succeeded",
        "alice",
        "default",
    )
    assert job.result == {
        "created": ["prompt/answer:1", "prompt/greet:1", "prompt/system:1"],
        "unchanged": [],
        "failed": {},
    }
    assert (job.progress.done, job.progress.total) == (3, 3)
    assert rp.prompts.get("greet").render(name="Ada") == "Hello Ada"
    assert updates[-1][:2] == ("succeeded", 3)
    seen = [m for _, _, msgs in updates for m in msgs]
    assert seen == ["answer.yaml: created prompt/answer:1", "greet.json: created prompt/greet:1",
                    "system.yaml: created prompt/system:1"]  # fmt: skip
    logs = rp.jobs.logs(job.id)
    assert [line.seq for line in logs] == [1, 2, 3] and rp.jobs.logs(job.id, after=2)[0].seq == 3
    assert rp.jobs.get(job.id) == job
    assert [j.id for j in rp.jobs.list(kind="prompt.import", state="succeeded")] == [job.id]


def test_submit_without_waiting_then_wait(rp: Client, folder: Path) -> None:
    job = rp.jobs.submit("prompt.import", {"path": str(folder), "message": "bulk"})
    assert job.state.value in ("queued", "running", "succeeded")  # the embedded transport has run it already
    done = rp.jobs.wait(job.id, timeout=30)
    assert done.state.value == "succeeded"
    assert rp.prompts.get("answer").message == "bulk"


def test_a_failed_import_and_its_rerun(rp: Client, folder: Path) -> None:
    (folder / "broken.yaml").write_text("template: [oops\n")
    job = rp.jobs.wait(rp.jobs.submit("prompt.import", {"path": str(folder)}).id, timeout=30)
    assert job.state.value == "failed" and job.error is not None and job.error.type == "InvalidError"
    assert "1 of 4 prompt files could not be imported: broken.yaml" in job.error.message
    assert job.result is not None and len(job.result["created"]) == 3
    with pytest.raises(ConflictError, match="nothing to cancel"):
        rp.jobs.cancel(job.id)
    (folder / "broken.yaml").write_text("template: mended\n")
    rerun = rp.jobs.rerun(job.id, wait=True, timeout=30)
    assert (rerun.state.value, rerun.rerun_of, rerun.attempt) == ("succeeded", job.id, 2)
    with pytest.raises(ConflictError, match="only failed or cancelled jobs can be rerun"):
        rp.jobs.rerun(rerun.id)


def test_errors(rp: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match=r"unknown job kind 'index\.nope'"):
        rp.jobs.submit("index.nope", {})
    with pytest.raises(NotFoundError, match="job 99 does not exist"):
        rp.jobs.get(99)
    with pytest.raises(InvalidError, match="unknown job state"):
        rp.jobs.list(state="done")
    outside = tmp_path / "outside"
    outside.mkdir()
    if rp.is_remote:  # the server reads only under its import roots; the embedded user reads their own files
        with pytest.raises(InvalidError, match="RIPPLE_IMPORT_ROOTS"):
            rp.jobs.submit("prompt.import", {"path": str(outside)})
    else:
        assert rp.jobs.submit("prompt.import", {"path": str(outside)}).result == {
            "created": [], "unchanged": [], "failed": {}
        }  # fmt: skip


def test_cancel_a_running_job_on_the_server(settings: Settings, server: RunningServer) -> None:
    """The remote transport only: the embedded one runs a job to its end before returning."""
    started = threading.Event()

    def loop(ctx: JobContext, params: dict[str, Any]) -> None:
        started.set()
        while not ctx.cancelled():
            ctx.progress(1, None, "waiting")
            started.wait(0.01)
        raise JobCancelled()

    services = server.server.config.app.state.services  # type: ignore[attr-defined]
    services.jobs.kinds = {**KINDS, "test.loop": JobKind("test.loop", "", lambda p, env: p, lambda env: loop)}
    with Client(url=server.url, token=settings.token_file.read_text().strip(), settings=settings) as rp:
        job = rp.jobs.submit("test.loop")
        assert started.wait(10)
        with pytest.raises(TimeoutError, match=f"job {job.id} is still running after 0.3 s"):
            rp.jobs.wait(job.id, timeout=0.3)
        assert rp.jobs.cancel(job.id).cancel_requested
        done = rp.jobs.wait(job.id, timeout=10)
        assert done.state.value == "cancelled"
        assert [line.message for line in rp.jobs.logs(done.id)] == ["cancel requested by alice", "cancelled"]
