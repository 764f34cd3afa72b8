"""In-process search over a loaded table: exact top-k as matrix products, approximate top-k
on an HNSW graph (usearch), equality filters as row masks.

Why in-process: on this 2-core machine numpy brute force does ~134 exact queries/s over
100k x 384 one at a time (~1,150/s batched) while LanceDB's flat search did 7.5/s, and its
IVF_HNSW_SQ index ~230/s at best, below the 500/s target. A float32 matrix loaded once per
table and a usearch graph do both (numbers in docs/vectors.md).

Filtered searches (``where``) are always exact over the matching rows: the mask is built
once per distinct filter and kept, and brute force over a subset is both correct and fast,
where an HNSW walk that skips non-matching nodes loses recall on selective filters.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .base import (
    COLUMNS,
    VectorHit,
    check_query_vectors,
    normalized,
    parse_metadata,
    vectors_of,
    where_matches,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

#: Tables with fewer rows get no HNSW graph: one exact matrix product over 20k x 384 takes
#: ~1 ms here, as fast as a graph walk and always right.
ANN_MIN_ROWS = 20_000
#: HNSW parameters (usearch): edges per node, candidate list while building, while searching.
#: Chosen on 50k real MiniLM sentence vectors (benchmarks/vector_search.py): recall@10 >= 0.95.
HNSW_CONNECTIVITY = 16
HNSW_EXPANSION_ADD = 128
HNSW_EXPANSION_SEARCH = 64
#: Graph vectors are stored as float16: half the bytes of float32 at the same recall here;
#: scores are always recomputed in float32 from the table's matrix.
HNSW_DTYPE = "f16"
#: Schema metadata key holding the id of the build that wrote a table.
BUILD_KEY = "ripple.build"
#: Query rows per matrix product (bounds the (queries x rows) score matrix to ~25 MB at 100k rows).
QUERY_CHUNK = 64
#: Distinct filters whose row masks are kept per table.
MASKS_KEPT = 16

_UNLOADED = object()


def build_id(schema: pa.Schema) -> str:
    return ((schema.metadata or {}).get(BUILD_KEY.encode()) or b"").decode()


def canonical_value(value: Any) -> str:
    """A metadata value as the JSON a filter compares: ``1.0`` and ``1`` are one value."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def filter_tokens(rows: pa.Table) -> list[list[str]]:
    """Per row, ``key=<json>`` for each scalar top-level metadata value (what LanceDB filters on)."""
    out = []
    for raw in rows.column("metadata").to_pylist():
        meta = json.loads(raw)
        out.append(
            [f"{key}={canonical_value(value)}" for key, value in meta.items() if not isinstance(value, dict | list)]
        )
    return out


def where_sql(where: Mapping[str, Any]) -> str:
    """A LanceDB (DataFusion) filter for ``where``; values are quoted, never spliced raw."""
    parts = []
    for key, value in where.items():
        if key == "doc_id":
            parts.append(f"doc_id = {_sql_string(str(value))}")
        else:
            parts.append(f"array_has(_filter, {_sql_string(f'{key}={canonical_value(value)}')})")
    return " AND ".join(parts)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_ann(rows: pa.Table) -> bytes:
    """An HNSW graph over the rows' unit vectors, serialised (keys are row positions)."""
    import numpy as np
    from usearch.index import Index

    matrix = normalized(vectors_of(rows))
    index = Index(
        ndim=matrix.shape[1],
        metric="cos",
        dtype=HNSW_DTYPE,
        connectivity=HNSW_CONNECTIVITY,
        expansion_add=HNSW_EXPANSION_ADD,
        expansion_search=HNSW_EXPANSION_SEARCH,
    )
    index.add(np.arange(len(matrix), dtype=np.uint64), matrix, threads=0)
    saved = index.save()  # no path: the serialised index
    assert saved is not None
    return bytes(saved)


def exact_top_k(
    matrix: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Row positions and scores of the ``k`` highest dot products per query, best first."""
    import numpy as np

    n = matrix.shape[0]
    kk = min(k, n)
    rows_out = np.empty((len(queries), kk), dtype=np.int64)
    scores_out = np.empty((len(queries), kk), dtype=np.float32)
    for start in range(0, len(queries), QUERY_CHUNK):
        block = queries[start : start + QUERY_CHUNK]
        scores = block @ matrix.T if len(block) > 1 else (matrix @ block[0])[None, :]
        if kk < n:  # the kk largest sit past position n - kk (no negated copy of the scores)
            top = np.argpartition(scores, n - kk, axis=1)[:, n - kk :]
        else:
            top = np.broadcast_to(np.arange(n), (len(block), n)).copy()
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        rows_out[start : start + len(block)] = np.take_along_axis(top, order, axis=1)
        scores_out[start : start + len(block)] = np.take_along_axis(top_scores, order, axis=1)
    return rows_out, scores_out


class LoadedTable:
    """One table's rows in this process: vectors as a unit-norm float32 matrix, the other
    columns as Arrow arrays, and (for large tables) its HNSW graph, loaded on first use."""

    def __init__(
        self, name: str, version: int, build: str, lance: Any, read_ann: Callable[[str], bytes | None]
    ) -> None:
        import numpy as np

        self.name, self.version, self.build, self.lance = name, version, build, lance
        arrow = lance.to_arrow().select(list(COLUMNS)).combine_chunks()
        self.rows: pa.Table = arrow
        self.count: int = arrow.num_rows
        vectors = vectors_of(arrow)
        self.dimension = int(vectors.shape[1])
        norms = np.linalg.norm(vectors, axis=1)
        # Unit vectors (MiniLM's) are used in place, zero-copy from Arrow; others get a normalised copy.
        self.matrix = vectors if np.allclose(norms, 1.0, atol=1e-4) else normalized(vectors)
        self._doc_ids = arrow.column("doc_id").to_numpy(zero_copy_only=False)
        self._ids = arrow.column("id")
        self._texts = arrow.column("text")
        self._starts = arrow.column("start")
        self._ends = arrow.column("end")
        self._metadata = arrow.column("metadata")
        self._parsed: list[dict[str, Any]] | None = None
        self._row_of: dict[str, int] | None = None
        self._masks: OrderedDict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = OrderedDict()
        self._ann: Any = _UNLOADED
        self._read_ann = read_ann
        self._lock = threading.Lock()

    # -- rows ------------------------------------------------------------------------------

    def read_rows(self, ids: Sequence[str] | None) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        if ids is None:
            return self.rows
        if isinstance(ids, str):
            ids = [ids]
        return self.rows.filter(pc.is_in(self.rows.column("id"), value_set=pa.array(list(ids), pa.string())))

    def hit(self, row: int, score: float) -> VectorHit:
        raw = self._metadata[row].as_py()
        return VectorHit(
            id=self._ids[row].as_py(),
            score=float(score),
            doc_id=self._doc_ids[row],
            text=self._texts[row].as_py(),
            start=self._starts[row].as_py(),
            end=self._ends[row].as_py(),
            metadata=json.loads(raw),
        )

    def hits_by_id(self, ids: Sequence[str], scores: Sequence[float]) -> list[VectorHit]:
        if self._row_of is None:
            self._row_of = {value: i for i, value in enumerate(self._ids.to_pylist())}
        return [self.hit(self._row_of[i], s) for i, s in zip(ids, scores, strict=True) if i in self._row_of]

    # -- vector search ---------------------------------------------------------------------------

    def search_many(
        self, vectors: npt.ArrayLike, k: int, where: Mapping[str, Any], *, exact: bool
    ) -> list[list[VectorHit]]:
        queries = normalized(check_query_vectors(vectors, self.dimension, self.name))
        if where:
            positions, sub = self._subset(where)
            if not len(positions):
                return [[] for _ in queries]
            rows, scores = exact_top_k(sub, queries, k)
            rows = positions[rows]
        elif not exact and self._graph() is not None:
            rows, scores = self._ann_top_k(queries, k)
        else:
            rows, scores = exact_top_k(self.matrix, queries, k)
        return [
            [self.hit(int(r), float(s)) for r, s in zip(row, score, strict=True) if r >= 0]
            for row, score in zip(rows, scores, strict=True)
        ]

    def _ann_top_k(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        import numpy as np

        graph = self._graph()
        assert graph is not None
        wanted = max(HNSW_EXPANSION_SEARCH, 2 * k)
        if graph.expansion_search != wanted:
            graph.expansion_search = wanted
        kk = min(k, self.count)
        found = graph.search(queries, kk, threads=0)
        if hasattr(found, "counts"):  # BatchMatches: (queries, kk) keys, padded past counts
            keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
            counts = np.asarray(found.counts).reshape(-1)
        else:  # one query gives Matches: only the keys found
            found_keys = np.asarray(found.keys, dtype=np.int64)
            keys = np.full((1, kk), -1, dtype=np.int64)
            keys[0, : len(found_keys)] = found_keys
            counts = np.array([len(found_keys)])
        valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
        keys = np.where(valid, keys, -1)
        # Scores in float32 from the matrix, as exact search gives them; then re-sorted.
        safe = np.where(keys >= 0, keys, 0)
        scores = np.einsum("qkd,qd->qk", self.matrix[safe], queries)
        scores = np.where(keys >= 0, scores, -np.inf).astype(np.float32)
        order = np.argsort(-scores, axis=1, kind="stable")
        return np.take_along_axis(keys, order, axis=1), np.take_along_axis(scores, order, axis=1)

    def _graph(self) -> Any:
        if self._ann is _UNLOADED:
            with self._lock:
                if self._ann is _UNLOADED:
                    blob = self._read_ann(self.name)
                    if blob is None:
                        self._ann = None
                    else:
                        from usearch.index import Index

                        self._ann = Index.restore(blob)
        return self._ann

    def _subset(self, where: Mapping[str, Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        import numpy as np

        key = json.dumps(sorted((k, canonical_value(v)) for k, v in where.items()))
        with self._lock:
            kept = self._masks.get(key)
            if kept is not None:
                self._masks.move_to_end(key)
                return kept
        mask = np.ones(self.count, dtype=bool)
        if "doc_id" in where:
            mask &= self._doc_ids == where["doc_id"]
        others = {k: v for k, v in where.items() if k != "doc_id"}
        if others:
            parsed = self._parsed_metadata()
            mask &= np.fromiter((where_matches(others, "", m) for m in parsed), dtype=bool, count=self.count)
        positions = np.flatnonzero(mask).astype(np.int64)
        kept = (positions, np.ascontiguousarray(self.matrix[positions]))
        with self._lock:
            self._masks[key] = kept
            while len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        return kept

    def _parsed_metadata(self) -> list[dict[str, Any]]:
        if self._parsed is None:
            self._parsed = [parse_metadata(raw, f"table {self.name!r}") for raw in self._metadata.to_pylist()]
        return self._parsed
