"""The real ``ripple`` executable as a subprocess: register the shipped SmolLM2 and a prompt
that names it, run both on the embedded home, then the same through a real server process
(``python -m rippleops.server``), whose streams arrive as Server-Sent Events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support import ServerProcess

pytestmark = pytest.mark.slow  # loads the model in several processes

RIPPLE = Path(sys.executable).parent / "ripple"
ANSWER = """\
template: "Answer briefly: {{ question }}"
model: model/local-smollm@production
params: {max_tokens: 6}
"""


def ripple(env: dict[str, str], cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(RIPPLE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == code, f"ripple {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def as_json(env: dict[str, str], cwd: Path, *args: str) -> Any:
    return json.loads(ripple(env, cwd, *args, "--json").stdout)


def test_models_and_prompt_runs_embedded_and_through_a_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
    env.update(RIPPLE_HOME=str(tmp_path / "home"), COLUMNS="200", HF_HUB_OFFLINE="1", RIPPLE_LLM_THREADS="1")
    ripple(env, tmp_path, "init", "--admin", "alice")
    add = ripple(env, tmp_path, "model", "add", "local-smollm", "--provider", "local", "--price-output", "2")
    assert add.stdout == "model/local-smollm:1\n"
    ripple(env, tmp_path, "model", "label", "local-smollm", "production", "1")
    (tmp_path / "answer.yaml").write_text(ANSWER)
    ripple(env, tmp_path, "prompt", "create", "answer", "--file", "answer.yaml")

    embedded = as_json(env, tmp_path, "prompt", "run", "answer@latest", "--var", "question=Why is the sea salty?")
    assert (embedded["prompt"], embedded["model"]) == ("prompt/answer:1", "model/local-smollm:1")
    assert embedded["usage"]["completion_tokens"] == 6 and embedded["cost"]["output"] == 6 * 2 / 1e6
    streamed = ripple(
        env, tmp_path, "model", "run", "local-smollm@production", "Write a poem about the sea.", "--max-tokens", "7"
    )
    assert streamed.stdout.strip() and "7 completion" in streamed.stderr and "cost " in streamed.stderr

    server = ServerProcess(
        tmp_path / "server.log", **{k: v for k, v in env.items() if k.startswith(("RIPPLE_", "HF_"))}
    )
    try:
        server.wait_healthy(60)
        remote_env = {
            **env,
            "RIPPLE_SERVER_URL": server.url,
            "RIPPLE_TOKEN": (tmp_path / "home" / "token").read_text().strip(),
        }
        remote = as_json(remote_env, tmp_path, "prompt", "run", "answer", "--var", "question=Why is the sea salty?")
        assert (remote["text"], remote["usage"]) == (embedded["text"], embedded["usage"])  # greedy: the same text
        over_sse = ripple(
            remote_env, tmp_path, "model", "run", "local-smollm", "Write a poem about the sea.", "--max-tokens", "7"
        )
        assert over_sse.stdout == streamed.stdout
        assert "model/local-smollm:1 · " in over_sse.stderr
        missing = ripple(remote_env, tmp_path, "model", "run", "ghost", "hi", code=3)
        assert "model/ghost does not exist" in missing.stderr
    finally:
        server.stop()
