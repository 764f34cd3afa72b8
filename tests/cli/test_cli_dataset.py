"""``ripple dataset`` in-process on an initialised home (SQLite; the main flow on PostgreSQL too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Ripple

from dataset_support import FAQ_CSV, FAQ_V2_CSV, write_docs
from rippleops.cli.dataset import app as dataset_app


def test_add_show_head_diff_export_and_label(ripple_on: Ripple) -> None:
    r = ripple_on
    v1 = r.file("faq.csv", FAQ_CSV)
    out = r.ok("dataset", "add", "faq", v1, "--key", "id", "--license", "CC-BY-4.0", "-m", "first", "--tag", "support")
    assert out.stdout.strip() == "dataset/faq:1  (3 rows, 4 columns, " + out.stdout.split(", ")[-1].strip()
    assert "the quality report has a warning: ripple dataset quality faq:1" in out.stderr
    again = r.ok("dataset", "add", "faq", v1, "--key", "id", "--license", "CC-BY-4.0")
    assert again.stdout.startswith("dataset/faq:1 ") and "unchanged: identical to the latest version 1" in again.stderr
    shown = r.json("dataset", "show", "faq")
    assert shown["ref"] == "dataset/faq:1" and shown["content"]["provenance"]["license"] == "CC-BY-4.0"
    human = r.ok("dataset", "show", "faq:1").stdout
    for text in ("dataset/faq:1  (3 rows, 4 columns)", "key: id", "license: CC-BY-4.0", "question", "exact duplicates"):
        assert text in human, text
    head = r.ok("dataset", "head", "faq", "-n", "2").stdout
    assert "What is Ripple?" in head and "Who to mail?" not in head
    assert r.json("dataset", "head", "faq")["records"][2]["answer"] == "ana@example.org"

    r.ok("dataset", "add", "faq", r.file("faq2.csv", FAQ_V2_CSV), "--key", "id")
    diff = r.json("dataset", "diff", "faq:1", "faq:2")
    assert diff["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    table = r.ok("dataset", "diff", "faq:1", "faq:2").stdout
    assert "changed rows (examples)" in table and "A platform for versioned AI assets" in table
    assert "hold the same records" in r.ok("dataset", "diff", "faq:2", "faq:2").stdout

    target = r.tmp_path / "export.jsonl"
    exported = r.ok("dataset", "export", "faq:2", str(target)).stdout
    assert exported.startswith(f"wrote dataset/faq:2 to {target} (jsonl, ")
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == [1, 3, 4]
    r.ok("dataset", "export", "faq:1", str(r.tmp_path / "faq.out"), "--format", "csv")
    assert (r.tmp_path / "faq.out").read_text().startswith('"id","question"')

    assert r.ok("dataset", "label", "faq", "production", "1").stdout.strip() == "dataset/faq@production -> 1"
    assert r.json("dataset", "show", "faq@production")["version"] == 1
    listed = r.json("dataset", "list")
    assert [(a["ref"], a["latest_version"], a["labels"]) for a in listed] == [("dataset/faq", 2, {"production": 1})]
    assert "support" in r.ok("dataset", "list").stdout
    assert [v["version"] for v in r.json("dataset", "versions", "faq")] == [1, 2]


def test_quality_and_bias_reports(ripple: Ripple) -> None:
    ripple.ok("dataset", "add", "faq", ripple.file("faq.csv", FAQ_CSV), "--key", "id")
    report = ripple.json("dataset", "quality", "faq")
    assert report["ref"] == "dataset/faq:1" and report["report"]["pii"]["entities"] == {"EMAIL_ADDRESS": 1}
    human = ripple.ok("dataset", "quality", "faq")
    for text in ("quality of dataset/faq:1 (3 rows)", "findings", "columns", "EMAIL_ADDRESS", "a*************g"):
        assert text in human.stdout, text
    assert "warning: Possible personal data in 1 row" in human.stderr
    rows = "group,approved\n" + "a,yes\n" * 8 + "a,no\n" * 2 + "b,yes\n" * 4 + "b,no\n" * 6
    ripple.ok("dataset", "add", "loans", ripple.file("loans.csv", rows))
    bias = ripple.json("dataset", "bias", "loans", "--group", "group", "--outcome", "approved", "--positive", "yes")
    assert bias["report"]["four_fifths"]["flagged"] == ["b"]
    human = ripple.ok("dataset", "bias", "loans", "--group", "group", "--outcome", "approved", "--positive", "yes")
    assert "BELOW 4/5" in human.stdout and "below four fifths of the most favoured group's rate: b" in human.stdout
    assert "note: A disparity ratio is" in human.stderr
    assert (
        "has no column 'sex' (--group)"
        in ripple.fails(3, "dataset", "bias", "loans", "--group", "sex", "--outcome", "approved").stderr
    )


def test_a_folder_of_documents(ripple: Ripple) -> None:
    folder = write_docs(ripple.tmp_path / "docs")
    out = ripple.ok("dataset", "add", "docs", str(folder))
    assert out.stdout.startswith("dataset/docs:1  (4 rows, 6 columns")
    assert "skipped image.png" in out.stderr  # warnings of the job are shown as it runs
    head = ripple.json("dataset", "head", "docs")["records"]
    assert [row["doc_id"] for row in head] == ["guides/rollback.md", "page.html", "paper.pdf", "readme.txt"]


def test_bad_input_exits_with_a_clear_message(ripple: Ripple) -> None:
    bad = ripple.file("bad.csv", "a,b\n1,2\n3\n4,5,6\n")
    failed = ripple.fails(2, "dataset", "add", "bad", bad)
    assert "error: job 1 (dataset.import) failed: bad.csv has 2 malformed rows; nothing was imported" in failed.stderr
    assert (
        "line 3: expected 2 fields, found 1: 3" in failed.stderr
        and "line 4: expected 2 fields, found 3" in failed.stderr
    )
    latin = ripple.tmp_path / "latin.csv"
    latin.write_bytes("id,city\n1,Zürich\n".encode("latin-1"))
    failed = ripple.fails(2, "dataset", "add", "cities", str(latin))
    assert "utf-8 is the expected encoding" in failed.stderr and "--encoding" in failed.stderr
    assert ripple.ok("dataset", "add", "cities", str(latin), "--encoding", "latin-1").stdout.startswith(
        "dataset/cities:1"
    )
    assert "has a header but no rows" in ripple.fails(2, "dataset", "add", "e", ripple.file("e.csv", "a,b\n")).stderr
    assert "unknown dataset format 'xml'" in ripple.fails(2, "dataset", "add", "e", bad, "--format", "xml").stderr
    assert "cannot tell the format" in ripple.fails(2, "dataset", "add", "e", ripple.file("e.xlsx", "x")).stderr
    assert "dataset/bad" in ripple.fails(3, "dataset", "show", "bad").stderr
    assert ripple.json("job", "show", "1")["error"]["type"] == "InvalidError"


COMMANDS = ["add", "list", "versions", "show", "head", "diff", "export", "quality", "bias", "label"]


def test_the_commands_are_all_listed() -> None:
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in dataset_app.registered_commands}
    assert names == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(ripple: Ripple, command: str) -> None:
    assert "Example: ripple dataset" in ripple.ok("dataset", str(command), "--help").stdout


def test_no_wait_prints_the_job(ripple: Ripple, tmp_path: Path) -> None:
    out = ripple.ok("dataset", "add", "faq", ripple.file("faq.csv", FAQ_CSV), "--no-wait")
    assert out.stdout.strip().startswith("job 1 succeeded")  # embedded: the job ran inline anyway
