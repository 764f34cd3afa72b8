"""Several processes registering versions of one asset at once: no duplicate or lost
version numbers, and an intact audit chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from rippleops.services import Services
from rippleops.settings import Settings

WORKER = textwrap.dedent(
    """
    import sys
    from rippleops.services import Services
    from rippleops.settings import get_settings
    s = get_settings()
    svc = Services(s)
    who = svc.access.authenticate(s.token_file.read_text().strip())
    worker, n = int(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        svc.assets.register(who, "default", "prompt", "shared", {"worker": worker, "i": i})
        svc.assets.register(who, "default", "prompt", f"own-{worker}", {"i": i})
    # everyone also registers the same content: exactly one version may hold it
    svc.assets.register(who, "default", "prompt", "shared", {"same": True})
    """
)


def test_parallel_registration(settings: Settings) -> None:
    env = {**os.environ, "RIPPLE_HOME": str(settings.home_path)}
    if settings.database_url:
        env["RIPPLE_DATABASE_URL"] = settings.database_url
    workers, per = 4, 15
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(w), str(per)], env=env, stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    svc = Services(settings)
    try:
        who = svc.access.authenticate(settings.token_file.read_text().strip())
        versions = svc.assets.versions(who, "default", "prompt/shared")
        assert [v.version for v in versions] == list(range(1, workers * per + 2))
        assert len({v.hash for v in versions}) == len(versions)
        assert sum(1 for v in versions if v.content == {"same": True}) == 1
        assert svc.audit.verify(who).ok
    finally:
        svc.close()
