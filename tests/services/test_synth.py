"""Synthetic data through the service layer (the ``synth.generate`` job), on SQLite and
PostgreSQL: question/answer pairs, paraphrases, labelled examples and a custom prompt from the
REAL shipped SmolLM2 (slow), with provenance, lineage, rules, counts and determinism checked;
and bad input failing at submit time or with a clear job error, leaving no dataset behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rippleops.domain.access import Principal
from rippleops.domain.datasets import ImportSource, file_uri
from rippleops.domain.records import VersionRecord
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services import Services
from synth_data import FAST, REVIEWS, SENTENCES, check_counts, check_qa_rows, write_docs

P = "default"


@pytest.fixture
def docs(services: Services, admin: Principal, tmp_path: Path) -> VersionRecord:
    folder = write_docs(tmp_path / "docs")
    return services.datasets.import_file(
        admin, P, "docs", ImportSource(folder, "docs", file_uri(folder)), license="CC0-1.0"
    )


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def local(services: Services, admin: Principal) -> VersionRecord:
    return services.models.create(admin, P, "local-smollm", {"provider": "local"})


def submit(services: Services, admin: Principal, **spec: Any) -> Any:
    spec.setdefault("model", "model/local-smollm")
    return services.jobs.submit(admin, P, "synth.generate", spec)


def doc_texts(services: Services, admin: Principal, ref: str) -> dict[str, str]:
    table = services.datasets.read_table(admin, P, ref, columns=["doc_id", "text"]).to_pylist()
    return {r["doc_id"]: r["text"] for r in table}


# -- bad input: refused at submit, nothing written ---------------------------------------------------


def test_bad_specs_fail_at_submit_and_create_no_job(services: Services, admin: Principal, docs: VersionRecord,
                                                    refused_url: str) -> None:  # fmt: skip
    services.models.create(admin, P, "down", {"provider": "openai", "base_url": refused_url, "model": "m"})
    base = {"source": "dataset/docs", "into": "docs-qa", "model": "model/down"}
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"task": "translate"}, InvalidError, "unknown task 'translate'; tasks: qa, paraphrase, classify, custom"),
        ({"task": "qa", "text_column": "body"}, InvalidError,
         r"dataset/docs:1 has no column 'body' \(text_column\); its columns: doc_id, text, .*--text-column"),
        ({"task": "qa", "output_schema": {"type": "object", "required": "question"}}, InvalidError,
         "output_schema is not a valid JSON schema: 'question' is not of type 'array'"),
        ({"task": "qa", "source": "dataset/nope"}, NotFoundError, "dataset/nope does not exist"),
        ({"task": "qa", "model": "model/nope"}, NotFoundError, "model/nope does not exist"),
        ({"task": "qa", "prompt": "prompt/nope"}, NotFoundError, "prompt/nope does not exist"),
        ({"task": "classify"}, InvalidError, "needs `label_column`"),
        ({"task": "classify", "label_column": "colour"}, InvalidError, r"no column 'colour' \(label_column\)"),
    ]  # fmt: skip
    for over, error, match in cases:
        with pytest.raises(error, match=match):
            services.jobs.submit(admin, P, "synth.generate", {**base, **over})
    assert services.jobs.list(admin, P, kind="synth.generate") == []


def test_prompt_variables_the_task_cannot_give_are_refused(services: Services, admin: Principal,
                                                            docs: VersionRecord, refused_url: str) -> None:  # fmt: skip
    from rippleops.domain.prompts import parse_spec

    services.models.create(admin, P, "down", {"provider": "openai", "base_url": refused_url, "model": "m"})
    services.prompts.create(admin, P, "bad-qa", parse_spec({"template": "Ask about {{ chapter }}: {{ passage }}"}))
    with pytest.raises(InvalidError, match=r"prompt/bad-qa:1 uses variables chapter, which a qa run does not give"):
        services.jobs.submit(admin, P, "synth.generate", {"task": "qa", "source": "docs", "into": "q",
                                                          "model": "down", "prompt": "bad-qa"})  # fmt: skip


def test_model_endpoint_down_fails_the_job_and_registers_nothing(
    services: Services, admin: Principal, docs: VersionRecord, refused_url: str
) -> None:
    services.models.create(
        admin, P, "down", {"provider": "openai", "base_url": refused_url, "model": "m", "retries": 0}
    )
    job = submit(services, admin, task="qa", source="dataset/docs", into="docs-qa", model="model/down")
    assert job.state.value == "failed" and job.error is not None
    assert job.error.type == "UnavailableError"
    assert "model/down:1" in job.error.message and "cannot" in job.error.message.lower()
    with pytest.raises(NotFoundError):
        services.datasets.get(admin, P, "dataset/docs-qa")


# -- the real model ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_qa_from_documents_provenance_lineage_rules_and_determinism(
    services: Services, admin: Principal, docs: VersionRecord, local: VersionRecord
) -> None:
    spec = {"task": "qa", "source": "dataset/docs", "into": "docs-qa", "n": 2, "params": {"seed": 7, **FAST}}
    job = submit(services, admin, **spec)
    assert job.state.value == "succeeded", job.error
    result = job.result
    check_counts(result)
    assert result["calls"] == 6 and result["dataset"] == "dataset/docs-qa:1" and result["rows"] == result["accepted"]
    assert (result["source"], result["model"], result["prompt"]) == ("dataset/docs:1", local.ref, "prompt/synth-qa:1")

    version = services.datasets.get(admin, P, "dataset/docs-qa:1")
    prompt = services.prompts.get(admin, P, "prompt/synth-qa:1")
    gen = version.content["provenance"]["generator"]
    assert gen["prompt"] == {"ref": prompt.ref, "hash": prompt.hash, "builtin": True}
    assert gen["model"] == {"ref": local.ref, "hash": local.hash}
    assert gen["seed_dataset"] == {"ref": docs.ref, "hash": docs.hash}
    assert gen["seed"] == 7 and gen["parameters"]["max_tokens"] == 64 and gen["parameters"]["constrained"] is True
    assert gen["counts"]["accepted"] == result["accepted"] and gen["counts"]["rejected"] == result["rejected"]
    assert version.content["provenance"]["license"] == "CC0-1.0" and version.content["key"] == "query_id"
    assert {(i.resolved, i.role, i.hash) for i in version.inputs} == {
        (docs.ref, "seed", docs.hash), (prompt.ref, "prompt", prompt.hash), (local.ref, "generator", local.hash)
    }  # fmt: skip
    rows = services.datasets.read_table(admin, P, version.ref).to_pylist()
    assert len(rows) == result["accepted"] >= 1
    check_qa_rows(rows, {**spec, "model": "m"}, doc_texts(services, admin, docs.ref))
    logs = [line.message for line in services.jobs.logs(admin, P, job.id)]
    assert any("candidates generated" in m for m in logs) and logs[-1].startswith("registered dataset/docs-qa:1")

    # the same seed again (into another dataset): the same rows, the same data
    again = submit(services, admin, **{**spec, "into": "docs-qa-again"})
    assert again.state.value == "succeeded", again.error
    assert {k: again.result[k] for k in ("generated", "accepted", "rejected")} == {
        k: result[k] for k in ("generated", "accepted", "rejected")
    }
    assert services.datasets.read_table(admin, P, again.result["dataset"]).to_pylist() == rows
    assert services.datasets.get(admin, P, again.result["dataset"]).content["blob"] == version.content["blob"]

    # another seed into the same dataset: appended as version 2, deduplicated against version 1
    more = submit(services, admin, **{**spec, "params": {"seed": 8, **FAST}})
    assert more.state.value == "succeeded", more.error
    check_counts(more.result)
    v2 = services.datasets.get(admin, P, more.result["dataset"])
    assert v2.ref == "dataset/docs-qa:2" and v2.content["provenance"]["parents"] == ["dataset/docs-qa:1"]
    assert ("dataset/docs-qa:1", "parent") in {(i.resolved, i.role) for i in v2.inputs}
    rows2 = services.datasets.read_table(admin, P, v2.ref).to_pylist()
    assert rows2[: len(rows)] == rows and len(rows2) == len(rows) + more.result["accepted"]
    questions = [r["query"].casefold() for r in rows2]
    assert len(set(questions)) == len(questions)


@pytest.mark.slow
def test_rerunning_the_same_seed_into_the_same_dataset_finds_only_duplicates(
    services: Services, admin: Principal, docs: VersionRecord, local: VersionRecord
) -> None:
    for seed in range(1, 8):  # the first seed whose one call gives an acceptable pair (deterministic)
        spec = {"task": "qa", "source": "docs", "into": "qa", "max_seeds": 1, "params": {"seed": seed, **FAST}}
        first = submit(services, admin, **spec)
        if first.state.value == "succeeded":
            break
        assert first.error is not None and "no candidate was accepted" in first.error.message
    assert first.state.value == "succeeded", "no seed of 1..7 gave an acceptable question"
    second = submit(services, admin, **spec)
    assert second.state.value == "failed" and second.error is not None
    assert "duplicate_existing" in second.error.message and "use another --seed" in second.error.message
    assert second.result["rejected"] == {"duplicate_existing": first.result["accepted"]}
    assert services.datasets.versions(admin, P, "qa")[-1].version == 1


@pytest.mark.slow
def test_paraphrase_and_classify(services: Services, admin: Principal, local: VersionRecord) -> None:
    services.datasets.create_from_table(admin, P, "faq", pa.Table.from_pylist(SENTENCES), provenance={"source": "test"},
                                        key="id")  # fmt: skip
    job = submit(services, admin, task="paraphrase", source="faq", into="faq-para", n=2, params={"seed": 1, **FAST})
    assert job.state.value == "succeeded", job.error
    result = job.result
    check_counts(result)
    assert result["calls"] == 6
    rows = services.datasets.read_table(admin, P, result["dataset"]).to_pylist()
    seeds = {s["id"]: s for s in SENTENCES}
    assert len(rows) == result["accepted"] >= 1
    for row in rows:
        seed = seeds[row["paraphrase_of"]]
        assert row["topic"] == seed["topic"] and row["text"].strip() and row["id"] not in seeds
        assert row["text"].casefold().strip(" .!") != seed["text"].casefold().strip(" .!")

    services.datasets.create_from_table(
        admin, P, "reviews", pa.Table.from_pylist(REVIEWS), provenance={"source": "test"}
    )
    job = submit(services, admin, task="classify", source="reviews", into="reviews-more", label_column="label", n=2,
                 examples_per_label=2, params={"seed": 1, **FAST})  # fmt: skip
    assert job.state.value == "succeeded", job.error
    check_counts(job.result)
    assert job.result["calls"] == 4
    version = services.datasets.get(admin, P, job.result["dataset"])
    assert version.content["label_column"] == "label" and version.content["key"] == "id"
    rows = services.datasets.read_table(admin, P, version.ref).to_pylist()
    assert len(rows) == job.result["accepted"] >= 1
    assert {r["label"] for r in rows} <= {"positive", "negative"}
    assert not {r["text"] for r in rows} & {r["text"] for r in REVIEWS}


@pytest.mark.slow
def test_custom_prompt_with_its_own_schema(services: Services, admin: Principal, local: VersionRecord) -> None:
    from rippleops.domain.prompts import parse_spec

    services.datasets.create_from_table(admin, P, "faq", pa.Table.from_pylist(SENTENCES), provenance={"source": "test"},
                                        key="id")  # fmt: skip
    schema = {"type": "object", "properties": {"topic": {"type": "string", "minLength": 2}, "keywords": {
        "type": "array", "items": {"type": "string"}}}, "required": ["topic", "keywords"]}  # fmt: skip
    prompt = services.prompts.create(admin, P, "tagger", parse_spec({
        "messages": [{"role": "system", "content": "Reply with JSON: {\"topic\": ..., \"keywords\": [...]}."},
                     {"role": "user", "content": "Text: {{ text }}"}],
        "output_schema": schema,
    }))  # fmt: skip
    job = submit(services, admin, task="custom", source="faq", into="faq-tags", prompt="tagger",
                 params={"seed": 2, "max_tokens": 128})  # fmt: skip
    assert job.state.value == "succeeded", job.error
    check_counts(job.result)
    assert job.result["prompt"] == prompt.ref and job.result["calls"] == 3
    rows = services.datasets.read_table(admin, P, job.result["dataset"]).to_pylist()
    assert len(rows) == job.result["accepted"] >= 1
    for row in rows:
        assert row["seed_id"] in {"s1", "s2", "s3"} and len(row["topic"]) >= 2
        assert row["keywords"].startswith("[")  # nested values are kept as their JSON text
    assert job.result["rejected"].get("unparseable", 0) == 0  # constrained decoding: always JSON of this schema
