"""``rp.datasets`` on the embedded transport (the import job runs inline) and the remote one
(the file is uploaded to a real uvicorn server, whose pool runs the job), on SQLite and
PostgreSQL: the same calls give the same versions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataset_support import FAQ_CSV, FAQ_V2_CSV, write_docs
from rippleops import Client, InvalidError, NotFoundError
from rippleops.domain.datasets import file_uri
from rippleops.domain.records import JobLogRecord, JobRecord


def test_create_from_a_file_get_head_and_no_op(rp: Client, tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(FAQ_CSV)
    updates: list[JobRecord] = []

    def on_update(job: JobRecord, logs: list[JobLogRecord]) -> None:
        updates.append(job)

    ds = rp.datasets.create("faq", path, key="id", license="CC-BY-4.0", message="first", on_update=on_update)
    assert (ds.ref, ds.rows, ds.key, ds.record.created) == ("dataset/faq:1", 3, "id", True)
    assert ds.columns == ["id", "question", "answer", "topic"]
    assert ds.provenance == {"source": file_uri(path), "license": "CC-BY-4.0", "created_by": "alice", "parents": []}
    assert ds.quality_summary["pii"] == 1 and ds.quality_summary["report"].startswith("sha256:")
    assert updates and updates[-1].state.value == "succeeded" and updates[-1].progress.done > 0
    again = rp.datasets.create("faq", str(path), key="id", license="CC-BY-4.0")
    assert again.ref == ds.ref and again.record.created is False and "nothing registered" in (again.record.note or "")
    assert rp.datasets.head("faq", 2) == [
        {"id": 1, "question": "What is Ripple?", "answer": "A platform for AI assets", "topic": "product"},
        {"id": 2, "question": "How do I roll back?", "answer": "Move a label", "topic": "ops"},
    ]
    got = rp.datasets.get("faq", version=1)
    assert got.record.hash == ds.record.hash and got.record.message == "first"
    assert rp.datasets.label("faq", "production", 1).version == 1
    assert rp.datasets.get("faq@production").ref == "dataset/faq:1"
    assert [a.ref for a in rp.datasets.list()] == ["dataset/faq"]
    assert [v.version for v in rp.datasets.versions("faq")] == [1]


def test_tables_and_records(rp: Client) -> None:
    table = pa.table({"q": ["hi", "bye"], "n": [1, 2]})
    ds = rp.datasets.create("greetings", table, source="hand-written", license="CC0-1.0")
    assert ds.provenance["source"] == "hand-written" and ds.schema == [
        {"name": "q", "type": "string"},
        {"name": "n", "type": "int64"},
    ]
    same = rp.datasets.create("greetings", pa.Table.from_batches(table.to_batches(max_chunksize=1)),
                              source="hand-written", license="CC0-1.0")  # fmt: skip
    assert same.ref == ds.ref and same.record.created is False
    rows = rp.datasets.create("records", [{"q": "a"}, {"q": "b", "extra": 1.5}])
    assert rows.provenance["source"] == "sdk:table"
    assert rows.read().to_pylist() == [{"q": "a", "extra": None}, {"q": "b", "extra": 1.5}]
    with pytest.raises(InvalidError, match="no rows"):
        rp.datasets.create("empty", [])
    with pytest.raises(InvalidError, match="cannot make a dataset from a int"):
        rp.datasets.create("bad", 42)


def test_a_folder_of_documents(rp: Client, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs")
    ds = rp.datasets.create("docs", folder, license="CC-BY-4.0")
    assert (ds.rows, ds.key) == (4, "doc_id")
    rows = {r["doc_id"]: r for r in ds.read(columns=["doc_id", "title", "source"]).to_pylist()}
    assert rows["paper.pdf"]["title"] == "Ripple paper"
    assert rows["guides/rollback.md"]["source"] == file_uri(folder) + "/guides/rollback.md"  # the client's path
    assert ds.provenance["source"] == file_uri(folder)
    again = rp.datasets.create("docs", folder, license="CC-BY-4.0")
    assert again.record.created is False  # embedded and remote alike: the same rows, the same blob


def test_bad_input_raises_and_registers_nothing(rp: Client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(
        InvalidError, match=r"bad.csv has 1 malformed row; nothing was imported — line 3: expected 2 fields, found 1"
    ):
        rp.datasets.create("bad", bad)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\n1,café\n".encode("latin-1"))
    with pytest.raises(InvalidError, match=r"not valid utf-8 text .* pass it with --encoding"):
        rp.datasets.create("bad", latin)
    assert rp.datasets.create("latin", latin, encoding="latin-1").head()[0]["b"] == "café"
    with pytest.raises(InvalidError, match="unknown dataset format 'xml'"):
        rp.datasets.create("bad", latin, format="xml")
    with pytest.raises(InvalidError, match="does not exist"):
        rp.datasets.create("bad", tmp_path / "missing.csv")
    with pytest.raises(NotFoundError):
        rp.datasets.get("bad")


def test_diff_export_read_quality_and_bias(rp: Client, tmp_path: Path) -> None:
    (tmp_path / "v1.csv").write_text(FAQ_CSV)
    (tmp_path / "v2.csv").write_text(FAQ_V2_CSV)
    rp.datasets.create("faq", tmp_path / "v1.csv", key="id")
    v2 = rp.datasets.create("faq", tmp_path / "v2.csv", key="id")
    d = rp.datasets.diff("faq:1", "faq:2")
    assert d["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1} and d["changed_columns"] == {
        "answer": 1
    }
    for fmt in ("csv", "jsonl", "parquet"):
        result = rp.datasets.export("faq:2", tmp_path / f"out.{fmt}")
        assert result["ref"] == "dataset/faq:2" and result["bytes"] == (tmp_path / f"out.{fmt}").stat().st_size
    assert pq.read_table(tmp_path / "out.parquet").equals(v2.read())
    assert (tmp_path / "out.csv").read_text().count("\n") == 4
    batches = list(rp.datasets.iter_batches("faq", columns=["id"], batch_size=2))
    assert [b.num_rows for b in batches] == [2, 1] and batches[0].schema.names == ["id"]
    with pytest.raises(NotFoundError, match="no column 'nope'"):
        list(rp.datasets.iter_batches("faq", columns=["nope"]))
    quality = rp.datasets.quality("faq:1")
    assert quality["ref"] == "dataset/faq:1" and quality["report"]["pii"]["entities"] == {"EMAIL_ADDRESS": 1}
    table = pa.table({"group": ["a"] * 10 + ["b"] * 10, "ok": [True] * 9 + [False] + [True] * 5 + [False] * 5})
    rp.datasets.create("outcomes", table)
    report = rp.datasets.get("outcomes").bias(group="group", outcome="ok", positive="true")["report"]
    assert [(g["group"], g["rate"]) for g in report["groups"]] == [("a", 0.9), ("b", 0.5)]
    assert report["four_fifths"]["flagged"] == ["b"]
    with pytest.raises(InvalidError, match="cannot tell the export format"):
        rp.datasets.export("faq", tmp_path / "out.txt")
