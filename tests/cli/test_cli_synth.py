"""``ripple synth`` in-process: the summary table and --json of a real run on the shipped
SmolLM2 (slow), a full spec file, and bad input as a one-line error with its exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cli_helpers import Ripple

from synth_data import check_counts, write_docs


@pytest.fixture
def with_docs(ripple: Ripple, tmp_path: Path) -> Ripple:
    ripple.ok("dataset", "add", "docs", str(write_docs(tmp_path / "docs")), "--license", "CC0-1.0")
    return ripple


def _refused() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.mark.slow
def test_qa_prints_a_summary_and_json(with_docs: Ripple) -> None:
    r = with_docs
    r.ok("model", "add", "local-smollm", "--provider", "local")
    out = r.ok("synth", "qa", "--from", "dataset/docs", "--model", "model/local-smollm", "--into", "dataset/docs-qa",
               "--seed", "7", "--max-tokens", "64").stdout  # fmt: skip
    for line in (
        "generated",
        "accepted",
        "new version",
        "dataset/docs-qa:1",
        "prompt/synth-qa:1",
        "model/local-smollm:1",
    ):
        assert line in out, out
    job = json.loads(r.ok("synth", "qa", "--from", "docs", "--model", "local-smollm", "--into", "docs-qa-2",
                          "--seed", "7", "--max-tokens", "64", "--max-rows", "1", "--json").stdout)  # fmt: skip
    assert job["state"] == "succeeded" and job["result"]["accepted"] == 1
    check_counts(job["result"])
    head = r.json("dataset", "show", "docs-qa-2")
    assert head["content"]["rows"] == 1 and head["content"]["provenance"]["generator"]["seed"] == 7


@pytest.mark.slow
def test_run_a_spec_file_with_a_schema_file(with_docs: Ripple, tmp_path: Path) -> None:
    r = with_docs
    r.ok("model", "add", "local-smollm", "--provider", "local")
    schema = {"type": "object", "properties": {"question": {"type": "string", "maxLength": 120},
              "answer": {"type": "string", "maxLength": 80}}, "required": ["question", "answer"]}  # fmt: skip
    (tmp_path / "qa.schema.json").write_text(json.dumps(schema))
    spec = r.file("synth.yaml", "task: qa\nsource: docs\ninto: docs-qa\nmodel: local-smollm\nn: 2\n"
                  "output_schema_file: qa.schema.json\nparams: {seed: 7, max_tokens: 64}\n"
                  "rules: {min_length: {question: 12}}\nmessage: first synthetic questions\n")  # fmt: skip
    job = json.loads(r.ok("synth", "run", "--file", spec, "--json").stdout)
    check_counts(job["result"])
    assert job["params"]["output_schema"] == schema and job["params"]["rules"]["min_length"] == {"question": 12}
    assert job["state"] == "succeeded", job["error"]
    version = r.json("dataset", "show", job["result"]["dataset"])
    assert version["message"] == "first synthetic questions"
    assert version["content"]["provenance"]["generator"]["output_schema"] == schema


def test_bad_input_is_one_line_with_its_exit_code(with_docs: Ripple, tmp_path: Path) -> None:
    r = with_docs
    r.ok("model", "add", "down", "--provider", "openai", "--base-url", _refused(), "--model", "m", "--retries", "0")
    base = ("--from", "docs", "--model", "down", "--into", "x")
    assert "has no column 'body' (text_column)" in r.fails(2, "synth", "qa", *base, "--text-column", "body").stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object", "properties": 3}')
    assert "output_schema is not a valid JSON schema" in r.fails(2, "synth", "qa", *base, "--schema", str(bad)).stderr
    bad.write_text("{nope")
    assert "is not JSON" in r.fails(2, "synth", "qa", *base, "--schema", str(bad)).stderr
    assert (
        "cannot read the schema file" in r.fails(2, "synth", "qa", *base, "--schema", str(tmp_path / "no.json")).stderr
    )
    spec = r.file("s.yaml", "task: haiku\nsource: docs\ninto: x\nmodel: down\n")
    assert "unknown task 'haiku'" in r.fails(2, "synth", "run", "--file", spec).stderr
    assert "not valid YAML" in r.fails(2, "synth", "run", "--file", r.file("y.yaml", "task: [qa\n")).stderr
    assert (
        "does not exist" in r.fails(3, "synth", "paraphrase", "--from", "nope", "--model", "down", "--into", "x").stderr
    )
    down = r("synth", "qa", *base)  # the job's error line is shown as it happens, then the error itself
    assert down.exit_code == 8 and "Traceback" not in down.output
    assert down.stderr.strip().splitlines()[-1].startswith("error: job 2 (synth.generate) failed: model/down:1")
    missing = r("synth", "classify", *base)
    assert missing.exit_code == 2 and "--label-column" in missing.output
