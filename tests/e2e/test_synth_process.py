"""``ripple synth`` as the real executable, a subprocess: on a fresh embedded home with the
shipped SmolLM2, then the same command against a real server process on that home (the job
runs in the server's pool, the CLI follows it over HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support import ServerProcess
from synth_data import check_counts, write_docs

pytestmark = pytest.mark.slow
RIPPLE = Path(sys.executable).parent / "ripple"


def run(env: dict[str, str], cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(RIPPLE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == code, f"ripple {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_synth_qa_embedded_and_on_a_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
    env.update(RIPPLE_HOME=str(tmp_path / "home"), COLUMNS="200", HF_HUB_OFFLINE="1")
    run(env, tmp_path, "init", "--admin", "alice")
    run(env, tmp_path, "dataset", "add", "docs", str(write_docs(tmp_path / "docs")), "--license", "CC0-1.0")
    run(env, tmp_path, "model", "add", "local-smollm", "--provider", "local")

    args = (
        "synth",
        "qa",
        "--from",
        "dataset/docs",
        "--model",
        "model/local-smollm",
        "--seed",
        "7",
        "--max-tokens",
        "64",
    )
    table = run(env, tmp_path, *args, "--into", "dataset/docs-qa").stdout
    assert "synth job" in table and "new version" in table and "dataset/docs-qa:1" in table
    shown: dict[str, Any] = json.loads(run(env, tmp_path, "dataset", "show", "docs-qa", "--json").stdout)
    generator = shown["content"]["provenance"]["generator"]
    assert generator["seed"] == 7 and generator["model"]["ref"] == "model/local-smollm:1"
    assert {i["role"] for i in shown["inputs"]} == {"seed", "prompt", "generator"}

    server = ServerProcess(tmp_path / "server.log", HF_HUB_OFFLINE="1", RIPPLE_HOME=str(tmp_path / "home"))
    try:
        server.wait_healthy()
        token = (tmp_path / "home" / "token").read_text().strip()
        remote = {**env, "RIPPLE_SERVER_URL": server.url, "RIPPLE_TOKEN": token}
        job = json.loads(run(remote, tmp_path, *args, "--into", "docs-qa-remote", "--json").stdout)
        assert job["state"] == "succeeded", job["error"]
        check_counts(job["result"])
        embedded = json.loads(run(env, tmp_path, "dataset", "head", "docs-qa", "--json").stdout)
        served = json.loads(run(remote, tmp_path, "dataset", "head", "docs-qa-remote", "--json").stdout)
        assert served["records"] == embedded["records"]  # the same seed, model and prompt: the same rows
        down = run(remote, tmp_path, "synth", "qa", "--from", "docs", "--model", "local-smollm", "--into", "y",
                   "--text-column", "body", code=2)  # fmt: skip
        assert "has no column 'body'" in down.stderr
    finally:
        server.stop()
