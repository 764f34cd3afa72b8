"""Searching an index version, and measuring how well it retrieves.

Three modes:

- ``vector``: the query is embedded with the index's own embedder version and compared by
  cosine similarity (the vector store's ``search``);
- ``bm25``: full-text relevance of the chunk text (the vector store's ``text_search``);
- ``hybrid`` (the default): both, each to a depth of ``max(3k, 30)``, merged by reciprocal
  rank fusion with ``k = 60`` (:mod:`rippleops.domain.fusion`).

Filters are equality on ``doc_id`` and the metadata columns the index kept; a key the index
does not have is an error that lists the keys it has.

Evaluation reads a dataset of relevance judgements, one row per (query, relevant document):
``query_id``, ``query``, ``doc_id`` and optionally ``relevance`` (a whole number, default 1;
0 means judged not relevant). Relevance is per document: a ranking of chunks becomes a
ranking of the documents they come from, in order of each document's best chunk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rippleops.domain import retrieval_metrics
from rippleops.domain.access import Principal
from rippleops.domain.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from rippleops.domain.indexes import coerce_filters
from rippleops.domain.records import IndexRecord, RetrievalEvalRecord, SearchHitRecord, SearchResultRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services.indexes import index_record

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from rippleops.services import Services
    from rippleops.store.vectors import VectorHit, VectorStore

MODES = ("vector", "bm25", "hybrid")
DEFAULT_MODE = "hybrid"
MAX_QUERY_CHARS = 10_000
#: An evaluation fetches this many chunks per wanted document, so that several chunks of one
#: document do not crowd the others out of the top k.
EVAL_CHUNKS_PER_DOC = 4
QUERY_COLUMNS = ("query_id", "query", "doc_id")
MAX_DEPTH = 10_000  # the vector store's largest k


def fusion_depth(k: int) -> int:
    """How deep each ranking goes before fusion: enough that an item ranked well by one list
    and moderately by the other still gets both contributions."""
    return max(3 * k, 30)


class SearchService:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def store(self) -> VectorStore:
        return self.services.vectors

    def search(
        self,
        principal: Principal,
        project: str,
        index: str,
        query: str,
        *,
        k: int = 5,
        mode: str = DEFAULT_MODE,
        filters: Mapping[str, Any] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> SearchResultRecord:
        """The ``k`` best chunks of ``index`` for ``query``."""
        t0 = time.perf_counter()
        mode, k = _mode(mode), _k(k)
        if not isinstance(query, str) or not query.strip():
            raise InvalidError("the query is empty; give the text to search for")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidError(f"the query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
        record = self._index(principal, project, index)
        where = coerce_filters(filters, record.fields)
        rankers = _Rankers(self, principal, project, record, [query], where, _depth(mode, k))
        hits = self._ranked(rankers, mode, 0, k, rrf_k)
        return SearchResultRecord(
            index=record.ref, query=query, mode=mode, k=k, filters=where, rrf_k=rrf_k if mode == "hybrid" else None,
            hits=hits, took_ms=round((time.perf_counter() - t0) * 1000, 3),
        )  # fmt: skip

    def evaluate(
        self,
        principal: Principal,
        project: str,
        index: str,
        queries: str,
        *,
        k: int = 10,
        modes: Sequence[str] = MODES,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> RetrievalEvalRecord:
        """Recall, precision, MRR, nDCG and hit rate of ``index`` over the judgements in the
        dataset ``queries``, for each search mode."""
        k = _k(k)
        modes = [_mode(m) for m in dict.fromkeys(modes or MODES)]
        record = self._index(principal, project, index)
        dataset, texts, qrels, judgements = self._judgements(principal, project, queries)
        qids = sorted(texts)
        depth = min(k * EVAL_CHUNKS_PER_DOC, MAX_DEPTH)
        ks = sorted({1, min(5, k), k})
        out: dict[str, dict[str, Any]] = {}
        queries_text = [texts[q] for q in qids]
        for mode in modes:
            t0 = time.perf_counter()  # each mode fetches its own lists, so that took_s is what the mode costs
            rankers = _Rankers(self, principal, project, record, queries_text, {}, _depth(mode, depth))
            run = {qid: _doc_ranking(self._ranked(rankers, mode, i, depth, rrf_k), k) for i, qid in enumerate(qids)}
            result = retrieval_metrics.evaluate(run, qrels, ks=ks)
            result["took_s"] = round(time.perf_counter() - t0, 3)
            result["runs"] = run
            out[mode] = result
        return RetrievalEvalRecord(
            index=record.ref, queries=dataset, k=k, ks=ks, query_count=len(qids), judgement_count=judgements,
            modes=out,
        )  # fmt: skip

    # -- pieces ---------------------------------------------------------------------------------

    def _index(self, principal: Principal, project: str, ref: str) -> IndexRecord:
        record = index_record(self.services.assets.get(principal, project, parse_ref(ref, "index")))
        if not self.store.has_table(record.table):
            raise NotFoundError(
                f"the vectors of {record.ref} (table {record.table}) are not in the vector store at {self.store.url}; "
                f"rebuild it with `ripple index build {record.name}` (or point RIPPLE_VECTOR_URL at the store it was built in)"
            )
        have = self.store.dimension(record.table)
        if have != record.dimension:
            raise InvalidError(
                f"{record.ref} records {record.dimension}-dimension vectors but its table {record.table} holds {have}; "
                f"rebuild it with `ripple index build {record.name}`",
                details={"index_dimension": record.dimension, "table_dimension": have},
            )
        return record

    def _query_vectors(
        self, principal: Principal, project: str, record: IndexRecord, queries: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        import numpy as np

        vectors = np.asarray(self.services.embedders.embed(principal, project, record.embedder, list(queries)))
        if vectors.ndim != 2 or vectors.shape[1] != record.dimension:
            got = vectors.shape[-1] if vectors.ndim else 0
            raise InvalidError(
                f"dimension mismatch: {record.ref} holds {record.dimension}-dimension vectors, but its embedder "
                f"{record.embedder} now returns {got}-dimension ones; rebuild the index with an embedder that "
                f"matches (`ripple index build {record.name} --embedder ...`)",
                details={"index_dimension": record.dimension, "embedder_dimension": int(got)},
            )
        return vectors

    def _ranked(self, rankers: _Rankers, mode: str, i: int, k: int, rrf_k: int) -> list[SearchHitRecord]:
        if mode == "vector":
            return [_hit(r, h) for r, h in enumerate(rankers.vector(i, k), 1)]
        if mode == "bm25":
            return [_hit(r, h) for r, h in enumerate(rankers.bm25(i, k), 1)]
        depth = fusion_depth(k)
        lists = {"vector": rankers.vector(i, depth), "bm25": rankers.bm25(i, depth)}
        by_id: dict[str, VectorHit] = {}
        ranks: dict[str, dict[str, int]] = {}
        scores: dict[str, dict[str, float]] = {}
        for name, hits in lists.items():
            for rank, h in enumerate(hits, 1):
                by_id.setdefault(h.id, h)
                ranks.setdefault(h.id, {})[name] = rank
                scores.setdefault(h.id, {})[name] = float(h.score)
        fused = reciprocal_rank_fusion([[h.id for h in hits] for hits in lists.values()], k=rrf_k, limit=k)
        return [
            _hit(rank, by_id[cid], score=score, ranks=ranks[cid], scores=scores[cid])
            for rank, (cid, score) in enumerate(fused, 1)
        ]

    def _judgements(
        self, principal: Principal, project: str, ref: str
    ) -> tuple[str, dict[str, str], dict[str, dict[str, int]], int]:
        dataset = self.services.datasets.get(principal, project, ref)
        columns = [c["name"] for c in dataset.content.get("schema") or []]
        missing = [c for c in QUERY_COLUMNS if c not in columns]
        if missing:
            raise InvalidError(
                f"{dataset.ref} is not a queries + judgements dataset: it has no column {', '.join(map(repr, missing))}; "
                "it needs one row per judgement with query_id, query, doc_id and optionally relevance "
                f"(its columns: {', '.join(columns)})"
            )
        wanted = [*QUERY_COLUMNS, *(["relevance"] if "relevance" in columns else [])]
        table = self.services.datasets.read_table(principal, project, dataset.ref, columns=wanted).to_pydict()
        texts: dict[str, str] = {}
        qrels: dict[str, dict[str, int]] = {}
        rels = table.get("relevance") or [1] * len(table["query_id"])
        for row, (qid, text, doc, rel) in enumerate(
            zip(table["query_id"], table["query"], table["doc_id"], rels, strict=True), 1
        ):
            if qid is None or doc is None or not isinstance(text, str) or not text.strip():
                raise InvalidError(f"{dataset.ref} row {row}: query_id, query and doc_id must all be given")
            qid, doc = str(qid), str(doc)
            if texts.setdefault(qid, text) != text:
                raise InvalidError(
                    f"{dataset.ref}: query {qid!r} has two different texts ({texts[qid][:40]!r} and {text[:40]!r}); "
                    "one query id, one text"
                )
            relevance = 1 if rel is None else rel
            if isinstance(relevance, bool) or not isinstance(relevance, int | float) or relevance != int(relevance):
                raise InvalidError(f"{dataset.ref} row {row}: relevance {rel!r} is not a whole number")
            qrels.setdefault(qid, {})[doc] = int(relevance)
        if not texts:
            raise InvalidError(f"{dataset.ref} has no judgements (0 rows)")
        return dataset.ref, texts, qrels, len(table["query_id"])


class _Rankers:
    """The vector and BM25 rankings of a list of queries to one depth, each fetched once (an
    evaluation reads the same query's lists under several modes); the vector queries go to
    the store in one ``search_many``."""

    def __init__(
        self,
        service: SearchService,
        principal: Principal,
        project: str,
        record: IndexRecord,
        queries: Sequence[str],
        where: Mapping[str, Any],
        depth: int,
    ) -> None:
        self.service, self.principal, self.project, self.record = service, principal, project, record
        self.queries, self.where, self.depth = list(queries), dict(where) or None, min(depth, MAX_DEPTH)
        self._vector: list[list[VectorHit]] | None = None
        self._bm25: dict[int, list[VectorHit]] = {}

    def vector(self, i: int, k: int) -> list[VectorHit]:
        if self._vector is None:
            vectors = self.service._query_vectors(self.principal, self.project, self.record, self.queries)
            self._vector = self.service.store.search_many(self.record.table, vectors, self.depth, where=self.where)
        return self._vector[i][:k]

    def bm25(self, i: int, k: int) -> list[VectorHit]:
        if i not in self._bm25:
            store = self.service.store
            self._bm25[i] = store.text_search(self.record.table, self.queries[i], self.depth, where=self.where)
        return self._bm25[i][:k]


def _hit(
    rank: int,
    h: VectorHit,
    *,
    score: float | None = None,
    ranks: dict[str, int] | None = None,
    scores: dict[str, float] | None = None,
) -> SearchHitRecord:
    meta = dict(h.metadata)
    heading = meta.pop("heading", None) or []
    return SearchHitRecord(
        rank=rank, id=h.id, score=float(h.score if score is None else score), doc_id=h.doc_id, text=h.text,
        start=int(h.start), end=int(h.end), heading=[str(x) for x in heading], metadata=meta,
        ranks=ranks or {}, scores=scores or {},
    )  # fmt: skip


def _doc_ranking(hits: Sequence[SearchHitRecord], k: int) -> list[str]:
    """Chunks best first -> documents best first (each at its best chunk), the top ``k``."""
    out: list[str] = []
    for h in hits:
        if h.doc_id not in out:
            out.append(h.doc_id)
            if len(out) == k:
                break
    return out


def _depth(mode: str, k: int) -> int:
    return fusion_depth(k) if mode == "hybrid" else k


def _mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidError(f"search mode {mode!r} is not known; modes: {', '.join(MODES)}")
    return mode


def _k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
        raise InvalidError(f"k must be a whole number from 1 to 1000, not {k!r}")
    return k
