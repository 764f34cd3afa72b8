"""The real ``ripple`` executable as a subprocess: import a CSV and a folder of documents
(PDF included) on a fresh home, then the same commands against a real server process
(``python -m rippleops.server``), which receives the files as uploads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataset_support import FAQ_CSV, FAQ_V2_CSV, write_docs
from support import ServerProcess

pytestmark = pytest.mark.slow  # processes, each loading the analyzers

RIPPLE = Path(sys.executable).parent / "ripple"


class Cli:
    def __init__(self, home: Path, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
        self.env.update(RIPPLE_HOME=str(home), COLUMNS="200", **env)

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(RIPPLE), *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert proc.returncode == code, f"ripple {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def test_datasets_embedded_then_through_a_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli = Cli(home, tmp_path)
    cli("init", "--admin", "alice")
    (tmp_path / "faq.csv").write_text(FAQ_CSV)
    (tmp_path / "faq2.csv").write_text(FAQ_V2_CSV)
    docs = write_docs(tmp_path / "docs")

    added = cli("dataset", "add", "faq", "faq.csv", "--key", "id", "--license", "CC-BY-4.0")
    assert added.stdout.startswith("dataset/faq:1  (3 rows, 4 columns")
    assert cli.json("dataset", "show", "faq")["content"]["provenance"]["source"] == f"file://{tmp_path}/faq.csv"
    assert cli.json("dataset", "add", "docs", "docs")["content"]["rows"] == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1\n")
    assert "line 2: expected 2 fields, found 1" in cli("dataset", "add", "bad", str(bad), code=2).stderr

    server = ServerProcess(tmp_path / "server.log", RIPPLE_HOME=str(home))
    try:
        server.wait_healthy()
        token = (home / "token").read_text().strip()
        remote = Cli(home, tmp_path, RIPPLE_SERVER_URL=server.url, RIPPLE_TOKEN=token)
        assert remote.json("dataset", "show", "faq")["ref"] == "dataset/faq:1"
        same = remote("dataset", "add", "faq", "faq.csv", "--key", "id", "--license", "CC-BY-4.0")
        assert same.stdout.startswith("dataset/faq:1 ") and "unchanged" in same.stderr  # the upload, the same version
        assert remote("dataset", "add", "faq", "faq2.csv", "--key", "id", "--license", "CC-BY-4.0").stdout.startswith(
            "dataset/faq:2 "
        )
        again = remote.json("dataset", "add", "docs", "docs")  # a folder goes up as a tar archive
        assert again["ref"] == "dataset/docs:1" and again["created"] is False
        diff = remote.json("dataset", "diff", "faq:1", "faq:2")
        assert diff["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
        remote("dataset", "export", "docs", "docs.jsonl")
        titles = {json.loads(line)["doc_id"]: json.loads(line)["title"] for line in (tmp_path / "docs.jsonl").open()}
        assert titles["paper.pdf"] == "Ripple paper" and titles["page.html"] == "Ripple FAQ"
        assert "line 2: expected 2 fields, found 1" in remote("dataset", "add", "bad", str(bad), code=2).stderr
        assert remote.json("dataset", "quality", "faq:2")["report"]["rows"] == 3
    finally:
        server.stop()
    assert docs.is_dir() and not any((home / "uploads").iterdir())  # every upload was consumed
