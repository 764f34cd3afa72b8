"""Indexes: build one (a job: 202), list, show, versions, search, evaluate.

``{ref}`` is ``docs``, ``docs@production`` or ``docs:2`` (the kind is implied). Labels move
through the generic ``PUT …/assets/index/{name}/labels/{label}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from rippleops.domain.fusion import DEFAULT_RRF_K
from rippleops.domain.records import AssetRecord, IndexRecord, JobRecord, RetrievalEvalRecord, SearchResultRecord
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix=PROJECT + "/indexes", tags=["indexes"], responses=ERROR_RESPONSES)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexCreate(_Body):
    dataset: str = Field(description="the dataset to index, e.g. dataset/docs or dataset/docs@production")
    embedder: str = Field(description="the embedder, e.g. embedder/minilm")
    chunk_size: int = Field(default=800, description="chunk size, in `unit`s")
    overlap: int = Field(default=100, description="overlap between consecutive chunks, in `unit`s")
    unit: str = Field(default="chars", description="chars, or tokens (word tokens: words and punctuation marks)")
    markdown: bool = Field(default=True, description="split on Markdown headings first, keep code fences whole")
    text_column: str = "text"
    doc_id_column: str | None = Field(default=None, description="default: the dataset's key, or its doc_id column")
    metadata_columns: list[str] = Field(default_factory=list, description="columns kept with each chunk for filters")
    message: str = ""


class IndexRebuild(_Body):
    dataset: str | None = Field(default=None, description="default: the latest version's dataset reference")
    embedder: str | None = Field(default=None, description="default: the latest version's embedder reference")
    message: str = ""


class SearchRequest(_Body):
    query: str
    k: int = Field(default=5, ge=1, le=1000)
    mode: str = Field(default="hybrid", description="vector, bm25 or hybrid (reciprocal rank fusion)")
    filters: dict[str, Any] = Field(default_factory=dict, description="equality on doc_id or metadata columns")
    rrf_k: int = Field(default=DEFAULT_RRF_K, ge=1, description="the RRF constant of hybrid search")


class EvalRequest(_Body):
    queries: str = Field(description="a dataset with query_id, query, doc_id and optional relevance columns")
    k: int = Field(default=10, ge=1, le=1000)
    modes: list[str] = Field(default_factory=list, description="default: vector, bm25 and hybrid")
    rrf_k: int = Field(default=DEFAULT_RRF_K, ge=1)


@router.get("", response_model=list[AssetRecord])
async def list_indexes(project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[AssetRecord]:
    """The project's indexes with their latest version and labels."""
    return await caller.run(services.indexes.list, project)


@router.post("/{name}", response_model=JobRecord, status_code=202)
async def create_index(
    name: str, body: IndexCreate, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> JobRecord:
    """Queue an ``index.build`` job that builds a version of ``index/{name}``; follow it under ``…/jobs/{id}``."""
    return await caller.run(services.indexes.create, project, name, **body.model_dump())


@router.post("/{name}/build", response_model=JobRecord, status_code=202)
async def rebuild_index(
    name: str, body: IndexRebuild, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> JobRecord:
    """Queue a rebuild with the latest version's recipe on what its inputs resolve to now
    (unchanged chunks keep their vectors)."""
    return await caller.run(services.indexes.build, project, name, **body.model_dump())


@router.get("/{ref}", response_model=IndexRecord)
async def get_index(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> IndexRecord:
    return await caller.run(services.indexes.get, project, ref)


@router.get("/{name}/versions", response_model=list[IndexRecord])
async def index_versions(name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> list[IndexRecord]:
    return await caller.run(services.indexes.versions, project, name)


@router.post("/{ref}/search", response_model=SearchResultRecord)
async def search_index(
    ref: str, body: SearchRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> SearchResultRecord:
    """The ``k`` best chunks for ``query``, with scores and source spans."""
    return await caller.run(services.search.search, project, ref, **body.model_dump())


@router.post("/{ref}/eval", response_model=RetrievalEvalRecord)
async def evaluate_index(
    ref: str, body: EvalRequest, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> RetrievalEvalRecord:
    """Recall@k, precision@k, MRR, nDCG@k and hit rate over a judgements dataset, per mode."""
    data = body.model_dump()
    if not data["modes"]:
        del data["modes"]
    return await caller.run(services.search.evaluate, project, ref, **data)
