"""A job's server killed with it: the real server as a subprocess, killed with SIGKILL in the
middle of a ``prompt.import`` (by the ``job.after_progress`` fault point, and by ``kill -9``
from outside). After a restart the job is failed with a message that says what happened and
how to rerun it; the rerun succeeds; and every version that was registered is whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rippleops import Client, UnavailableError
from rippleops.domain.records import JobRecord
from rippleops.settings import Settings
from support import ServerProcess

pytestmark = pytest.mark.slow
RIPPLE = Path(sys.executable).parent / "ripple"
LOST = "the process running this job stopped (killed or crashed); rerun it with `ripple job rerun {id}`"


def prompt_folder(root: Path, n: int) -> Path:
    folder = root / "imports" / "prompts"
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"p{i:04d}.yaml").write_text(f"template: 'Prompt {i}: {{{{ question }}}}'\nmessage: file {i}\n")
    return folder


def check_versions_whole(rp: Client, n: int) -> set[str]:
    """Every prompt that exists has exactly one version, its content complete."""
    names = set()
    for asset in rp.assets.list(kind="prompt"):
        assert asset.latest_version == 1, asset
        i = int(asset.name.removeprefix("p"))
        prompt = rp.prompts.get(asset.name)
        assert prompt.render(question="q") == f"Prompt {i}: q" and prompt.message == f"file {i}"
        names.add(asset.name)
    assert len(names) <= n
    return names


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
    return subprocess.run(
        [str(RIPPLE), *args], env={**clean, "RIPPLE_HOME": str(home), "COLUMNS": "200", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_fault_point_kills_the_server_mid_job_then_the_cli_recovers_and_reruns(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    token = sqlite_settings.token_file.read_text().strip()
    folder = prompt_folder(tmp_path, 40)
    roots = str(tmp_path / "imports")
    server = ServerProcess(tmp_path / "faulty.log", RIPPLE_FAULTS="job.after_progress", RIPPLE_IMPORT_ROOTS=roots)
    try:
        server.wait_healthy()
        with Client(url=server.url, token=token, cache_ttl=0) as rp:
            try:
                job_id = rp.jobs.submit("prompt.import", {"path": str(folder)}).id
            except UnavailableError:
                job_id = 1  # the kill came before the 202 went out
        assert server.proc.wait(15) == -signal.SIGKILL
    finally:
        server.stop()

    # no server now: the embedded CLI sees the owner process is gone and says so
    shown = cli(sqlite_settings.home_path, "job", "show", str(job_id), "--json")
    assert shown.returncode == 0, shown.stderr
    job = JobRecord.model_validate(json.loads(shown.stdout))
    assert job.state.value == "failed" and job.error is not None
    assert (job.error.type, job.error.message) == ("JobLostError", LOST.format(id=job_id))

    rerun = cli(sqlite_settings.home_path, "job", "rerun", str(job_id))
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip().startswith(f"job {job_id + 1} succeeded: ")
    server = ServerProcess(tmp_path / "server.log", RIPPLE_IMPORT_ROOTS=roots).wait_healthy()
    try:
        with Client(url=server.url, token=token, cache_ttl=0) as rp:
            assert len(check_versions_whole(rp, 40)) == 40
            assert rp.jobs.get(job_id + 1).rerun_of == job_id
            assert rp.audit.verify().ok
    finally:
        server.stop()


def test_kill_9_mid_import_then_restart_recovers_and_rerun_completes(sqlite_settings: Settings, tmp_path: Path) -> None:
    token = sqlite_settings.token_file.read_text().strip()
    n = 600
    folder = prompt_folder(tmp_path, n)
    roots = str(tmp_path / "imports")
    server = ServerProcess(tmp_path / "first.log", RIPPLE_IMPORT_ROOTS=roots).wait_healthy()
    try:
        with Client(url=server.url, token=token, cache_ttl=0) as rp:
            job = rp.jobs.submit("prompt.import", {"path": str(folder)})
            deadline = time.monotonic() + 60
            while (done := rp.jobs.get(job.id).progress.done) < 30:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            os.kill(server.proc.pid, signal.SIGKILL)  # mid-import, for real
            assert server.proc.wait(15) == -signal.SIGKILL
    finally:
        server.stop()
    assert done < n, "the import finished before the kill; give it more files"

    server = ServerProcess(tmp_path / "second.log", RIPPLE_IMPORT_ROOTS=roots).wait_healthy()
    try:
        with Client(url=server.url, token=token, cache_ttl=0) as rp:
            lost = rp.jobs.get(job.id)  # the restart marked it failed
            assert lost.state.value == "failed" and lost.error is not None
            assert (lost.error.type, lost.error.message) == ("JobLostError", LOST.format(id=job.id))
            assert lost.finished_at is not None and 30 <= lost.progress.done < n
            assert rp.jobs.logs(job.id)[-1].message == f"failed: {LOST.format(id=job.id)}"
            before = check_versions_whole(rp, n)
            assert 30 <= len(before) < n

            rerun = rp.jobs.rerun(job.id, wait=True, timeout=120)
            assert (rerun.state.value, rerun.rerun_of, rerun.attempt) == ("succeeded", job.id, 2)
            assert rerun.result is not None
            assert len(rerun.result["unchanged"]) == len(before)
            assert len(rerun.result["created"]) == n - len(before)
            assert len(check_versions_whole(rp, n)) == n
            recovered = rp.audit.log(action="job.recover")
            assert [(e.actor, e.target) for e in recovered] == [("system:recovery", f"job/{job.id}")]
            assert rp.audit.verify().ok
    finally:
        server.stop()
