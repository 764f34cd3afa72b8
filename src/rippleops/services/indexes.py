"""Indexes (``index/*`` assets): create and rebuild them as ``index.build`` jobs, read them.

An index version is derived from a dataset version and an embedder version by a recipe
(chunking parameters, text / doc id / metadata columns, code version); its vectors live in
one table of the vector store. The build itself is :mod:`rippleops.services.index_build`.

>>> job = services.indexes.create(alice, "default", "docs", dataset="dataset/docs",
...                               embedder="embedder/minilm", wait=True)   # doctest: +SKIP
>>> job.result["index"], job.result["embedded"], job.result["reused"]    # doctest: +SKIP
('index/docs:1', 412, 0)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.chunking import ChunkingParams
from rippleops.domain.records import AssetRecord, IndexRecord, JobRecord, JobWatcher, VersionRecord
from rippleops.domain.refs import parse_ref, validate_name
from rippleops.errors import InvalidError
from rippleops.runtime.executor import JobContext, JobFunction
from rippleops.services.index_build import KIND, IndexBuild, resolve_inputs
from rippleops.services.job_env import JobEnv, JobKind

if TYPE_CHECKING:  # the indexes service is built inside Services and uses its siblings
    from rippleops.services import Services

JOB_KIND = "index.build"
CHUNKING_KEYS = ("chunk_size", "overlap", "unit", "markdown")
PARAM_KEYS = (
    "name", "dataset", "embedder", "chunking", *CHUNKING_KEYS, "text_column", "doc_id_column",
    "metadata_columns", "message", "rebuild",
)  # fmt: skip
DEFAULTS: dict[str, Any] = {"text_column": "text", "doc_id_column": None, "metadata_columns": [], "message": ""}


class IndexService:
    def __init__(self, services: Services) -> None:
        self.services = services

    def create(
        self,
        principal: Principal,
        project: str,
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
        wait: bool = False,
        watch: JobWatcher | None = None,
    ) -> JobRecord:
        """Build a new version of ``index/name`` from ``dataset`` with ``embedder``, as a job."""
        params = {
            "name": name, "dataset": dataset, "embedder": embedder, "chunk_size": chunk_size, "overlap": overlap,
            "unit": unit, "markdown": markdown, "text_column": text_column, "doc_id_column": doc_id_column,
            "metadata_columns": list(metadata_columns), "message": message,
        }  # fmt: skip
        return self.services.jobs.submit(principal, project, JOB_KIND, params, wait=wait, watch=watch)

    def build(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        dataset: str | None = None,
        embedder: str | None = None,
        message: str = "",
        wait: bool = False,
        watch: JobWatcher | None = None,
    ) -> JobRecord:
        """Rebuild ``index/name`` with the recipe of its latest version, on what its dataset
        and embedder references resolve to now (or on the ``dataset`` / ``embedder`` given).
        Chunks that did not change keep their vectors."""
        params: dict[str, Any] = {"name": name, "rebuild": True, "message": message}
        if dataset is not None:
            params["dataset"] = dataset
        if embedder is not None:
            params["embedder"] = embedder
        return self.services.jobs.submit(principal, project, JOB_KIND, params, wait=wait, watch=watch)

    def get(self, principal: Principal, project: str, ref: str) -> IndexRecord:
        return index_record(self.services.assets.get(principal, project, parse_ref(ref, KIND)))

    def versions(self, principal: Principal, project: str, name: str) -> builtins.list[IndexRecord]:
        return [index_record(v) for v in self.services.assets.versions(principal, project, name, KIND)]

    def list(self, principal: Principal, project: str) -> builtins.list[AssetRecord]:
        out: builtins.list[AssetRecord] = []
        cursor = None
        while True:
            page = self.services.assets.list(principal, project, kind=KIND, limit=500, cursor=cursor)
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    # -- the job ------------------------------------------------------------------------------

    def check_params(self, principal: Principal, project: str, params: dict[str, Any]) -> dict[str, Any]:
        """Normalise ``index.build`` parameters and check them against the dataset and the
        embedder, so that a bad request fails when it is submitted, not in a worker."""
        unknown = sorted(set(params) - set(PARAM_KEYS))
        if unknown:
            raise InvalidError(f"index.build does not take {', '.join(unknown)}; it takes {', '.join(PARAM_KEYS)}")
        name = params.get("name")
        if not isinstance(name, str):
            raise InvalidError('index.build needs `name`, the index to build: {"name": "docs", ...}')
        name = validate_name(name.removeprefix(f"{KIND}/"), "index name")
        given = {k: v for k, v in params.items() if v is not None}  # None: "as before" / "the default"
        base = self._latest_recipe(principal, project, name) if params.get("rebuild") else {}
        merged: dict[str, Any] = {**DEFAULTS, **base, **{k: v for k, v in given.items() if k != "rebuild"}}
        chunking = dict(base.get("chunking") or {})
        if isinstance(params.get("chunking"), dict):
            chunking.update(params["chunking"])
        for key in CHUNKING_KEYS:
            if params.get(key) is not None:
                chunking["size" if key == "chunk_size" else key] = params[key]
        out = {
            "name": name,
            "dataset": _ref_text(merged.get("dataset"), "dataset"),
            "embedder": _ref_text(merged.get("embedder"), "embedder"),
            "chunking": ChunkingParams.from_dict(chunking).to_dict(),
            "text_column": merged["text_column"],
            "doc_id_column": merged.get("doc_id_column"),
            "metadata_columns": _columns(merged.get("metadata_columns")),
            "message": merged.get("message") or "",
        }
        if not isinstance(out["message"], str):
            raise InvalidError("index.build `message` must be a string (the new version's commit message)")
        inputs = resolve_inputs(self.services, principal, project, out)
        out["doc_id_column"] = inputs.recipe.doc_id_column  # pinned: a rerun builds the same thing
        return out

    def _latest_recipe(self, principal: Principal, project: str, name: str) -> dict[str, Any]:
        latest = self.services.assets.get(principal, project, parse_ref(name, KIND))
        recipe = latest.recipe or {}
        written = {i.role: i.ref for i in latest.inputs}
        return {
            "dataset": written.get("dataset", latest.content.get("dataset")),
            "embedder": written.get("embedder", latest.content.get("embedder")),
            "chunking": recipe.get("chunking") or {},
            "text_column": recipe.get("text_column", "text"),
            "doc_id_column": recipe.get("doc_id_column"),
            "metadata_columns": recipe.get("metadata_columns") or [],
        }

    def run_build(self, principal: Principal, project: str, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        """The body of an ``index.build`` job (parameters as :meth:`check_params` left them)."""
        inputs = resolve_inputs(self.services, principal, project, params)
        return IndexBuild(self.services, principal, project, inputs, ctx).run()


def index_record(base: VersionRecord) -> IndexRecord:
    """An index version's record: the generic one with its content fields at the top."""
    c = base.content
    return IndexRecord(
        **base.model_dump(exclude={"content"}),
        dataset=c["dataset"], dataset_hash=c["dataset_hash"], embedder=c["embedder"],
        embedder_hash=c["embedder_hash"], table=c["table"], dimension=c["dimension"], chunks=c["chunks"],
        documents=c["documents"], fields=c.get("fields") or {},
    )  # fmt: skip


def _ref_text(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidError(f"index.build needs `{kind}`, a reference such as {kind}/docs or {kind}/docs@production")
    return parse_ref(value, kind).text


def _columns(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # "a,b" from a command line or a form
        value = [c.strip() for c in value.split(",") if c.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) and c for c in value):
        raise InvalidError(f"metadata_columns must be a list of column names, not {value!r}")
    return sorted(set(value))


def _check(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    return env.services.indexes.check_params(env.principal, env.project, params)


def _build(env: JobEnv) -> JobFunction:
    def build_index(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Build one index version (see services/index_build.py)."""
        return env.services.indexes.run_build(env.principal, env.project, params, ctx)

    return build_index


INDEX_BUILD = JobKind(
    name=JOB_KIND,
    summary="chunk a dataset version, embed what changed and write an index version",
    check=_check,
    build=_build,
)
