"""``rp.indexes``: build indexes over datasets (as jobs), read them, search them, evaluate them.

>>> job = rp.indexes.create("docs", dataset="dataset/docs", embedder="embedder/minilm")   # doctest: +SKIP
>>> job.result["index"], job.result["embedded"], job.result["reused"]                    # doctest: +SKIP
('index/docs:1', 412, 0)
>>> rp.search("index/docs", "how do I roll back?", k=3).hits[0].doc_id                   # doctest: +SKIP
'guide/labels.md'
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rippleops.domain.records import (
    AssetRecord,
    IndexRecord,
    JobRecord,
    LabelRecord,
    RetrievalEvalRecord,
    SearchResultRecord,
    VersionRecord,
)
from rippleops.domain.refs import make_ref
from rippleops.sdk.collections import _Collection
from rippleops.sdk.jobs import OnUpdate

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

KIND = "index"
JOB_KIND = "index.build"
DEFAULT_MODE = "hybrid"
DEFAULT_RRF_K = 60


class Index:
    """One index version: its record (``ref``, ``dataset``, ``embedder``, ``chunks``, ``recipe``
    ...) and searches on exactly this version.

    >>> index = rp.indexes.get("docs@production")          # doctest: +SKIP
    >>> index.search("reset a password", k=3).hits[0].text  # doctest: +SKIP
    """

    __slots__ = ("_client", "_project", "record")

    def __init__(self, client: Client, project: str, record: IndexRecord) -> None:
        self._client = client
        self._project = project
        self.record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)

    def __repr__(self) -> str:
        return f"<Index {self.record.ref} chunks={self.record.chunks} labels={self.record.labels}>"

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: str = DEFAULT_MODE,
        filters: Mapping[str, Any] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> SearchResultRecord:
        """The ``k`` best chunks for ``query`` (see :meth:`Indexes.search`)."""
        return self._client.transport.search_index(
            self._project, self.record.ref, query, k=k, mode=mode, filters=dict(filters or {}), rrf_k=rrf_k
        )

    def evaluate(
        self, queries: str, *, k: int = 10, modes: Sequence[str] | None = None, rrf_k: int = DEFAULT_RRF_K
    ) -> RetrievalEvalRecord:
        """Retrieval metrics of this version over a judgements dataset (see :meth:`Indexes.evaluate`)."""
        return self._client.transport.evaluate_index(
            self._project, self.record.ref, queries, k=k, modes=list(modes or []), rrf_k=rrf_k
        )


class Indexes(_Collection):
    """``index/*`` assets: vectors of a dataset's chunks, derived from a dataset version and an
    embedder version by a chunking recipe. Building is a job: ``create`` and ``build`` wait
    for it by default and return the finished job (``job.result`` has ``index``,
    ``chunks``, ``embedded``, ``reused``); check ``job.state`` (or pass ``wait=False``)."""

    def create(
        self,
        name: str,
        *,
        dataset: str,
        embedder: str,
        chunk_size: int = 800,
        overlap: int = 100,
        unit: str = "chars",
        markdown: bool = True,
        text_column: str = "text",
        doc_id_column: str | None = None,
        metadata_columns: Sequence[str] = (),
        message: str = "",
        wait: bool = True,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Build a version of ``index/name`` from ``dataset`` with ``embedder``.

        ``chunk_size`` and ``overlap`` count characters (``unit="chars"``) or word tokens
        (``unit="tokens"``); ``markdown`` splits on headings first and keeps code fences whole.
        ``doc_id_column`` defaults to the dataset's key (or its ``doc_id`` column);
        ``metadata_columns`` are kept with each chunk for filters.

        >>> rp.indexes.create("docs", dataset="dataset/docs@production", embedder="embedder/minilm",
        ...                   chunk_size=500, overlap=50, metadata_columns=["format"])   # doctest: +SKIP
        """
        params = {
            "name": name, "dataset": dataset, "embedder": embedder, "chunk_size": chunk_size, "overlap": overlap,
            "unit": unit, "markdown": markdown, "text_column": text_column, "doc_id_column": doc_id_column,
            "metadata_columns": list(metadata_columns), "message": message,
        }  # fmt: skip
        return self._client.jobs.submit(
            JOB_KIND, params, wait=wait, timeout=timeout, on_update=on_update, project=project
        )

    def build(
        self,
        name: str,
        *,
        dataset: str | None = None,
        embedder: str | None = None,
        message: str = "",
        wait: bool = True,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        project: str | None = None,
    ) -> JobRecord:
        """Rebuild ``index/name`` with its latest version's recipe, on what its dataset and
        embedder references resolve to now (or the ones given). Unchanged chunks keep their
        vectors: ``job.result["reused"]`` says how many.

        >>> rp.indexes.build("docs").result["embedded"]   # after a few documents changed  # doctest: +SKIP
        7
        """
        params: dict[str, Any] = {"name": name, "rebuild": True, "message": message}
        if dataset is not None:
            params["dataset"] = dataset
        if embedder is not None:
            params["embedder"] = embedder
        return self._client.jobs.submit(
            JOB_KIND, params, wait=wait, timeout=timeout, on_update=on_update, project=project
        )

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> Index:
        """One index version: ``docs``, ``docs@production``, ``docs:2`` or ``index/docs``."""
        p = self._p(project)
        ref = make_ref(KIND, name, label=label, version=version).text
        return Index(self._client, p, self._t.get_index(p, ref))

    def list(self, *, project: str | None = None) -> builtins.list[AssetRecord]:
        """The project's indexes with their latest version and labels."""
        return self._client.assets.list(kind=KIND, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._p(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at a version (``production`` needs an admin)."""
        return self._t.set_label(self._p(project), make_ref(KIND, name).asset, label, version)

    def search(
        self,
        index: str,
        query: str,
        *,
        k: int = 5,
        mode: str = DEFAULT_MODE,
        filters: Mapping[str, Any] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
        project: str | None = None,
    ) -> SearchResultRecord:
        """The ``k`` best chunks of ``index`` for ``query``.

        ``mode``: ``vector`` (cosine similarity of embeddings), ``bm25`` (full-text) or
        ``hybrid`` (both, merged by reciprocal rank fusion with ``rrf_k``). ``filters`` are
        equality on ``doc_id`` or the index's metadata columns.

        >>> r = rp.indexes.search("docs", "roll back a label", k=3, filters={"format": "md"})  # doctest: +SKIP
        >>> [(h.doc_id, h.start, h.end, h.heading) for h in r.hits]                          # doctest: +SKIP
        """
        ref = make_ref(KIND, index).text
        return self._t.search_index(
            self._p(project), ref, query, k=k, mode=mode, filters=dict(filters or {}), rrf_k=rrf_k
        )

    def evaluate(
        self,
        index: str,
        queries: str,
        *,
        k: int = 10,
        modes: Sequence[str] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
        project: str | None = None,
    ) -> RetrievalEvalRecord:
        """Recall@k, precision@k, MRR, nDCG@k and hit rate of ``index`` over the judgements
        dataset ``queries`` (one row per judgement: ``query_id``, ``query``, ``doc_id``,
        optional ``relevance``), per mode (all three by default).

        >>> ev = rp.indexes.evaluate("docs", "dataset/doc-questions", k=10)    # doctest: +SKIP
        >>> ev.modes["hybrid"]["mean"]["recall@10"]                            # doctest: +SKIP
        """
        ref = make_ref(KIND, index).text
        return self._t.evaluate_index(self._p(project), ref, queries, k=k, modes=list(modes or []), rrf_k=rrf_k)
