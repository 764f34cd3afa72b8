"""``rp.synth`` on the embedded transport (the job runs inline) and the remote one (the
server's pool runs it; the SDK polls), over SQLite and PostgreSQL, with the REAL shipped
SmolLM2; and bad input raising the right error on both."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rippleops import Client, InvalidError, NotFoundError, UnavailableError
from rippleops.domain.records import JobLogRecord, JobRecord
from synth_data import FAST, check_counts, check_qa_rows, write_docs


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def docs(rp: Client, tmp_path: Path) -> str:
    return rp.datasets.create("docs", write_docs(tmp_path / "docs"), license="CC0-1.0").ref


@pytest.mark.slow
def test_qa_job_provenance_lineage_and_progress(rp: Client, docs: str) -> None:
    rp.models.create("local-smollm", provider="local")
    updates: list[tuple[str, int, int | None]] = []

    def on_update(job: JobRecord, logs: list[JobLogRecord]) -> None:
        updates.append((job.state.value, job.progress.done, job.progress.total))

    job = rp.synth.qa("docs", model="local-smollm", into="docs-qa", n=1, seed=7, params=FAST, on_update=on_update)
    assert job.state.value == "succeeded" and job.kind == "synth.generate"
    check_counts(job.result)
    assert job.result["calls"] == 3 and job.params["params"]["seed"] == 7
    assert updates[-1][0] == "succeeded" and any(total == 3 for _, _, total in updates)
    ds = rp.datasets.get(job.result["dataset"])
    generator = ds.provenance["generator"]
    model = rp.models.get("local-smollm")
    assert generator["model"] == {"ref": model.ref, "hash": model.hash}
    assert generator["prompt"]["ref"] == "prompt/synth-qa:1" and generator["seed"] == 7
    assert {i.role: i.resolved for i in ds.record.inputs} == {"seed": docs, "prompt": "prompt/synth-qa:1",
                                                               "generator": model.ref}  # fmt: skip
    lineage = rp.lineage(ds.ref, direction="up")
    assert {n.ref for n in lineage.upstream} >= {docs, "prompt/synth-qa:1", model.ref}
    texts = {r["doc_id"]: r["text"] for r in rp.datasets.read(docs, columns=["doc_id", "text"]).to_pylist()}
    check_qa_rows(ds.read().to_pylist(), {"task": "qa", "source": docs, "into": "x", "model": "m"}, texts)
    again = rp.synth.generate(job.params, into="docs-qa-again")  # the same spec, seed and model: the same rows
    assert rp.datasets.read(again.result["dataset"]).to_pylist() == ds.read().to_pylist()


def test_bad_input_raises_the_right_error(rp: Client, docs: str, refused_url: str) -> None:
    rp.models.create("down", provider="openai", base_url=refused_url, model="m", retries=0)
    with pytest.raises(InvalidError, match="unknown task 'poem'"):
        rp.synth.generate(task="poem", source="docs", into="x", model="down")
    with pytest.raises(InvalidError, match=r"has no column 'body' \(text_column\)"):
        rp.synth.qa("docs", model="down", into="x", text_column="body")
    with pytest.raises(InvalidError, match="output_schema is not a valid JSON schema"):
        rp.synth.qa("docs", model="down", into="x", output_schema={"type": 7})
    with pytest.raises(NotFoundError, match="dataset/nothing does not exist"):
        rp.synth.paraphrase("nothing", model="down", into="x")
    with pytest.raises(UnavailableError, match=r"job \d+ \(synth.generate\) failed: model/down:1"):
        rp.synth.qa("docs", model="down", into="x")
    failed = rp.jobs.list(kind="synth.generate", state="failed")
    assert len(failed) == 1 and failed[0].error is not None and failed[0].error.type == "UnavailableError"
    unchecked = rp.jobs.get(failed[0].id)
    assert unchecked.result is None
    with pytest.raises(NotFoundError):
        rp.datasets.get("x")
