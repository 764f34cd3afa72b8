"""An eval run killed half-way (SIGKILL at the ``eval.after_sample`` fault point, in a real
second process) resumes: the next run of the same suite version on the same target version
takes over the unfinished run, keeps the samples it stored and calls the target only for
the others; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from eval_support import P, build_bot, suite_spec
from rippleops.domain.access import Principal
from rippleops.services import Services
from rippleops.settings import Settings
from rippleops.store.models import Trace

pytestmark = pytest.mark.slow

SCRIPT = """
from rippleops.services import Services
from rippleops.settings import get_settings
settings = get_settings()
services = Services(settings)
who = services.access.authenticate(settings.token_file.read_text().strip())
services.evals.evaluate(who, "default", "suite/qa", "app/bot:1", concurrency=1)
print("survived the fault point")
"""


def test_a_killed_run_resumes_without_redoing_samples(services: Services, admin: Principal, settings: Settings) -> None:
    build_bot(services, admin)
    services.suites.create(admin, P, "qa", suite_spec())
    env = {**os.environ, "RIPPLE_FAULTS": "eval.after_sample", "RIPPLE_LLM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert "survived" not in done.stdout

    [killed] = services.evals.runs(admin, P, suite="suite/qa")
    assert (killed.state, killed.done, killed.samples) == ("running", 2, 4)  # its process is gone
    kept = {s.idx: s for s in services.evals.samples(admin, P, killed.id)}
    assert sorted(kept) == [0, 1]

    run = services.evals.evaluate(admin, P, "suite/qa", "app/bot:1", concurrency=1)
    assert run.id == killed.id and (run.state, run.done, run.errors) == ("succeeded", 4, 0)
    samples = services.evals.samples(admin, P, run.id)
    assert [s.idx for s in samples] == [0, 1, 2, 3]
    for s in samples[:2]:  # the samples from before the kill, as they were stored
        assert s == kept[s.idx]
    # this process called the app exactly twice: one trace per call, none for the kept samples
    services.trace_ingest.flush()
    with services.db.reading() as s:
        ours = set(s.execute(select(Trace.trace_id)).scalars()) - {k.trace_id for k in kept.values()}
    assert ours == {samples[2].trace_id, samples[3].trace_id}
    assert run.aggregates["nonempty"].n == 4

    # a finished run is not resumed: the next evaluate is a new run
    again = services.evals.evaluate(admin, P, "suite/qa", "app/bot:1", limit=1)
    assert again.id != run.id and again.samples == 1
