"""Datasets: records stored as one Parquet blob per version, with schema, provenance and a
quality report; read back in batches, diffed by key, exported, checked for bias.

Every way in ends in :meth:`DatasetService._register`: the records are in a Parquet temp
file written by :class:`~rippleops.services.dataset_parquet.ParquetSink`; the key is
checked, the file hashed and compared with the asset's versions (identical data, schema,
key and provenance return the existing version without computing anything more), then the
quality report is computed from the file, stored as a JSON blob, the Parquet file moved
into the blob store and the version registered. A failure before the last step leaves no
version, and no blob but content-addressed ones that nothing refers to yet.

pyarrow and the readers come with the ``data`` extra; without it this module still imports
(the platform runs) and every dataset call says what to install. They are imported by the
methods that use them (see :func:`require_data_extra`), the analyzers likewise.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Action, Principal
from rippleops.domain.datasets import (
    DERIVED,
    DOC_KEY,
    KIND,
    PARENT_ROLE,
    ImportSource,
    check_provenance,
    coerce_value,
    export_format,
    version_content,
)
from rippleops.domain.hashing import canonical_json
from rippleops.domain.records import Page, VersionRecord
from rippleops.domain.refs import parse_ref, validate_name
from rippleops.errors import InvalidError, NotFoundError
from rippleops.runtime.executor import JobCancelled
from rippleops.services.access import AccessService
from rippleops.services.assets import AssetService, InputSpec
from rippleops.services.dataset_files import write_chunks_atomically
from rippleops.settings import Settings
from rippleops.store.blobs import BlobStore
from rippleops.store.db import Database

if TYPE_CHECKING:
    import pyarrow as pa

    from rippleops.services.dataset_import import Reporter

DATA_EXTRA_HINT = "datasets need the 'data' extra: pip install 'rippleops[data]'"
HASH_CHUNK = 1024 * 1024


def require_data_extra() -> None:
    """pyarrow and the readers are imported by the methods that use them, not with this
    module: importing pyarrow costs ~0.5 s that every ``ripple`` command would pay."""
    if importlib.util.find_spec("pyarrow") is None:
        raise InvalidError(DATA_EXTRA_HINT)


class DatasetService:
    """``dataset/*`` assets (contract B of issue 4)."""

    def __init__(
        self,
        db: Database,
        access: AccessService,
        assets: AssetService,
        settings: Settings,
        blobs: Callable[[], BlobStore],
    ) -> None:
        self.db = db
        self.access = access
        self.assets = assets
        self.settings = settings
        self._blobs = blobs

    @property
    def blobs(self) -> BlobStore:
        return self._blobs()

    @property
    def temp_dir(self) -> Path:
        """Where half-built Parquet files live (the home's disk, like the blob store)."""
        return self.settings.home_path / "tmp"

    # -- creating --------------------------------------------------------------------------------

    def create_from_table(
        self,
        principal: Principal,
        project: str,
        name: str,
        table: pa.Table,
        *,
        provenance: dict[str, Any],
        key: str | None = None,
        inputs: Sequence[InputSpec] = (),
        message: str = "",
        tags: Sequence[str] = (),
        label_column: str | None = None,
        pii: bool = True,
        reporter: Reporter | None = None,
    ) -> VersionRecord:
        """Register ``table`` as the next version of ``dataset/name`` (a no-op for data,
        schema and provenance identical to a version's).

        >>> services.datasets.create_from_table(alice, "default", "faq", pa.table({"q": ["hi"]}),
        ...     provenance={"source": "https://example.com/faq", "license": "CC-BY-4.0"})  # doctest: +SKIP
        """
        require_data_extra()
        import pyarrow as pa

        from rippleops.services import dataset_parquet
        from rippleops.services.dataset_import import Quiet

        validate_name(name, "dataset name")
        self.authorize_write(principal, project)
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not isinstance(table, pa.Table):
            raise InvalidError(f"a dataset is made from a pyarrow Table, not {type(table).__name__}")
        if table.num_rows == 0:
            raise InvalidError(f"dataset/{name}: the table has no rows; an empty dataset is not registered")
        reporter = reporter or Quiet()
        with dataset_parquet.temp_path(self.temp_dir, ".parquet") as tmp:
            sink = dataset_parquet.ParquetSink(tmp, table.schema, dataset_parquet.row_group_rows(table.schema))
            try:
                for batch in table.to_batches():
                    sink.write(batch)
                sink.close()
            except BaseException:
                sink.abort()
                raise
            return self._register(
                principal, project, name, tmp, sink.rows, sink.schema,
                provenance=provenance, key=key, label_column=label_column, pii=pii, inputs=inputs,
                message=message, tags=tags, reporter=reporter,
            )  # fmt: skip

    def import_file(
        self,
        principal: Principal,
        project: str,
        name: str,
        source: ImportSource,
        *,
        key: str | None = None,
        license: str | None = None,
        provenance: dict[str, Any] | None = None,
        inputs: Sequence[InputSpec] = (),
        message: str = "",
        tags: Sequence[str] = (),
        label_column: str | None = None,
        pii: bool = True,
        reporter: Reporter | None = None,
    ) -> VersionRecord:
        """Stream a CSV, JSON Lines or Parquet file, or a folder of documents, into a new
        version (the ``dataset.import`` job calls this)."""
        require_data_extra()
        from rippleops.services import dataset_import, dataset_parquet

        validate_name(name, "dataset name")
        self.authorize_write(principal, project)
        reporter = reporter or dataset_import.Quiet()
        if source.format == "docs":
            if key not in (None, DOC_KEY):
                raise InvalidError(f"a folder of documents is keyed by {DOC_KEY!r}; leave --key out")
            key = DOC_KEY
        prov = {**(provenance or {}), "source": source.uri}
        if license is not None:
            prov["license"] = license
        with dataset_parquet.temp_path(self.temp_dir, ".parquet") as tmp:
            written = dataset_import.to_parquet(source, tmp, reporter)
            reporter.log(f"read {written.rows:,} rows from {source.label}")
            return self._register(
                principal, project, name, tmp, written.rows, written.schema,
                provenance=prov, key=key, label_column=label_column, pii=pii, inputs=inputs,
                message=message, tags=tags, reporter=reporter,
            )  # fmt: skip

    def authorize_write(self, principal: Principal, project: str) -> None:
        """Refuse at once (before a file is read or an upload received) when the caller may
        not create versions in ``project``."""
        with self.db.reading() as s:
            self.access.authorize(s, principal, project, Action.WRITE)

    def _register(
        self,
        principal: Principal,
        project: str,
        name: str,
        parquet: Path,
        rows: int,
        schema: pa.Schema,
        *,
        provenance: dict[str, Any],
        key: str | None,
        label_column: str | None,
        pii: bool,
        inputs: Sequence[InputSpec],
        message: str,
        tags: Sequence[str],
        reporter: Reporter,
    ) -> VersionRecord:
        from rippleops.services import dataset_parquet

        names = schema.names
        for what, column in (("key", key), ("label column", label_column)):
            if column is not None and column not in names:
                raise InvalidError(
                    f"dataset/{name} has no column {column!r} for the {what}; columns: {', '.join(names)}"
                )
        if key is not None:
            dataset_parquet.check_key(parquet, key, name)
        prov = check_provenance(provenance, principal.name)
        # parents: named in provenance or as inputs with the "parent" role; both end up as
        # lineage edges, and provenance records the exact versions they resolved to
        all_inputs = [
            InputSpec(parse_ref(i.ref, KIND).text, PARENT_ROLE) if i.role == PARENT_ROLE else i for i in inputs
        ]
        for parent in prov["parents"]:
            text = parse_ref(parent, KIND).text
            if not any(i.ref == text for i in all_inputs):
                all_inputs.append(InputSpec(text, PARENT_ROLE))
        prov["parents"] = sorted(
            {self.assets.get(principal, project, i.ref).ref for i in all_inputs if i.role == PARENT_ROLE}
        )
        digest = _file_digest(parquet)
        fields: dict[str, Any] = {
            "blob": digest, "size": parquet.stat().st_size, "rows": rows,
            "schema": dataset_parquet.describe_schema(schema), "key": key, "label_column": label_column,
            "provenance": prov,
        }  # fmt: skip
        existing = self.assets.find_identical(
            principal, project, KIND, name, version_content(**fields, quality={}), derived=DERIVED
        )
        if existing is not None:  # skip the report: the hash says this data is already a version
            reporter.log(existing.note or f"unchanged: {existing.ref}")
            return existing
        analyzer = _analyzer("quality")
        report = self._quality(analyzer, parquet, rows, schema, key, label_column, pii, reporter)
        report_digest = self.blobs.put(canonical_json(report).encode("utf-8"))
        stored = self.blobs.adopt_file(parquet)
        assert stored == digest, "the Parquet file changed while it was being stored"
        content = version_content(**fields, quality={**analyzer.quality_summary(report), "report": report_digest})
        return self.assets.register(
            principal, project, KIND, name, content, inputs=all_inputs, message=message, tags=tags, derived=DERIVED
        )

    def _quality(
        self,
        analyzer: Any,
        parquet: Path,
        rows: int,
        schema: pa.Schema,
        key: str | None,
        label_column: str | None,
        pii: bool,
        reporter: Reporter,
    ) -> dict[str, Any]:
        """The quality report (contract Q), streamed from the Parquet file being registered."""
        from rippleops.services import dataset_docs, dataset_parquet

        text_columns = ["text"] if schema.equals(dataset_docs.SCHEMA) else None

        def progress(done: int) -> None:
            reporter.progress(done, rows, f"quality report: {done:,} of {rows:,} rows")

        def batches() -> Iterator[pa.RecordBatch]:
            with dataset_parquet.temp_open(parquet) as pf:
                for batch in pf.iter_batches(batch_size=dataset_parquet.READ_BATCH_ROWS):
                    if reporter.cancelled():
                        raise JobCancelled()
                    yield batch

        reporter.progress(0, rows, "quality report")
        report = analyzer.quality_report(
            batches(), text_columns=text_columns, label_column=label_column, key=key, pii=pii, progress=progress
        )
        stored: dict[str, Any] = json.loads(canonical_json(report))  # JSON, and the stored form, exactly
        return stored

    # -- reading ---------------------------------------------------------------------------------

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.assets.get(principal, project, ref, KIND)

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.assets.versions(principal, project, name, KIND)

    def list(self, principal: Principal, project: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        return self.assets.list(principal, project, kind=KIND, limit=limit, cursor=cursor)

    def iter_batches(
        self,
        principal: Principal,
        project: str,
        ref: str,
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = 8192,
    ) -> Iterator[pa.RecordBatch]:
        """The version's records, ``batch_size`` rows at a time (authorised at the call,
        read as the iterator is consumed)."""
        require_data_extra()
        from rippleops.services import dataset_parquet

        record = self.get(principal, project, ref)
        return dataset_parquet.iter_blob_batches(self.blobs, record.content["blob"], columns, batch_size)

    def read_table(
        self, principal: Principal, project: str, ref: str, *, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """All records (of ``columns``) in memory: for data that fits; else :meth:`iter_batches`."""
        require_data_extra()
        from rippleops.services import dataset_parquet

        record = self.get(principal, project, ref)
        return dataset_parquet.read_blob_table(self.blobs, record.content["blob"], columns)

    def head(self, principal: Principal, project: str, ref: str, n: int = 10) -> dict[str, Any]:
        """The first ``n`` records as JSON values, with the version's ref and schema."""
        require_data_extra()
        from rippleops.services import dataset_parquet

        record = self.get(principal, project, ref)
        records = dataset_parquet.head_rows(self.blobs, record.content["blob"], n)
        return {
            "ref": record.ref,
            "rows": record.content["rows"],
            "schema": record.content["schema"],
            "records": records,
        }

    def diff(
        self, principal: Principal, project: str, a: str, b: str, *, key: str | None = None, limit: int = 5
    ) -> dict[str, Any]:
        require_data_extra()
        from rippleops.services import dataset_diff

        ra, rb = self.get(principal, project, a), self.get(principal, project, b)
        return dataset_diff.diff_versions(
            self.blobs, ra.content, rb.content, a_ref=ra.ref, b_ref=rb.ref, key=key, limit=limit
        )

    def quality(self, principal: Principal, project: str, ref: str) -> dict[str, Any]:
        """The full quality report stored with the version."""
        record = self.get(principal, project, ref)
        digest = (record.content.get("quality") or {}).get("report")
        if not digest:
            raise NotFoundError(f"{record.ref} has no stored quality report")
        report: dict[str, Any] = json.loads(self.blobs.get(digest))
        return {"ref": record.ref, "report": report}

    def bias(
        self, principal: Principal, project: str, ref: str, *, group: str, outcome: str, positive: Any = None
    ) -> dict[str, Any]:
        """Outcome rates per group of ``group`` and their disparity (computed on demand)."""
        require_data_extra()
        from rippleops.services import dataset_parquet

        bias_report = _analyzer("bias").bias_report
        record = self.get(principal, project, ref)
        types = {f["name"]: f["type"] for f in record.content["schema"]}
        for what, column in (("--group", group), ("--outcome", outcome)):
            if column not in types:
                raise NotFoundError(f"{record.ref} has no column {column!r} ({what}); columns: {', '.join(types)}")
        if positive is not None:
            positive = coerce_value(positive, types[outcome])
        batches = dataset_parquet.iter_blob_batches(self.blobs, record.content["blob"], sorted({group, outcome}))
        report = bias_report(batches, group_column=group, outcome_column=outcome, positive=positive)
        return {"ref": record.ref, "report": json.loads(canonical_json(report))}

    # -- exporting -------------------------------------------------------------------------------

    def export_stream(
        self, principal: Principal, project: str, ref: str, fmt: str
    ) -> tuple[VersionRecord, Iterator[bytes]]:
        """The version as ``fmt`` (csv, jsonl, parquet), in chunks: what the server streams."""
        require_data_extra()
        from rippleops.services import dataset_parquet

        record = self.get(principal, project, ref)
        digest = record.content["blob"]
        if not self.blobs.exists(digest):  # found now, not halfway through a download
            raise NotFoundError(
                f"{record.ref}: its data (blob {digest}) is missing from the blob store {self.blobs.url}"
            )
        return record, dataset_parquet.export_chunks(self.blobs, digest, fmt)

    def export(self, principal: Principal, project: str, ref: str, out: Path, fmt: str | None = None) -> dict[str, Any]:
        """Write the version to ``out`` (a temp file renamed at the end)."""
        fmt = fmt or export_format(out)
        record, chunks = self.export_stream(principal, project, ref, fmt)
        size = write_chunks_atomically(chunks, Path(out))
        return {"ref": record.ref, "path": str(out), "format": fmt, "rows": record.content["rows"], "bytes": size}


def _analyzer(name: str) -> Any:
    """The analyzer module of contract Q (quality or bias), imported when first needed:
    with numpy, datasketch and presidio it takes ~2 s to import, and only datasets use it."""
    try:
        return importlib.import_module(f"rippleops.runtime.analyzers.{name}")
    except ImportError as exc:
        raise InvalidError(f"the {name} report needs the 'data' extra: pip install 'rippleops[data]' ({exc})") from exc


def _file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"
