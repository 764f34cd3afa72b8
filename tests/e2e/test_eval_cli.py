"""``ripple suite`` and ``ripple eval`` as the real executable (a subprocess per command) on
SQLite and PostgreSQL, scoring a real app (SmolLM2): a suite from a file, a run with its
table, show, samples, list, compare and the HTML reports, and ``ripple eval gate``'s exit
code for CI (0 when the run passes, 7 when a gate fails, with the failing gate named)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from eval_support import build_bot, suite_spec
from rippleops.services import Services
from rippleops.settings import Settings

pytestmark = pytest.mark.slow

RIPPLE = Path(sys.executable).parent / "ripple"


class Cli:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
        self.env.update(RIPPLE_HOME=str(settings.home_path), COLUMNS="200", RIPPLE_LLM_THREADS="1")
        if settings.database_url:
            self.env["RIPPLE_DATABASE_URL"] = settings.database_url

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(RIPPLE), *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert proc.returncode == code, f"ripple {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


def test_suite_and_eval_commands(settings: Settings, tmp_path: Path) -> None:
    services = Services(settings)
    try:
        build_bot(services, services.access.local_admin())
    finally:
        services.close()
    cli = Cli(settings, tmp_path)
    (tmp_path / "qa.yaml").write_text(yaml.safe_dump(suite_spec()))
    (tmp_path / "strict.yaml").write_text(yaml.safe_dump(suite_spec(gates=[{"metric": "nonempty", "min": 2}])))
    created = cli("suite", "create", "qa", "--file", "qa.yaml")
    assert created.stdout == "suite/qa:1\n" and "dataset: dataset/qa -> dataset/qa:1" in created.stderr
    cli("suite", "create", "strict", "--file", "strict.yaml")
    assert "question" in cli("suite", "show", "qa").stdout
    assert [a["name"] for a in cli.json("suite", "list")] == ["qa", "strict"]
    assert cli("suite", "label", "qa", "production", "1").stdout == "suite/qa@production -> 1\n"
    bad = cli("suite", "create", "qa", "--file", "strict.yaml", "-m", "x", code=0)  # a new version, fine
    assert bad.stdout == "suite/qa:2\n"

    run = cli.json("eval", "run", "suite/qa:1", "--target", "app/bot@production", "--limit", "2", "-c", "1")
    assert (run["suite"], run["target"], run["state"], run["done"]) == ("suite/qa:1", "app/bot:1", "succeeded", 2)
    table = cli("eval", "run", "qa:1", "--target", "app/bot:1", "--limit", "2").stdout
    assert "nonempty" in table and "95% CI" in table and "gates" in table
    shown = cli("eval", "show", str(run["id"]), "--samples", "2").stdout
    assert "q1" in shown and "latency_ms" in shown
    assert [s["key"] for s in cli.json("eval", "samples", str(run["id"]))] == ["q1", "q2"]
    assert len(cli.json("eval", "list", "--suite", "qa", "--target", "app/bot")) == 2

    passed = cli("eval", "gate", str(run["id"]))
    assert "PASSED" in passed.stdout
    assert cli.json("eval", "gate", str(run["id"]))["passed"] is True
    strict = cli.json("eval", "run", "strict", "--target", "app/bot:1", "--limit", "1")
    failed = cli("eval", "gate", str(strict["id"]), code=7)
    assert "FAILED" in failed.stdout and "nonempty" in failed.stderr and "< min 2" in failed.stderr
    report = cli.json("eval", "gate", str(strict["id"]), code=7)  # JSON on stdout, the error on stderr
    assert report["passed"] is False and report["gates"][0]["passed"] is False

    other = cli.json("eval", "list", "--suite", "qa")[0]["id"]
    cmp = cli.json("eval", "compare", str(run["id"]), str(other), "--html", "cmp.html")
    assert cmp["comparable"] is True and (tmp_path / "cmp.html").read_text().lstrip().lower().startswith("<!doctype")
    assert "delta" in cli("eval", "compare", str(run["id"]), str(other)).stdout
    assert cli("eval", "report", str(run["id"]), "--html", "run.html").stdout.strip().endswith("run.html")
    assert "nonempty" in (tmp_path / "run.html").read_text()
    assert "prompt/judge-correctness:1" in cli("suite", "init-prompts").stdout
    missing = cli("eval", "show", "999", code=3)
    assert "eval run 999 does not exist" in missing.stderr
