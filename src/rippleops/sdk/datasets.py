"""``rp.datasets``: import data (a file, a folder of documents, a table or a list of
records) as versioned datasets, and read, diff, export and check them.

>>> ds = rp.datasets.create("faq", "faq.csv", key="id", license="CC-BY-4.0")   # doctest: +SKIP
>>> ds.ref, ds.rows                                                              # doctest: +SKIP
('dataset/faq:1', 120)
>>> rp.datasets.head("faq", 3)                                                   # doctest: +SKIP
[{'id': 1, 'question': '...', 'answer': '...'}, ...]
"""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain.datasets import KIND, export_format, file_uri
from rippleops.domain.jobs import JobState
from rippleops.domain.records import AssetRecord, JobRecord, LabelRecord, VersionRecord
from rippleops.domain.refs import make_ref
from rippleops.errors import ERRORS_BY_TYPE, InvalidError, RippleError
from rippleops.sdk.collections import _Collection
from rippleops.sdk.jobs import OnUpdate, _Follower

if TYPE_CHECKING:
    import pyarrow as pa

TABLE_SOURCE = "sdk:table"  # the provenance source of data given as a table, unless told


class Dataset:
    """One dataset version: its record (``ref``, ``rows``, ``schema``, ``key``,
    ``provenance``, ``quality``) and shortcuts to read it.

    >>> ds = rp.datasets.get("faq@production")        # doctest: +SKIP
    >>> ds.read(columns=["question"]).num_rows        # doctest: +SKIP
    120
    """

    __slots__ = ("_datasets", "record")

    def __init__(self, datasets: Datasets, record: VersionRecord) -> None:
        self._datasets = datasets
        self.record = record

    def __repr__(self) -> str:
        return f"<Dataset {self.record.ref} rows={self.rows} labels={self.record.labels}>"

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def rows(self) -> int:
        return int(self.record.content["rows"])

    @property
    def schema(self) -> list[dict[str, str]]:
        return list(self.record.content["schema"])

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.schema]

    @property
    def key(self) -> str | None:
        return self.record.content.get("key")

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.record.content.get("provenance") or {})

    @property
    def quality_summary(self) -> dict[str, Any]:
        """The counts kept with the version; :meth:`quality` has the full report."""
        return dict(self.record.content.get("quality") or {})

    def head(self, n: int = 10) -> builtins.list[dict[str, Any]]:
        return self._datasets.head(self.ref, n, project=self.record.project)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        return self._datasets.read(self.ref, columns=columns, project=self.record.project)

    def iter_batches(self, columns: Sequence[str] | None = None, batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
        return self._datasets.iter_batches(
            self.ref, columns=columns, batch_size=batch_size, project=self.record.project
        )

    def export(self, out: str | Path, format: str | None = None) -> dict[str, Any]:
        return self._datasets.export(self.ref, out, format=format, project=self.record.project)

    def quality(self) -> dict[str, Any]:
        return self._datasets.quality(self.ref, project=self.record.project)

    def bias(self, group: str, outcome: str, positive: Any = None) -> dict[str, Any]:
        return self._datasets.bias(
            self.ref, group=group, outcome=outcome, positive=positive, project=self.record.project
        )

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


class Datasets(_Collection):
    """Dataset assets. References may be ``faq``, ``faq:2``, ``faq@production`` or ``dataset/faq``."""

    def create(
        self,
        name: str,
        data: Any,
        *,
        format: str | None = None,
        key: str | None = None,
        license: str | None = None,
        source: str | None = None,
        message: str = "",
        encoding: str | None = None,
        delimiter: str | None = None,
        label_column: str | None = None,
        pii: bool = True,
        tags: builtins.list[str] | None = None,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> Dataset:
        """Import ``data`` as the next version of ``dataset/name`` and return it (identical
        data, schema and provenance return the existing version: ``record.created`` is False).

        ``data`` is a path (CSV, JSONL, Parquet file, or a folder of .txt/.md/.html/.pdf
        documents), a pyarrow Table or RecordBatch, a DataFrame, or a list of dicts.

        >>> rp.datasets.create("faq", "data/faq.csv", key="id", license="CC-BY-4.0")      # doctest: +SKIP
        >>> rp.datasets.create("tiny", [{"q": "hi", "a": "hello"}], source="hand-written")  # doctest: +SKIP
        """
        job = self.import_job(
            name, data, format=format, key=key, license=license, source=source, message=message,
            encoding=encoding, delimiter=delimiter, label_column=label_column, pii=pii, tags=tags, wait=True,
            timeout=timeout, on_update=on_update, project=project,
        )  # fmt: skip
        return self._from_job(job, project)

    def import_job(
        self,
        name: str,
        data: Any,
        *,
        format: str | None = None,
        key: str | None = None,
        license: str | None = None,
        source: str | None = None,
        message: str = "",
        encoding: str | None = None,
        delimiter: str | None = None,
        label_column: str | None = None,
        pii: bool = True,
        tags: builtins.list[str] | None = None,
        wait: bool = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Start the ``dataset.import`` job for ``data`` (as :meth:`create`) and return the
        job; with ``wait=True`` once it has finished. What the CLI uses for its progress bar."""
        p = self._p(project)
        params: dict[str, Any] = {
            "name": name, "format": format, "key": key, "license": license, "message": message or None,
            "encoding": encoding, "delimiter": delimiter, "label_column": label_column, "tags": tags or None,
            "pii": None if pii else False,
        }  # fmt: skip
        follower = _Follower(on_update)
        watch = follower if on_update else None
        if isinstance(data, str | Path):
            path = Path(data).expanduser().absolute()
            params["source"] = source or file_uri(path)
            job = self._t.import_dataset(p, str(path), _clean(params), watch=watch)
        else:
            table = _as_table(data)
            with tempfile.TemporaryDirectory(prefix="ripple-table-") as tmp:
                import pyarrow.parquet as pq  # only data given as a table needs pyarrow here

                file = Path(tmp) / "table.parquet"
                pq.write_table(table, file)
                params.update(format="parquet", source=source or TABLE_SOURCE)
                job = self._t.import_dataset(p, str(file), _clean(params), watch=watch)
        if wait and not job.state.is_terminal:
            job = self._client.jobs.wait(job.id, timeout, on_update=on_update, project=p)
        return job

    def _from_job(self, job: JobRecord, project: str | None) -> Dataset:
        if job.state is not JobState.SUCCEEDED:
            raise job_failure(job)
        record = self._t.get_version(self._p(project), job.result["ref"])
        return Dataset(
            self, record.model_copy(update={"created": job.result["created"], "note": job.result.get("note")})
        )

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> Dataset:
        """One version: ``get("faq")`` (latest), ``get("faq", label="production")``, ``get("faq:2")``."""
        ref = make_ref(KIND, name, label=label, version=version).text
        return Dataset(self, self._t.get_version(self._p(project), ref))

    def list(
        self, *, tag: str | None = None, label: str | None = None, project: str | None = None
    ) -> builtins.list[AssetRecord]:
        return self._client.assets.list(kind=KIND, tag=tag, label=label, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._p(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` (moving ``production`` needs an admin)."""
        return self._t.set_label(self._p(project), make_ref(KIND, name).asset, label, version)

    def head(self, ref: str, n: int = 10, *, project: str | None = None) -> builtins.list[dict[str, Any]]:
        """The first ``n`` records as dicts of JSON values."""
        records: builtins.list[dict[str, Any]] = self._t.dataset_head(self._p(project), _ref(ref), n)["records"]
        return records

    def diff(
        self, a: str, b: str, *, key: str | None = None, limit: int = 5, project: str | None = None
    ) -> dict[str, Any]:
        """Rows added, removed and changed from ``a`` to ``b``, matched by ``key`` (default: the
        versions' key): counts, the changed columns, and up to ``limit`` examples of each."""
        return self._t.diff_datasets(self._p(project), _ref(a), _ref(b), key=key, limit=limit)

    def export(
        self, ref: str, out: str | Path, *, format: str | None = None, project: str | None = None
    ) -> dict[str, Any]:
        """Write the version to ``out`` as csv, jsonl or parquet (default: from the suffix)."""
        fmt = format or export_format(out)
        return self._t.export_dataset(self._p(project), _ref(ref), str(Path(out).expanduser()), fmt)

    def quality(self, ref: str, *, project: str | None = None) -> dict[str, Any]:
        """The quality report stored with the version (``{"ref", "report"}``)."""
        return self._t.dataset_quality(self._p(project), _ref(ref))

    def bias(
        self, ref: str, *, group: str, outcome: str, positive: Any = None, project: str | None = None
    ) -> dict[str, Any]:
        """Outcome rates per group and their disparity (``{"ref", "report"}``)."""
        return self._t.dataset_bias(self._p(project), _ref(ref), group=group, outcome=outcome, positive=positive)

    def iter_batches(
        self, ref: str, *, columns: Sequence[str] | None = None, batch_size: int = 8192, project: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The records as pyarrow RecordBatches of ``batch_size`` rows (only ``columns`` if given)."""
        cols = None if columns is None else [columns] if isinstance(columns, str) else builtins.list(columns)
        batches: Iterator[pa.RecordBatch] = self._t.dataset_batches(
            self._p(project), _ref(ref), columns=cols, batch_size=batch_size
        )
        return batches

    def read(self, ref: str, *, columns: Sequence[str] | None = None, project: str | None = None) -> pa.Table:
        """All records as one pyarrow Table (for data that fits in memory)."""
        import pyarrow as pa  # the `data` extra

        return pa.Table.from_batches(builtins.list(self.iter_batches(ref, columns=columns, project=project)))


def job_failure(job: JobRecord) -> RippleError:
    """Why an import job did not succeed, as the error its type names."""
    if job.state is JobState.CANCELLED:
        return RippleError(f"job {job.id} (dataset.import) was cancelled; rerun it with `ripple job rerun {job.id}`")
    if not job.state.is_terminal:
        return RippleError(f"job {job.id} (dataset.import) is still {job.state.value}")
    err = job.error
    cls = ERRORS_BY_TYPE.get(err.type, RippleError) if err else RippleError
    return cls(err.message if err else f"job {job.id} failed without an error message")


def _ref(ref: str) -> str:
    return make_ref(KIND, ref).text


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _as_table(data: Any) -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch, DataFrame (anything pyarrow takes) or a
    list of dicts (every key of every record is a column)."""
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise InvalidError(f"a table needs pyarrow: pip install 'rippleops[data]' ({exc})") from exc
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, builtins.list | tuple):
        if not all(isinstance(r, Mapping) for r in data):
            raise InvalidError("records must be a list of dicts, one per row")
        names: dict[str, None] = {}
        for r in data:
            names.update(dict.fromkeys(r))
        try:
            return pa.table({n: [r.get(n) for r in data] for n in names})
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidError(f"the records cannot be made a table: {exc}; give each field one type") from None
    try:
        return pa.table(data)
    except (TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise InvalidError(
            f"cannot make a dataset from a {type(data).__name__}; give a path, a pyarrow Table, a DataFrame "
            f"or a list of dicts ({exc})"
        ) from None
