"""The real ``ripple`` executable building an index over real text (the repo's docs) with the
real MiniLM, searching it, rebuilding it after a document changed, evaluating it; and index
builds killed for real (SIGKILL at a fault point) that leave nothing half-built behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from index_corpus import DOC_FILES, QUESTIONS, ROOT
from rippleops.services import Services
from rippleops.settings import Settings

pytestmark = pytest.mark.slow  # a model and many processes
RIPPLE = Path(sys.executable).parent / "ripple"


class Cli:
    def __init__(self, home: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
        self.env.update(RIPPLE_HOME=str(home), COLUMNS="200", HF_HUB_OFFLINE="1")

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RIPPLE), *args], env={**self.env, **env}, cwd=self.workdir, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        assert proc.returncode == code, f"ripple {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def corpus(root: Path) -> Path:
    """The docs as files under one folder, so the import names them as index_corpus does."""
    folder = root / "corpus"
    for name in DOC_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, folder / name)
    return folder


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "home", tmp_path)
    c("init", "--admin", "alice")
    c("dataset", "add", "docs", str(corpus(tmp_path)), "--license", "Apache-2.0")
    c("embedder", "add", "minilm")
    return c


def test_build_search_rebuild_and_evaluate(cli: Cli, tmp_path: Path) -> None:
    built = cli(
        "index", "create", "docs", "--dataset", "dataset/docs@latest", "--embedder", "embedder/minilm",
        "--chunk-size", "800", "--overlap", "100", "--metadata-columns", "format",
    ).stdout  # fmt: skip
    assert built.startswith("index/docs:1 built: ") and "from 5 documents of dataset/docs:1" in built
    shown = cli.json("index", "show", "docs")
    chunks = shown["chunks"]
    assert f"({chunks} embedded, 0 reused)" in built
    assert shown["recipe"]["chunking"] == {"size": 800, "overlap": 100, "unit": "chars", "markdown": True}
    assert [i["role"] for i in shown["inputs"]] == ["dataset", "embedder"]
    assert shown["fields"] == {"doc_id": "string", "format": "string"}
    assert [a["name"] for a in cli.json("index", "list")] == ["docs"]

    question = QUESTIONS["q-recover"][0]
    found = cli.json("search", "index/docs", question, "-k", "5")
    assert found["index"] == "index/docs:1" and found["mode"] == "hybrid" and len(found["hits"]) == 5
    assert "docs/jobs.md" in [h["doc_id"] for h in found["hits"][:3]]
    for hit in found["hits"]:
        assert (ROOT / hit["doc_id"]).read_text()[hit["start"] : hit["end"]] == hit["text"]
    table = cli("search", "docs", question, "--mode", "bm25", "-k", "3").stdout
    assert "docs/jobs.md" in table and "bm25" in table
    assert cli.json("search", "docs", question, "--mode", "vector", "--filter", "format=md")["hits"]
    bad = cli("search", "docs", question, "--filter", "lang=en", code=2).stderr
    assert "this index can filter on: doc_id, format" in bad

    # one document changes: the rebuild embeds only its changed chunks
    api = tmp_path / "corpus" / "docs" / "api.md"
    api.write_text(api.read_text() + "\n## Pagination\n\nLists take `limit` and `cursor` and return next_cursor.\n")
    cli("dataset", "add", "docs", str(tmp_path / "corpus"), "--license", "Apache-2.0")
    rebuilt = cli.json("index", "build", "docs")
    r = rebuilt["result"]
    assert rebuilt["state"] == "succeeded" and (r["index"], r["dataset"]) == ("index/docs:2", "dataset/docs:2")
    assert 1 <= r["embedded"] <= 3 and r["reused"] == r["chunks"] - r["embedded"] and r["chunks"] > chunks
    assert cli.json("search", "docs", "pagination with a cursor", "-k", "1", "--mode", "bm25")["hits"][0]["doc_id"] == (
        "docs/api.md"
    )
    assert cli("index", "label", "docs", "production", "1").stdout == "index/docs@production -> 1\n"
    assert cli.json("search", "docs@production", question)["index"] == "index/docs:1"

    # retrieval evaluation over hand-written questions about the docs
    rows = ["query_id,query,doc_id,relevance"] + [f'{q},"{text}",{doc},1' for q, (text, doc) in QUESTIONS.items()]
    (tmp_path / "questions.csv").write_text("\n".join(rows) + "\n")
    cli("dataset", "add", "questions", str(tmp_path / "questions.csv"), "--license", "Apache-2.0")
    ev = cli.json("search", "eval", "index/docs", "--queries", "dataset/questions", "--k", "5")
    assert ev["query_count"] == len(QUESTIONS) and set(ev["modes"]) == {"vector", "bm25", "hybrid"}
    for mode, res in ev["modes"].items():
        assert 0.5 <= res["mean"]["recall@5"] <= 1.0, (mode, res["mean"])
        assert res["mean"]["mrr"] >= res["mean"]["recall@1"]
    out = cli("search", "eval", "docs", "--queries", "questions", "--k", "5", "--mode", "hybrid").stdout
    assert "hybrid" in out and "recall@5" in out and "vector" not in out.split("\n", 2)[2]
    missing = cli("search", "eval", "docs", "--queries", "docs", code=2).stderr
    assert "is not a queries + judgements dataset" in missing and "query_id" in missing


def _build_job(cli: Cli) -> dict[str, Any]:
    """The newest index.build job (the imports before it are jobs too)."""
    jobs: list[dict[str, Any]] = cli.json("job", "list", "--kind", "index.build")
    return jobs[0]


def test_a_build_killed_after_an_embed_batch_leaves_nothing_and_the_rerun_resumes(cli: Cli, tmp_path: Path) -> None:
    args = ("index", "create", "docs", "--dataset", "docs", "--embedder", "minilm", "--chunk-size", "100",
            "--overlap", "0")  # fmt: skip  # small chunks: more than one batch of 256
    killed = cli.run(*args, RIPPLE_FAULTS="index.after_embed_batch")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    job = _build_job(cli)  # the first job command repairs the record of the dead process
    assert job["state"] == "failed" and job["error"]["type"] == "JobLostError"
    assert job["progress"]["done"] == 256 and job["progress"]["total"] > 256
    assert cli.json("index", "list") == []
    assert _tables(tmp_path) == []  # no half-written table

    rerun = cli.json("job", "rerun", str(job["id"]))
    r = rerun["result"]
    assert rerun["state"] == "succeeded" and r["index"] == "index/docs:1" and r["embedded"] == r["chunks"]
    assert r["cache_hits"] == 256  # the batch embedded before the kill is not embedded again
    assert _tables(tmp_path) == [r["table"]]
    assert cli.json("search", "docs", "job recovery", "-k", "1")["hits"]


def test_a_build_killed_while_registering_is_finished_by_the_rerun(cli: Cli, tmp_path: Path) -> None:
    killed = cli.run("index", "create", "docs", "--dataset", "docs", "--embedder", "minilm",
                     RIPPLE_FAULTS="version.before_commit")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert cli.json("index", "list") == []
    tables = _tables(tmp_path)
    assert len(tables) == 1  # the table was complete (written atomically) before the version
    job = _build_job(cli)
    assert job["state"] == "failed" and job["error"]["type"] == "JobLostError"
    rerun = cli.json("job", "rerun", str(job["id"]))
    r = rerun["result"]
    assert rerun["state"] == "succeeded" and r["resumed"] is True and (r["embedded"], r["table"]) == (0, tables[0])
    assert cli.json("index", "show", "docs")["chunks"] == r["chunks"] == r["reused"]


def _tables(tmp_path: Path) -> list[str]:
    services = Services(Settings(home=tmp_path / "home"))
    try:
        return services.vectors.list_tables()
    finally:
        services.close()
