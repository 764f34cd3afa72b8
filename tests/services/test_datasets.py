"""The dataset service on SQLite and PostgreSQL: imports of real files (CSV, JSONL,
Parquet, a folder of txt/md/html/pdf documents), identity and no-ops, provenance and
lineage, bad input that registers nothing, reading back, diff, bias, export, streaming."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataset_support import FAQ_CSV, FAQ_V2_CSV, write_docs
from rippleops.domain.access import Principal
from rippleops.domain.datasets import ImportSource, file_uri
from rippleops.errors import InvalidError, NotFoundError
from rippleops.runtime.executor import JobCancelled
from rippleops.services import Services
from rippleops.services.assets import InputSpec
from rippleops.services.dataset_import import Quiet

P = "default"


def csv_file(tmp_path: Path, text: str, name: str = "faq.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def import_job(services: Services, admin: Principal, **params: Any) -> Any:
    return services.jobs.submit(admin, P, "dataset.import", params)


def stored_files(services: Services) -> set[Path]:
    """Every file under the home's blobs and tmp folders (to prove nothing was left)."""
    home = services.settings.home_path
    return {p for folder in ("blobs", "tmp") for p in (home / folder).rglob("*") if p.is_file()}


def test_import_a_csv_with_schema_provenance_and_quality(services: Services, admin: Principal, tmp_path: Path) -> None:
    path = csv_file(tmp_path, FAQ_CSV)
    job = import_job(services, admin, name="faq", path=str(path), key="id", license="CC-BY-4.0", message="first")
    assert job.state.value == "succeeded", job.error
    assert job.result == {"ref": "dataset/faq:1", "created": True, "rows": 3, "columns": 4,
                          "bytes": job.result["bytes"], "note": None}  # fmt: skip
    assert job.progress.done == job.progress.total == 3  # the last phase: the quality report, in rows
    record = services.datasets.get(admin, P, "faq")
    c = record.content
    assert (record.ref, record.kind, record.message, record.created_by) == (
        "dataset/faq:1",
        "dataset",
        "first",
        "alice",
    )
    assert c["rows"] == 3 and c["key"] == "id" and c["label_column"] is None
    assert c["schema"] == [{"name": "id", "type": "int64"}, {"name": "question", "type": "string"},
                           {"name": "answer", "type": "string"}, {"name": "topic", "type": "string"}]  # fmt: skip
    assert c["provenance"] == {"source": file_uri(path), "license": "CC-BY-4.0", "created_by": "alice", "parents": []}
    assert services.blobs.size(c["blob"]) == c["bytes"]
    assert pq.ParquetFile(services.blobs.open(c["blob"])).metadata.num_rows == 3
    summary = c["quality"]
    assert summary["rows"] == 3 and summary["pii"] == 1 and summary["exact_duplicates"] == 0
    report = services.datasets.quality(admin, P, "faq:1")["report"]
    assert json.loads(services.blobs.get(summary["report"])) == report
    assert report["pii"]["entities"] == {"EMAIL_ADDRESS": 1} and report["key"] == "id"
    logs = [line.message for line in services.jobs.logs(admin, P, job.id)]
    assert logs[-1] == "created dataset/faq:1 (3 rows)"


def test_identical_data_is_a_no_op_and_the_quality_report_is_not_part_of_identity(
    services: Services, admin: Principal, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, FAQ_CSV)
    first = import_job(services, admin, name="faq", path=str(path), key="id")
    # no PII scan this time: a different report, the same data, schema and provenance
    again = import_job(services, admin, name="faq", path=str(path), key="id", pii=False)
    assert again.result["ref"] == first.result["ref"] == "dataset/faq:1"
    assert again.result["created"] is False
    assert again.result["note"] == "identical to the latest version 1; nothing registered"
    other_license = import_job(services, admin, name="faq", path=str(path), key="id", license="MIT")
    assert other_license.result["ref"] == "dataset/faq:2"  # provenance is part of the version
    back = import_job(services, admin, name="faq", path=str(path), key="id")
    assert back.result["ref"] == "dataset/faq:1" and "identical to version 1 (latest is 2)" in back.result["note"]
    assert "ripple dataset label faq LABEL 1" in back.result["note"]
    assert [v.version for v in services.datasets.versions(admin, P, "faq")] == [1, 2]


def test_a_table_gives_the_same_blob_whatever_its_batches(services: Services, admin: Principal) -> None:
    n = 150_000  # more than two row groups
    table = pa.table({"id": pa.array(range(n)), "text": [f"row {i % 977}" for i in range(n)]})
    prov = {"source": "https://example.com/rows", "license": "CC0-1.0"}
    one = services.datasets.create_from_table(admin, P, "rows", table, provenance=prov, key="id", pii=False)
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=7777))
    two = services.datasets.create_from_table(admin, P, "rows", rechunked, provenance=prov, key="id", pii=False)
    assert one.created is True and two.created is False and two.ref == one.ref
    with services.blobs.open(one.content["blob"]) as f:
        meta = pq.ParquetFile(f).metadata
        assert meta.num_row_groups == 3 and meta.row_group(0).num_rows == 65_536
    assert one.content["provenance"]["created_by"] == "alice"
    with pytest.raises(InvalidError, match="the table has no rows"):
        services.datasets.create_from_table(admin, P, "rows", table.slice(0, 0), provenance=prov)


def test_parents_are_recorded_as_provenance_and_lineage(services: Services, admin: Principal) -> None:
    raw = services.datasets.create_from_table(admin, P, "raw", pa.table({"q": ["a", "b"]}), provenance={})
    clean = services.datasets.create_from_table(
        admin, P, "clean", pa.table({"q": ["a"]}), provenance={"source": "dedup of raw", "parents": ["raw"]},
        inputs=[InputSpec("raw", "parent")],
    )  # fmt: skip
    assert clean.content["provenance"]["parents"] == [raw.ref]
    assert [(i.ref, i.resolved, i.role) for i in clean.inputs] == [("dataset/raw", "dataset/raw:1", "parent")]
    lineage = services.lineage.walk(admin, P, clean.ref, direction="up")
    assert [n.ref for n in lineage.upstream] == ["dataset/raw:1"]
    with pytest.raises(NotFoundError, match="dataset/nope"):
        services.datasets.create_from_table(admin, P, "x", pa.table({"q": [1]}), provenance={"parents": ["nope"]})
    with pytest.raises(InvalidError, match=r"provenance\.parents must be a list"):
        services.datasets.create_from_table(admin, P, "x", pa.table({"q": [1]}), provenance={"parents": "raw"})


def test_a_key_must_identify_every_row(services: Services, admin: Principal, tmp_path: Path) -> None:
    before = stored_files(services)
    dup = csv_file(tmp_path, "id,v\n1,a\n2,b\n1,c\n", "dup.csv")
    job = import_job(services, admin, name="d", path=str(dup), key="id")
    assert job.state.value == "failed" and job.error.type == "InvalidError"
    assert "key column 'id' is not unique (1 repeated values: 1 x2)" in job.error.message
    empty = csv_file(tmp_path, "id,v\n1,a\n,b\n", "empty-key.csv")
    assert (
        "key column 'id' is empty in 1 rows"
        in import_job(services, admin, name="d", path=str(empty), key="id").error.message
    )
    missing = import_job(services, admin, name="d", path=str(empty), key="nope")
    assert "has no column 'nope' for the key; columns: id, v" in missing.error.message
    assert stored_files(services) == before
    with pytest.raises(NotFoundError):
        services.datasets.get(admin, P, "d")


def test_malformed_rows_name_their_lines_and_register_nothing(
    services: Services, admin: Principal, tmp_path: Path
) -> None:
    before = stored_files(services)
    bad_csv = csv_file(tmp_path, "id,name,score\n1,a,0.5\n2,b,0.7,extra\n3,c\n4,d,1.0\n", "bad.csv")
    job = import_job(services, admin, name="bad", path=str(bad_csv))
    assert job.state.value == "failed" and job.error.type == "InvalidError"
    assert job.error.message == (
        "bad.csv has 2 malformed rows; nothing was imported — line 3: expected 3 fields, found 4: 2,b,0.7,extra; "
        "line 4: expected 3 fields, found 2: 3,c"
    )
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"a": 1}\n\n{"a": 2,}\n[1, 2]\n{"a": 3}\n')
    job = import_job(services, admin, name="bad", path=str(bad_jsonl))
    assert job.error.message.startswith(
        "bad.jsonl has 2 malformed lines; nothing was imported — line 3: not valid JSON"
    )
    assert "line 4: not a JSON object but list: [1, 2]" in job.error.message
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"a": 1}\n{"a": "x"}\n')
    assert "field 'a' mixes value types" in import_job(services, admin, name="bad", path=str(mixed)).error.message
    assert stored_files(services) == before  # no blob, no half-written temp file
    with pytest.raises(NotFoundError):
        services.datasets.get(admin, P, "bad")


def test_a_wrong_encoding_names_the_expected_one_and_the_option(
    services: Services, admin: Principal, tmp_path: Path
) -> None:
    latin = csv_file(tmp_path, "id,city\n1,Zürich\n2,Genève\n", "cities.csv", encoding="latin-1")
    job = import_job(services, admin, name="cities", path=str(latin))
    assert job.error.type == "InvalidError"
    assert (
        "cities.csv is not valid utf-8 text (column 'city' at line 2); utf-8 is the expected encoding"
        in job.error.message
    )
    assert "pass it with --encoding (for example latin-1 or cp1252)" in job.error.message
    ok = import_job(services, admin, name="cities", path=str(latin), encoding="latin-1")
    assert ok.state.value == "succeeded"
    assert [r["city"] for r in services.datasets.head(admin, P, "cities")["records"]] == ["Zürich", "Genève"]
    utf16 = csv_file(tmp_path, "id,city\n1,Zürich\n", "wide.csv", encoding="utf-16")
    assert "for example utf-16" in import_job(services, admin, name="wide", path=str(utf16)).error.message
    jsonl = tmp_path / "cities.jsonl"
    jsonl.write_bytes('{"city": "Zürich"}\n'.encode("latin-1"))
    assert (
        "not valid utf-8 text (the text at line 1)"
        in import_job(services, admin, name="c", path=str(jsonl)).error.message
    )
    with pytest.raises(InvalidError, match="unknown text encoding 'klingon'"):
        import_job(services, admin, name="c", path=str(jsonl), encoding="klingon")


def test_empty_datasets_and_unknown_formats_are_refused(services: Services, admin: Principal, tmp_path: Path) -> None:
    cases = {
        "empty.csv": ("", "empty.csv is empty (no header, no rows); an empty dataset is not registered"),
        "header.csv": ("id,name\n", "header.csv has a header but no rows"),
        "blank.jsonl": ("\n\n", "blank.jsonl has no records"),
    }
    for name, (text, message) in cases.items():
        job = import_job(services, admin, name="e", path=str(csv_file(tmp_path, text, name)))
        assert job.state.value == "failed" and message in job.error.message, job.error
    (tmp_path / "nodocs").mkdir()
    (tmp_path / "nodocs" / "a.png").write_bytes(b"png")
    job = import_job(services, admin, name="e", path=str(tmp_path / "nodocs"))
    assert "holds no documents (.txt, .md, .html, .pdf) (it holds 1 other files)" in job.error.message
    with pytest.raises(
        InvalidError, match=r"cannot tell the format of .*data\.xlsx from its suffix \.xlsx; pass --format"
    ):
        import_job(services, admin, name="e", path=str(csv_file(tmp_path, "x", "data.xlsx")))
    with pytest.raises(InvalidError, match="unknown dataset format 'excel'; formats: csv, jsonl, parquet, docs"):
        import_job(services, admin, name="e", path=str(csv_file(tmp_path, "x", "data.csv")), format="excel")
    with pytest.raises(InvalidError, match=r"a \.json file is not a dataset format"):
        import_job(services, admin, name="e", path=str(csv_file(tmp_path, "[]", "data.json")))
    not_parquet = import_job(services, admin, name="e", path=str(csv_file(tmp_path, "a,b\n1,2\n", "x.parquet")))
    assert "x.parquet is not a Parquet file" in not_parquet.error.message
    with pytest.raises(InvalidError, match="does not exist"):
        import_job(services, admin, name="e", path=str(tmp_path / "missing.csv"))


def test_a_column_is_widened_when_later_rows_do_not_fit(services: Services, admin: Principal, tmp_path: Path) -> None:
    lines = ["id,code,score"] + [f"{i},{i},{i}" for i in range(120_000)] + ["120000,A-7,0.5"]
    path = csv_file(tmp_path, "\n".join(lines) + "\n", "drift.csv")  # ~2.3 MB: the odd row is blocks away
    job = import_job(services, admin, name="drift", path=str(path), key="id", pii=False)
    assert job.state.value == "succeeded", job.error
    schema = services.datasets.get(admin, P, "drift").content["schema"]
    assert schema == [{"name": "id", "type": "int64"}, {"name": "code", "type": "string"},
                      {"name": "score", "type": "double"}]  # fmt: skip
    warnings = [line.message for line in services.jobs.logs(admin, P, job.id) if line.level == "warning"]
    assert any("column 'code' was read as int64" in w and "'A-7'; reading it as string" in w for w in warnings)
    last = services.datasets.read_table(admin, P, "drift", columns=["code", "score"]).slice(120_000).to_pylist()
    assert last == [{"code": "A-7", "score": 0.5}]


def test_jsonl_and_parquet_files(services: Services, admin: Principal, tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"id": 1, "tags": ["a"]}\n{"id": 2, "score": 0.5}\n\n{"id": 3, "tags": [], "score": 2}\n')
    job = import_job(services, admin, name="events", path=str(jsonl), key="id")
    assert job.state.value == "succeeded", job.error
    rows = services.datasets.read_table(admin, P, "events").to_pylist()
    assert rows == [{"id": 1, "tags": ["a"], "score": None}, {"id": 2, "tags": None, "score": 0.5},
                    {"id": 3, "tags": [], "score": 2.0}]  # fmt: skip
    pq.write_table(pa.table({"id": [1, 2], "text": ["x", "y"]}), tmp_path / "t.parquet")
    job = import_job(services, admin, name="t", path=str(tmp_path / "t.parquet"))
    assert job.state.value == "succeeded" and job.result["rows"] == 2


def test_a_folder_of_documents(services: Services, admin: Principal, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs")
    job = import_job(services, admin, name="docs", path=str(folder), message="handbook")
    assert job.state.value == "succeeded", job.error
    warnings = [line.message for line in services.jobs.logs(admin, P, job.id) if line.level == "warning"]
    assert warnings == ["skipped image.png: not a .txt, .md, .html or .pdf document"]
    record = services.datasets.get(admin, P, "docs")
    assert record.content["key"] == "doc_id"
    assert [f["name"] for f in record.content["schema"]] == ["doc_id", "text", "title", "format", "source", "bytes"]
    rows = {r["doc_id"]: r for r in services.datasets.read_table(admin, P, "docs").to_pylist()}
    assert sorted(rows) == ["guides/rollback.md", "page.html", "paper.pdf", "readme.txt"]
    assert rows["guides/rollback.md"]["text"] == "# Rolling back\n\nMove the `production` label back.\n"
    assert rows["guides/rollback.md"]["title"] == "Rolling back"
    assert rows["page.html"]["text"] == "FAQ\n\nAsk anything.\n\nSecond paragraph"
    assert rows["page.html"]["title"] == "Ripple FAQ"
    assert rows["paper.pdf"]["text"] == "Lineage for AI systems\nStale assets are rebuilt."
    assert (rows["paper.pdf"]["title"], rows["paper.pdf"]["format"]) == ("Ripple paper", "pdf")
    assert rows["readme.txt"]["title"] == "Ripple keeps every piece as a versioned asset."
    assert rows["readme.txt"]["source"] == file_uri(folder) + "/readme.txt"
    assert rows["paper.pdf"]["bytes"] == (folder / "paper.pdf").stat().st_size
    assert services.datasets.quality(admin, P, "docs")["report"]["text_columns"] == ["text"]
    again = import_job(services, admin, name="docs", path=str(folder))
    assert again.result["created"] is False
    with pytest.raises(InvalidError, match="keyed by 'doc_id'; leave --key out"):
        source = ImportSource(folder, "docs", file_uri(folder))
        services.datasets.import_file(admin, P, "docs", source, key="title")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    broken = import_job(services, admin, name="docs", path=str(folder))
    assert broken.state.value == "failed" and "broken.pdf is not a readable PDF" in broken.error.message


def test_reading_back_in_batches(services: Services, admin: Principal) -> None:
    table = pa.table({"id": list(range(20_000)), "text": [f"t{i}" for i in range(20_000)]})
    services.datasets.create_from_table(admin, P, "big", table, provenance={"source": "test"}, pii=False)
    batches = list(services.datasets.iter_batches(admin, P, "big", columns=["id"], batch_size=5000))
    assert [b.num_rows for b in batches] == [5000] * 4 and batches[0].schema.names == ["id"]
    assert services.datasets.read_table(admin, P, "big:1").equals(table)
    with pytest.raises(NotFoundError, match="no column 'nope'; columns: id, text"):
        list(services.datasets.iter_batches(admin, P, "big", columns=["nope"]))
    head = services.datasets.head(admin, P, "big", 2)
    assert head == {"ref": "dataset/big:1", "rows": 20_000, "schema": [{"name": "id", "type": "int64"},
                    {"name": "text", "type": "string"}], "records": [{"id": 0, "text": "t0"}, {"id": 1, "text": "t1"}]}  # fmt: skip
    with pytest.raises(NotFoundError, match="dataset/none"):
        services.datasets.get(admin, P, "none")


def test_diff_by_key(services: Services, admin: Principal, tmp_path: Path) -> None:
    import_job(services, admin, name="faq", path=str(csv_file(tmp_path, FAQ_CSV)), key="id")
    import_job(services, admin, name="faq", path=str(csv_file(tmp_path, FAQ_V2_CSV, "faq2.csv")), key="id")
    d = services.datasets.diff(admin, P, "faq:1", "faq:2")
    assert (d["from"], d["to"], d["key"], d["same"]) == ("dataset/faq:1", "dataset/faq:2", "id", False)
    assert d["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    assert d["changed_columns"] == {"answer": 1}
    assert d["examples"]["changed"] == [
        {
            "key": 1,
            "columns": {"answer": {"from": "A platform for AI assets", "to": "A platform for versioned AI assets"}},
        }
    ]
    assert d["examples"]["added"] == [{"id": 4, "question": "Is it offline?", "answer": "Yes", "topic": "product"}]
    assert [r["id"] for r in d["examples"]["removed"]] == [2]
    assert d["schema"] == {"added": [], "removed": [], "retyped": []}
    assert services.datasets.diff(admin, P, "faq:1", "faq:1")["same"] is True
    by_question = services.datasets.diff(admin, P, "faq:1", "faq:2", key="question")
    assert by_question["counts"]["changed"] == 1 and by_question["examples"]["changed"][0]["key"] == "What is Ripple?"
    schema_change = pa.table({"id": [1, 2, 3], "answer": ["x", "Move a label", "ana@example.org"], "new": [1, 2, 3]})
    services.datasets.create_from_table(admin, P, "faq", schema_change, provenance={"source": "t"}, key="id")
    d3 = services.datasets.diff(admin, P, "faq:1", "faq:3", limit=0)
    assert d3["schema"]["added"] == [{"name": "new", "type": "int64"}]
    assert [f["name"] for f in d3["schema"]["removed"]] == ["question", "topic"]
    assert d3["counts"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 2} and d3["examples"]["changed"] == []
    services.datasets.create_from_table(admin, P, "nokey", pa.table({"id": [1]}), provenance={})
    with pytest.raises(InvalidError, match="records no key column, so rows cannot be matched; pass --key COL"):
        services.datasets.diff(admin, P, "nokey", "faq:1")
    with pytest.raises(InvalidError, match="key column 'topic' is not unique"):
        services.datasets.diff(admin, P, "faq:1", "faq:2", key="topic")


def test_bias_report(services: Services, admin: Principal) -> None:
    table = pa.table({"group": ["a"] * 40 + ["b"] * 40, "hired": [1] * 30 + [0] * 10 + [1] * 15 + [0] * 25})
    services.datasets.create_from_table(admin, P, "hiring", table, provenance={"source": "synthetic test"})
    result = services.datasets.bias(admin, P, "hiring", group="group", outcome="hired", positive="1")
    report = result["report"]
    assert result["ref"] == "dataset/hiring:1" and report["positive"] == [1]
    rates = {g["group"]: (g["rate"], g["disparity"], g["four_fifths"]) for g in report["groups"]}
    assert rates == {"a": (0.75, 1.0, True), "b": (0.375, 0.5, False)}
    assert report["four_fifths"]["flagged"] == ["b"] and report["notes"]
    with pytest.raises(NotFoundError, match="has no column 'sex' \\(--group\\)"):
        services.datasets.bias(admin, P, "hiring", group="sex", outcome="hired")
    with pytest.raises(InvalidError, match="'yes' is not a value of the column's type int64"):
        services.datasets.bias(admin, P, "hiring", group="group", outcome="hired", positive="yes")


def test_export_round_trips(services: Services, admin: Principal, tmp_path: Path) -> None:
    import_job(services, admin, name="faq", path=str(csv_file(tmp_path, FAQ_CSV)), key="id")
    out = tmp_path / "out"
    out.mkdir()
    for fmt in ("csv", "jsonl", "parquet"):
        result = services.datasets.export(admin, P, "faq", out / f"faq.{fmt}")
        assert result["format"] == fmt and result["bytes"] == (out / f"faq.{fmt}").stat().st_size
    assert (out / "faq.csv").read_text().splitlines()[0] == '"id","question","answer","topic"'
    assert json.loads((out / "faq.jsonl").read_text().splitlines()[2])["answer"] == "ana@example.org"
    assert pq.read_table(out / "faq.parquet").equals(services.datasets.read_table(admin, P, "faq"))
    assert sorted(p.name for p in out.iterdir()) == ["faq.csv", "faq.jsonl", "faq.parquet"]  # no temp files left
    with pytest.raises(InvalidError, match=r"cannot tell the export format from 'faq\.xlsx'"):
        services.datasets.export(admin, P, "faq", out / "faq.xlsx")
    with pytest.raises(NotFoundError, match=r"the folder .* does not exist"):
        services.datasets.export(admin, P, "faq", tmp_path / "nope" / "faq.csv")
    services.datasets.create_from_table(admin, P, "nested", pa.table({"l": [[1, 2]]}), provenance={})
    with pytest.raises(InvalidError, match="CSV cannot hold the nested columns l; export as jsonl or parquet"):
        services.datasets.export(admin, P, "nested", out / "n.csv")


def test_a_viewer_cannot_import(services: Services, admin: Principal, tmp_path: Path) -> None:
    services.access.create_user(admin, "vic")
    services.access.grant(admin, P, "vic", "viewer")
    vic = services.access.authenticate(services.access.create_token(admin, user="vic").token)
    with pytest.raises(Exception, match="needs engineer"):
        services.datasets.create_from_table(vic, P, "x", pa.table({"a": [1]}), provenance={})


@pytest.mark.slow
def test_a_large_csv_is_streamed_in_batches(sqlite_settings: Any, tmp_path: Path) -> None:
    """Arrow's live memory while a CSV is read, written as Parquet row groups and stored
    does not grow with the file: ~7 MB and ~27 MB files peak alike (a row group's worth)
    (measured at each progress call; Python's allocations with tracemalloc while reading).
    Numbers only, so that the quality report (its own module's cost) stays quick."""
    services = Services(sqlite_settings)
    try:
        admin = services.access.authenticate(sqlite_settings.token_file.read_text().strip())
        # the first import loads the analyzers (presidio ...): not what is measured here
        services.datasets.create_from_table(admin, P, "warm-up", pa.table({"x": [1.0]}), provenance={})
        peaks = {}
        for rows in (100_000, 400_000):  # both hold full 65,536-row groups
            path = tmp_path / f"numbers-{rows}.csv"
            with path.open("w") as f:
                f.write("id,x,y,z\n")
                f.writelines(f"{i},{i / 9973:.15f},{i / 7919:.15f},{i / 7:.15f}\n" for i in range(rows))
            size = path.stat().st_size
            arrow_peak = python_peak = calls = 0

            class Watch:
                def progress(self, done: int, total: int | None = None, message: str = "") -> None:
                    nonlocal arrow_peak, python_peak, calls
                    calls += 1
                    arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
                    if not message.startswith("quality"):  # reading and writing (the report is its module's)
                        python_peak = max(python_peak, tracemalloc.get_traced_memory()[0])

                def log(self, message: str, level: str = "info") -> None:
                    return None

                def cancelled(self) -> bool:
                    return False

            tracemalloc.start()
            try:
                source = ImportSource(path, "csv", file_uri(path))
                record = services.datasets.import_file(admin, P, f"n{rows}", source, key="id", reporter=Watch())
            finally:
                tracemalloc.stop()
            assert record.content["rows"] == rows
            assert calls > size // (2 << 20)  # at least one progress call per 1 MiB block read
            assert python_peak < size / 4, (python_peak, size)
            peaks[rows] = (arrow_peak, size)
            with services.blobs.open(record.content["blob"]) as f:
                assert pq.ParquetFile(f).metadata.num_row_groups == -(-rows // 65_536)
        (small, _), (big, big_size) = peaks[100_000], peaks[400_000]
        assert big_size > 25_000_000
        assert big < big_size / 2, peaks
        assert big < 1.5 * small + (1 << 20), peaks  # four times the data, not four times the memory
    finally:
        services.close()


def test_a_cancelled_import_leaves_nothing(services: Services, admin: Principal, tmp_path: Path) -> None:
    path = csv_file(tmp_path, FAQ_CSV)
    before = stored_files(services)

    class Stop(Quiet):
        def cancelled(self) -> bool:
            return True

    with pytest.raises(JobCancelled):
        services.datasets.import_file(admin, P, "faq", ImportSource(path, "csv", file_uri(path)), reporter=Stop())
    assert stored_files(services) == before
    with pytest.raises(NotFoundError):
        services.datasets.get(admin, P, "faq")
