"""Building an index version: the ``index.build`` job.

One build reads the dataset version, cuts every document into chunks (the recipe's
chunking), takes the vectors of chunks the previous index version already holds (same
chunk id, same embedder: see :func:`~rippleops.domain.indexes.can_reuse_vectors`), embeds
the rest in batches through the embedder service (whose cache makes text it has seen free),
writes the vector table in one atomic ``create_table`` and only then registers the version.

So a build killed at any point leaves no index version and no half table: the rerun finds
either nothing (and builds again, the batches embedded before the kill coming out of the
embedding cache) or the complete table of the killed build (and only registers it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.chunking import Chunk, ChunkingParams, chunk_document
from rippleops.domain.indexes import IndexRecipe, can_reuse_vectors, plan_build, table_name
from rippleops.domain.records import VersionRecord
from rippleops.errors import InvalidError, NotFoundError
from rippleops.runtime.executor import JobCancelled, JobContext
from rippleops.services.assets import InputSpec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from rippleops.services import Services
    from rippleops.store.vectors import VectorStore

KIND = "index"
#: Chunks per call of the embedder service: big enough that the cache lookup and the model
#: batches stay efficient, small enough that progress and cancellation are frequent.
EMBED_BATCH = 256
READ_BATCH = 2048
STRING_TYPES = ("string", "large_string", "utf8", "large_utf8", "string_view")


@dataclass(frozen=True, slots=True)
class BuildInputs:
    """What one build starts from, resolved: the exact versions and the full recipe."""

    name: str
    dataset: VersionRecord
    embedder: VersionRecord
    dataset_ref: str  # as written (dataset/docs@latest): what the ripple engine re-resolves
    embedder_ref: str
    recipe: IndexRecipe
    fields: dict[str, str]
    dimension: int
    table: str
    message: str


def resolve_inputs(services: Services, principal: Principal, project: str, params: Mapping[str, Any]) -> BuildInputs:
    """Resolve a build's (checked) parameters against the dataset's schema and the embedder."""
    dataset = services.datasets.get(principal, project, params["dataset"])
    embedder = services.embedders.get(principal, project, params["embedder"])
    schema = {c["name"]: str(c["type"]) for c in dataset.content.get("schema") or []}
    key = dataset.content.get("key")
    doc_col = params.get("doc_id_column") or key or ("doc_id" if "doc_id" in schema else None)
    if doc_col is None:
        raise InvalidError(
            f"{dataset.ref} has no key column and no doc_id column, so its rows have no document id; "
            f"name the column that identifies a document with --doc-id-column (columns: {', '.join(schema)})"
        )
    recipe = IndexRecipe(
        ChunkingParams.from_dict(params["chunking"]),
        text_column=params["text_column"],
        doc_id_column=doc_col,
        metadata_columns=tuple(params.get("metadata_columns") or ()),
    )
    text_col, meta = recipe.text_column, recipe.metadata_columns
    missing = [c for c in (doc_col, text_col, *meta) if c not in schema]
    if missing:
        raise InvalidError(
            f"{dataset.ref} has no column {', '.join(map(repr, missing))}; its columns: {', '.join(schema)} "
            "(choose with --text-column, --doc-id-column and --metadata-columns)"
        )
    if schema[text_col] not in STRING_TYPES:
        raise InvalidError(f"{dataset.ref} column {text_col!r} holds {schema[text_col]}, not text; give a text column")
    dimension = embedder.content.get("dimension")
    if not isinstance(dimension, int) or dimension < 1:
        raise InvalidError(f"{embedder.ref} records no vector dimension; recreate it with `ripple embedder add`")
    fields = {"doc_id": "string", **{c: schema[c] for c in recipe.metadata_columns}}
    table = table_name(project, params["name"], dataset.hash, embedder.hash, recipe.to_dict())
    return BuildInputs(
        params["name"], dataset, embedder, params["dataset"], params["embedder"], recipe, fields, dimension, table,
        str(params.get("message") or ""),
    )  # fmt: skip


def version_content(inputs: BuildInputs, chunks: int, documents: int) -> dict[str, Any]:
    """An index version's content: only what follows from its inputs and recipe, so the
    same build twice is the same version (timings and counts of reuse go in the job result)."""
    return {
        "dataset": inputs.dataset.ref,
        "dataset_hash": inputs.dataset.hash,
        "embedder": inputs.embedder.ref,
        "embedder_hash": inputs.embedder.hash,
        "table": inputs.table,
        "dimension": inputs.dimension,
        "chunks": chunks,
        "documents": documents,
        "fields": inputs.fields,
    }


class IndexBuild:
    """One run of ``index.build``; :meth:`run` returns the job's result."""

    def __init__(
        self, services: Services, principal: Principal, project: str, inputs: BuildInputs, ctx: JobContext
    ) -> None:
        self.services = services
        self.principal = principal
        self.project = project
        self.inputs = inputs
        self.ctx = ctx
        self.store: VectorStore = services.vectors
        self.cache_hits = 0  # chunks embedded through the embedder service whose text was in its cache

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        inp = self.inputs
        done = self._already_registered()
        if done is not None:
            self.ctx.progress(done.content["chunks"], done.content["chunks"], "already built")
            self.ctx.log(f"{done.ref} was already built from {inp.dataset.ref} with {inp.embedder.ref}; nothing to do")
            return self._result(done, embedded=0, reused=0, resumed=False, t0=t0, unchanged=True)
        chunks, documents = self._chunks()
        if self.store.has_table(inp.table):
            # a build killed after writing its (atomic, complete) table and before registering it
            count = self.store.count(inp.table)
            dimension = self.store.dimension(inp.table)
            if (count, dimension) != (len(chunks), inp.dimension):
                raise InvalidError(
                    f"vector table {inp.table} holds {count} rows of {dimension}-dimension vectors, but this build "
                    f"makes {len(chunks)} rows of {inp.dimension} ({inp.embedder.ref}); it is not this build's "
                    f"output: drop the table from the vector store at {self.store.url} and build again",
                    details={"table": inp.table, "table_dimension": dimension, "embedder_dimension": inp.dimension},
                )
            self.ctx.log(f"table {inp.table} was written by an earlier run of this build; registering it")
            record = self._register(len(chunks), documents, embedded=0, reused=len(chunks))
            return self._result(record, embedded=0, reused=len(chunks), resumed=True, t0=t0)
        ids = [c.id for c, _ in chunks]
        vectors, source = self._reusable(ids)
        plan = plan_build(ids, vectors)
        self.ctx.log(
            f"{len(chunks)} chunks from {documents} documents of {inp.dataset.ref}: "
            f"{plan.reused} reused from {source or 'no previous version'}, {len(plan.embed)} to embed"
        )
        matrix = self._embed(chunks, plan.embed, vectors)
        self.ctx.progress(len(chunks), len(chunks), f"writing {len(chunks)} chunks to {inp.table}")
        self.store.create_table(inp.table, self._rows(chunks, matrix), dimension=inp.dimension)
        record = self._register(len(chunks), documents, embedded=len(plan.embed), reused=plan.reused)
        return self._result(record, embedded=len(plan.embed), reused=plan.reused, resumed=False, t0=t0)

    # -- steps -------------------------------------------------------------------------------

    def _versions(self) -> list[VersionRecord]:
        try:
            return self.services.assets.versions(self.principal, self.project, f"{KIND}/{self.inputs.name}")
        except NotFoundError:
            return []

    def _already_registered(self) -> VersionRecord | None:
        """The version this very build made before, if its table is still there and whole."""
        table = self.inputs.table
        for version in reversed(self._versions()):
            c = version.content
            if (
                c.get("table") == table
                and self.store.has_table(table)
                and (self.store.count(table), self.store.dimension(table)) == (c["chunks"], c["dimension"])
            ):
                return version
        return None

    def _documents(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        inp = self.inputs
        recipe = inp.recipe
        columns = [recipe.doc_id_column, recipe.text_column, *recipe.metadata_columns]
        for batch in self.services.datasets.iter_batches(
            self.principal, self.project, inp.dataset.ref, columns=columns, batch_size=READ_BATCH
        ):
            data = batch.to_pydict()
            for i, doc_id in enumerate(data[recipe.doc_id_column]):
                if doc_id is None:
                    raise InvalidError(
                        f"{inp.dataset.ref} has a row without a document id (column {recipe.doc_id_column!r}); "
                        "every row needs one"
                    )
                meta = {c: _jsonable(data[c][i]) for c in recipe.metadata_columns}
                yield str(doc_id), data[recipe.text_column][i] or "", meta

    def _chunks(self) -> tuple[list[tuple[Chunk, dict[str, Any]]], int]:
        params = self.inputs.recipe.chunking
        out: list[tuple[Chunk, dict[str, Any]]] = []
        seen: set[str] = set()
        self.ctx.progress(0, None, f"chunking {self.inputs.dataset.ref}")
        for doc_id, text, meta in self._documents():
            if doc_id in seen:
                raise InvalidError(
                    f"document id {doc_id!r} appears in more than one row of {self.inputs.dataset.ref}; "
                    f"the doc id column {self.inputs.recipe.doc_id_column!r} must be unique (choose another with --doc-id-column)"
                )
            seen.add(doc_id)
            out.extend((c, meta) for c in chunk_document(doc_id, text, params))
            if self.ctx.cancelled():
                raise JobCancelled()
        if not out:
            raise InvalidError(
                f"{self.inputs.dataset.ref} has no text to index: column {self.inputs.recipe.text_column!r} "
                f"is empty in all {len(seen)} rows"
            )
        return out, len(seen)

    def _reusable(self, ids: Sequence[str]) -> tuple[dict[str, Any], str | None]:
        """Vectors of the newest previous version built with the same embedder, by chunk id."""
        inp = self.inputs
        for version in reversed(self._versions()):
            c = version.content
            if not can_reuse_vectors(
                c.get("embedder_hash"), (version.recipe or {}).get("code_version"), inp.embedder.hash
            ):
                continue
            if not self.store.has_table(c["table"]) or self.store.dimension(c["table"]) != inp.dimension:
                continue
            rows = self.store.read_rows(c["table"], ids=list(ids)).select(["id", "vector"])
            found = dict(zip(rows.column("id").to_pylist(), _matrix(rows.column("vector"), inp.dimension), strict=True))
            return found, version.ref
        return {}, None

    def _embed(
        self, chunks: list[tuple[Chunk, dict[str, Any]]], todo: Sequence[int], reused: Mapping[str, Any]
    ) -> npt.NDArray[np.float32]:
        import numpy as np

        inp = self.inputs
        matrix = np.zeros((len(chunks), inp.dimension), dtype=np.float32)
        for i, (c, _) in enumerate(chunks):
            if c.id in reused:
                matrix[i] = reused[c.id]
        total, base = len(chunks), len(chunks) - len(todo)
        for start in range(0, len(todo), EMBED_BATCH):
            if self.ctx.cancelled():
                raise JobCancelled()
            rows = todo[start : start + EMBED_BATCH]
            texts = [chunks[i][0].embedding_text for i in rows]
            counted = self.services.embedders.embed_counted(self.principal, self.project, inp.embedder.ref, texts)
            self.cache_hits += counted.cached
            got = np.asarray(counted.vectors, dtype=np.float32)
            if got.ndim != 2 or got.shape != (len(texts), inp.dimension):
                raise InvalidError(
                    f"{inp.embedder.ref} declares {inp.dimension}-dimension vectors but returned an array of shape "
                    f"{tuple(got.shape)} for {len(texts)} texts; the index and the embedder must agree on the "
                    "dimension — fix the embedder's `dimension` (a new embedder version) and build again",
                    details={"declared": inp.dimension, "returned": list(got.shape)},
                )
            matrix[list(rows)] = got
            embedded = start + len(rows)
            self.ctx.progress(base + embedded, total, f"{embedded}/{len(todo)} chunks embedded, {base} reused")
            self.services.settings.fault("index.after_embed_batch")
        return matrix

    def _rows(self, chunks: list[tuple[Chunk, dict[str, Any]]], matrix: npt.NDArray[np.float32]) -> pa.Table:
        import pyarrow as pa

        dim = self.inputs.dimension
        flat = pa.array(matrix.reshape(-1), type=pa.float32())
        return pa.table(
            {
                "id": pa.array([c.id for c, _ in chunks], pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
                "text": pa.array([c.text for c, _ in chunks], pa.string()),
                "doc_id": pa.array([c.doc_id for c, _ in chunks], pa.string()),
                "start": pa.array([c.start for c, _ in chunks], pa.int64()),
                "end": pa.array([c.end for c, _ in chunks], pa.int64()),
                "metadata": pa.array(
                    [json.dumps({"heading": list(c.heading), **m}, ensure_ascii=False) for c, m in chunks], pa.string()
                ),
            }
        )

    def _register(self, chunks: int, documents: int, *, embedded: int, reused: int) -> VersionRecord:
        inp = self.inputs
        message = inp.message or (
            f"built from {inp.dataset.ref} with {inp.embedder.ref}: {embedded} chunks embedded, {reused} reused"
        )
        record = self.services.assets.register(
            self.principal, self.project, KIND, inp.name, version_content(inp, chunks, documents),
            inputs=[InputSpec(inp.dataset_ref, "dataset"), InputSpec(inp.embedder_ref, "embedder")],
            recipe=inp.recipe.to_dict(), message=message,
        )  # fmt: skip
        recorded = {i.role: i.hash for i in record.inputs}
        if record.created and recorded.get("dataset") != inp.dataset.hash:
            # the dataset's label moved during the build: the version says which one it holds
            self.ctx.log(
                f"{inp.dataset_ref} moved while building; {record.ref} holds {inp.dataset.ref} (see its content)",
                "warning",
            )
        return record

    def _result(
        self, record: VersionRecord, *, embedded: int, reused: int, resumed: bool, t0: float, unchanged: bool = False
    ) -> dict[str, Any]:
        c = record.content
        self.ctx.log(f"{record.ref}: {c['chunks']} chunks, {embedded} embedded, {reused} reused")
        return {
            "index": record.ref,
            "dataset": c["dataset"],
            "embedder": c["embedder"],
            "table": c["table"],
            "documents": c["documents"],
            "chunks": c["chunks"],
            "embedded": embedded,
            "reused": reused,
            "cache_hits": self.cache_hits,
            "resumed": resumed,
            "unchanged": unchanged or record.created is False,
            "seconds": round(time.perf_counter() - t0, 3),
        }


def _jsonable(value: Any) -> Any:
    """A metadata value as JSON keeps it (dates and decimals as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _matrix(column: Any, dimension: int) -> npt.NDArray[np.float32]:
    import numpy as np
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    values = arr.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float32).reshape(len(arr), dimension)
