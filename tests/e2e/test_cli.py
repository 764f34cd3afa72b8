"""The real ``ripple`` executable as a subprocess: the README flow on a fresh home, then the
same commands against a real server (``python -m rippleops.server``) on that home."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow  # every test starts dozens of processes

RIPPLE = Path(sys.executable).parent / "ripple"

SYSTEM = 'template: "You are the support bot of {{ product }}."\n'
ANSWER_V1 = """\
template: |
  {% include "prompt/system@production" %}
  Answer briefly: {{ question }}
message: first version
"""
ANSWER_V2 = """\
template: |
  {% include "prompt/system@production" %}
  Answer in one sentence: {{ question }}
params: {temperature: 0.2}
message: shorter answers
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cli:
    """Runs ``ripple`` with a clean environment on one home (and optionally one server)."""

    def __init__(self, home: Path, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
        self.env.update(RIPPLE_HOME=str(home), COLUMNS="200", **env)

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(RIPPLE), *args],
            env=self.env,
            cwd=self.workdir,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == code, (
            f"ripple {' '.join(args)} -> {proc.returncode}, expected {code}\n{proc.stdout}\n{proc.stderr}"
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def file(self, name: str, text: str) -> str:
        (self.workdir / name).write_text(text)
        return name


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", tmp_path)


def test_readme_flow(cli: Cli, tmp_path: Path) -> None:
    assert "Usage" in cli().stdout  # no arguments: the help, exit 0
    assert "Example: ripple prompt render" in cli("prompt", "render", "--help").stdout

    init = cli("init", "--admin", "alice").stdout
    token_file = tmp_path / "home" / "token"
    assert str(token_file) in init and token_file.stat().st_mode & 0o777 == 0o600
    assert "already set up" in cli("init").stdout
    assert "up to date" in cli("db", "current").stdout

    assert cli("prompt", "create", "system", "--file", cli.file("system.yaml", SYSTEM)).stdout == "prompt/system:1\n"
    cli("prompt", "label", "system", "production", "1")
    assert cli("prompt", "create", "answer", "--file", cli.file("a1.yaml", ANSWER_V1)).stdout == "prompt/answer:1\n"
    assert cli("prompt", "create", "answer", "--file", cli.file("a2.yaml", ANSWER_V2)).stdout == "prompt/answer:2\n"
    same = cli("prompt", "create", "answer", "--file", "a2.yaml")
    assert same.stdout == "prompt/answer:2\n" and "unchanged" in same.stderr
    assert cli("prompt", "label", "answer", "production", "1").stdout == "prompt/answer@production -> 1\n"
    cli("prompt", "label", "answer", "staging", "@production")
    cli("prompt", "label", "answer", "production", ":2")

    shown = cli.json("prompt", "show", "answer@production")
    assert (shown["ref"], shown["kind"], shown["name"], shown["version"]) == ("prompt/answer:2", "prompt", "answer", 2)
    assert set(shown["labels"]) == {"production", "latest"} and shown["created_by"] == "alice"
    assert shown["inputs"][0]["resolved"] == "prompt/system:1" and shown["hash"] and shown["created_at"]
    rendered = cli("prompt", "render", "answer@production", "--var", "product=Ripple", "--var", "question=Why?")
    assert rendered.stdout == "You are the support bot of Ripple.\nAnswer in one sentence: Why?\n"
    assert "product" in cli("prompt", "render", "answer", "--var", "question=Why?", code=2).stderr
    diff = cli.json("prompt", "diff", "answer:1", "answer:2")
    assert "+Answer in one sentence" in diff["diff"] and [c["field"] for c in diff["changes"]] == ["params"]
    assert [a["name"] for a in cli.json("prompt", "list")] == ["answer", "system"]
    history = cli.json("prompt", "history", "answer")
    assert [(m["label"], m["from_version"], m["to_version"]) for m in history["label_moves"]] == [
        ("production", None, 1),
        ("staging", None, 1),
        ("production", 1, 2),
    ]
    assert [v["version"] for v in cli.json("prompt", "versions", "answer")] == [1, 2]
    lineage = cli.json("lineage", "prompt/answer:2")
    assert [(n["ref"], n["via"]) for n in lineage["upstream"]] == [("prompt/system:1", "prompt/system@production")]
    assert "via prompt/system@production" in cli("lineage", "prompt/answer:2", "--up").stdout
    assert [n["ref"] for n in cli.json("lineage", "prompt/system:1", "--down", "--depth", "1")["downstream"]] == [
        "prompt/answer:1",
        "prompt/answer:2",
    ]

    assert [a["ref"] for a in cli.json("asset", "list", "--kind", "prompt")["items"]] == [
        "prompt/answer",
        "prompt/system",
    ]
    cli("asset", "tag", "prompt/answer", "--add", "support")
    cli("asset", "describe", "prompt/answer", "Answers support questions")
    asset = cli.json("asset", "show", "prompt/answer")
    assert asset["tags"] == ["support"] and asset["description"] == "Answers support questions"
    assert len(cli.json("asset", "versions", "prompt/answer")) == 2

    cli("project", "create", "support", "--description", "the bot")
    assert {p["name"] for p in cli.json("project", "list")} == {"default", "support"}
    cli("user", "create", "bob")
    bob = cli.json("token", "create", "--user", "bob", "--expires", "30d")
    cli("role", "grant", "bob", "viewer")
    assert ("bob", "viewer") in {(m["user"], m["role"]) for m in cli.json("role", "list")}
    assert cli.json("--token", bob["token"], "whoami")["name"] == "bob"
    cli("--token", bob["token"], "prompt", "create", "x", "--file", "a1.yaml", code=6)
    cli("token", "revoke", str(bob["id"]))
    cli("--token", bob["token"], "whoami", code=5)

    out = cli("secret", "set", "OPENAI_API_KEY", "--value-stdin", input="sk-e2e-secret\n")
    assert "sk-e2e-secret" not in out.stdout + out.stderr
    listed = cli("secret", "list", "--json").stdout
    assert "OPENAI_API_KEY" in listed and "sk-e2e-secret" not in listed

    assert any(e["action"] == "label.move" for e in cli.json("audit", "log", "--since", "1h"))
    assert cli("audit", "verify").stdout.startswith("audit log OK: ")

    assert "is not valid" in cli("prompt", "create", "Bad Name", "--file", "a1.yaml", code=2).stderr
    assert "labels: production, staging" in cli("prompt", "show", "answer@prod", code=3).stderr
    bad = cli.file("bad.yaml", "template: ok\nvariables: [a\nmessage: x\n")
    assert "line 3" in cli("prompt", "create", "answer", "--file", bad, code=2).stderr


@contextmanager
def running(cmd: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Start a server process, wait for /healthz, and stop it (SIGINT, then SIGKILL) afterwards."""
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"the server exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


READS = [
    ("prompt", "show", "answer@production"),
    ("prompt", "list"),
    ("prompt", "versions", "answer"),
    ("prompt", "history", "answer"),
    ("prompt", "diff", "answer:1", "answer:2"),
    ("prompt", "render", "answer", "--var", "product=Ripple", "--var", "question=Why?"),
    ("asset", "list"),
    ("asset", "show", "prompt/answer"),
    ("lineage", "prompt/answer:2"),
    ("whoami",),
    ("project", "list"),
    ("role", "list"),
]


def test_remote_mode_matches_embedded(cli: Cli, tmp_path: Path) -> None:
    cli("init", "--admin", "alice")
    cli("prompt", "create", "system", "--file", cli.file("system.yaml", SYSTEM))
    cli("prompt", "label", "system", "production", "1")
    cli("prompt", "create", "answer", "--file", cli.file("a1.yaml", ANSWER_V1))
    cli("prompt", "create", "answer", "--file", cli.file("a2.yaml", ANSWER_V2))
    cli("prompt", "label", "answer", "production", "1")
    embedded = {args: cli.json(*args) for args in READS}

    port = free_port()
    token = (tmp_path / "home" / "token").read_text().strip()
    with running([sys.executable, "-m", "rippleops.server", "--port", str(port)], cli.env, port) as url:
        remote = Cli(tmp_path / "home", tmp_path, RIPPLE_SERVER_URL=url, RIPPLE_TOKEN=token)
        for args in READS:
            assert remote.json(*args) == embedded[args], args
        assert remote("prompt", "render", "answer@production", "--var", "product=R", "--var", "question=q").stdout == (
            cli("prompt", "render", "answer@production", "--var", "product=R", "--var", "question=q").stdout
        )
        assert remote("prompt", "list").stdout == cli("prompt", "list").stdout

        # writes go to the server and show up in the embedded home, and errors keep their codes
        assert remote("prompt", "label", "answer", "staging", "2").stdout == "prompt/answer@staging -> 2\n"
        assert "staging" in cli.json("prompt", "show", "answer:2")["labels"]
        same = remote("prompt", "create", "answer", "--file", "a2.yaml")
        assert same.stdout == "prompt/answer:2\n" and "unchanged" in same.stderr
        err = remote("prompt", "show", "answer@prod", code=3).stderr
        assert err == cli("prompt", "show", "answer@prod", code=3).stderr
        assert "labels: production, staging" in err
        assert (
            "line 3"
            in remote("prompt", "create", "answer", "--file", cli.file("b.yaml", "a: [\nb: c\nc: d\n"), code=2).stderr
        )
        remote("--token", "rpl_not-a-token", "whoami", code=5)
        assert remote("audit", "verify").stdout.startswith("audit log OK: ")


def test_server_start_command(cli: Cli) -> None:
    cli("init", "--admin", "alice")
    refused = cli("server", "start", "--host", "0.0.0.0", "--port", str(free_port()), code=2)
    assert "without auth" in refused.stderr
    port = free_port()
    with running([str(RIPPLE), "server", "start", "--port", str(port)], cli.env, port) as url:
        remote = Cli(Path(cli.env["RIPPLE_HOME"]), cli.workdir, RIPPLE_SERVER_URL=url)  # loopback, no auth
        assert remote.json("whoami")["name"] == "alice"
