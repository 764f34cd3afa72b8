"""Loading a project's version graph for the ripple engine: a few bulk Core selects (no ORM
objects), cached per project until a version, a label move or an eval run is added.

Estimates of plan steps come from past runs here too (index builds from the jobs table,
eval runs from eval_runs)."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Select, Table, Text, case, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rippleops.domain.indexes import CODE_VERSION as INDEX_CODE_VERSION
from rippleops.domain.records import Estimate, PlanRecord
from rippleops.domain.ripple import EdgeRow, Graph, VersionRow
from rippleops.store.models import Asset, Job, Label, LabelEvent, Version, VersionInput
from rippleops.store.models.evals import EvalRun

A = cast(Table, Asset.__table__)
V = cast(Table, Version.__table__)
VI = cast(Table, VersionInput.__table__)
L = cast(Table, Label.__table__)
LE = cast(Table, LabelEvent.__table__)
ER = cast(Table, EvalRun.__table__)
J = cast(Table, Job.__table__)

#: the builder code version of each kind whose recipe records one
CODE_VERSIONS = {"index": INDEX_CODE_VERSION}
REDEPLOY_SECONDS = 5.0
MAX_CACHED = 32


#: the on-disk cache's format; a file of another format is ignored and rebuilt
FILE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class _Cached:
    generation: tuple[Any, ...]
    graph: Graph
    rows: dict[str, Any]  # what the graph was built from, as plain JSON values (for the file)


class GraphLoader:
    """Graphs per project, in memory and (when ``folder`` is given) on disk, so that a new
    process (each embedded CLI command) reads the graph's rows from one JSON file instead of
    querying them. Both are checked against the database's generation on every use. The file
    is plain data (never a pickle: a file in a shared home must not be able to run code); one
    that fails to load or has another format is ignored and rebuilt."""

    def __init__(self, folder: Path | None = None, database_url: str = "") -> None:
        self._cache: dict[int, _Cached] = {}
        self._lock = threading.Lock()
        self.folder = folder
        self._db_key = hashlib.sha256(database_url.encode()).hexdigest()[:12]

    def load(self, s: Session, project_id: int) -> Graph:
        gen = _generation(s, project_id)
        with self._lock:
            hit = self._cache.get(project_id)
        if hit is None or hit.generation != gen:
            hit = self._read(project_id)
        if hit is None or hit.generation != gen:
            rows = _load_without_gc(s, project_id)
            hit = _Cached(gen, _graph(rows), rows)
            self._write(project_id, hit)
        with self._lock:
            if len(self._cache) >= MAX_CACHED and project_id not in self._cache:
                self._cache.pop(next(iter(self._cache)))
            self._cache[project_id] = hit
        return hit.graph

    def _file(self, project_id: int) -> Path | None:
        return None if self.folder is None else self.folder / f"graph-{self._db_key}-{project_id}.json"

    def _read(self, project_id: int) -> _Cached | None:
        path = self._file(project_id)
        if path is None or not path.is_file():
            return None
        was = gc.isenabled()
        gc.disable()
        try:
            with path.open("rb") as f:
                data = json.load(f)
            if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
                return None
            rows = data["rows"]
            return _Cached(tuple(data["generation"]), _graph(rows), rows)
        except (OSError, KeyError, TypeError, ValueError):
            return None  # a partial, foreign or stale-format file: rebuilt from the database
        finally:
            if was:
                gc.enable()

    def _write(self, project_id: int, item: _Cached) -> None:
        path = self._file(project_id)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            data = {"format": FILE_FORMAT, "generation": list(item.generation), "rows": item.rows}
            text = json.dumps(data, separators=(",", ":"))  # dumps: the C encoder (dump to a file is pure Python)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation: a read-only home only costs a rebuild next time


def cast_text(column: Any) -> ColumnElement[str]:
    return sql_cast(column, Text)


def _fetch_raw(s: Session, stmt: Select[Any]) -> list[Any]:
    """Plain tuples straight from the driver: for tens of thousands of rows of ints and
    strings, SQLAlchemy's row objects cost more than the query. The only bound value is the
    project id (an int), rendered as a literal."""
    conn = s.connection()
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _generation(s: Session, project_id: int) -> tuple[Any, ...]:
    """Cheap: versions and label events only grow, so their max ids say whether anything moved."""
    assets = select(A.c.id).where(A.c.project_id == project_id).scalar_subquery()
    q = select(
        select(func.max(V.c.id)).where(V.c.asset_id.in_(assets)).scalar_subquery(),
        select(func.max(LE.c.id)).where(LE.c.asset_id.in_(assets)).scalar_subquery(),
        select(func.max(ER.c.id)).where(ER.c.project_id == project_id).scalar_subquery(),
        select(func.count(L.c.id)).where(L.c.asset_id.in_(assets)).scalar_subquery(),
    )
    return tuple(s.execute(q).one())


def _graph(rows: dict[str, Any]) -> Graph:
    """The graph from the rows :func:`_load` read (or a cache file holds)."""
    was = gc.isenabled()
    gc.disable()  # tens of thousands of small objects that form no cycles (see below)
    try:
        return Graph(
            [VersionRow(*v) for v in rows["versions"]],
            [EdgeRow(*e) for e in rows["edges"]],
            rows["labels"],
            latest=rows["latest"],
            suites=rows["suites"],
            code_versions=CODE_VERSIONS,
        )
    finally:
        if was:
            gc.enable()


def _load_without_gc(s: Session, project_id: int) -> dict[str, Any]:
    """Loading allocates tens of thousands of small objects that form no cycles; the cyclic
    collector would walk the whole heap several times meanwhile (measured: half the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        return _load(s, project_id)
    finally:
        if was:
            gc.enable()


def _load(s: Session, project_id: int) -> dict[str, Any]:
    # the database answers "has a recipe" and "its code version": no recipe text crosses the wire
    recipe_text = func.coalesce(cast_text(V.c.recipe), "null")
    has_recipe = case((recipe_text.in_(("null", "{}")), 0), else_=1)
    code = V.c.recipe["code_version"].as_string()
    rows = _fetch_raw(
        s,
        select(V.c.id, A.c.kind, A.c.name, V.c.number, V.c.hash, has_recipe, code, A.c.latest_version)
        .join(A, A.c.id == V.c.asset_id)
        .where(A.c.project_id == project_id),
    )
    envs = dict(
        s.execute(
            select(V.c.id, V.c.content)
            .join(A, A.c.id == V.c.asset_id)
            .where(A.c.project_id == project_id, A.c.kind == "deployment")
        ).all()
    )
    versions = []
    latest: dict[str, int] = {}
    for vid, kind, name, number, digest, recipe, code, asset_latest in rows:
        env = (envs.get(vid) or {}).get("env") if kind == "deployment" else None
        versions.append((vid, kind, name, number, digest, bool(recipe), code if kind in CODE_VERSIONS else None, env))
        latest[f"{kind}/{name}"] = asset_latest
    edges = [
        tuple(r)
        for r in _fetch_raw(
            s,
            select(VI.c.version_id, VI.c.input_version_id, VI.c.ref, VI.c.input_hash, VI.c.role)
            .join(V, V.c.id == VI.c.version_id)
            .join(A, A.c.id == V.c.asset_id)
            .where(A.c.project_id == project_id),
        )
    ]
    labels: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, name, label, number in s.execute(
        select(A.c.kind, A.c.name, L.c.name, L.c.version_number)
        .join(A, A.c.id == L.c.asset_id)
        .where(A.c.project_id == project_id)
    ).all():
        labels[f"{kind}/{name}"][label] = number
    suites = {k: sorted(v) for k, v in _suites(s, project_id).items()}
    return {"versions": versions, "edges": edges, "labels": labels, "latest": latest, "suites": suites}


def _suites(s: Session, project_id: int) -> dict[str, set[str]]:
    """Target asset -> suite assets: from suite content ``targets`` and from past eval runs."""
    out: dict[str, set[str]] = defaultdict(set)
    for name, content in s.execute(
        select(A.c.name, V.c.content)
        .join(V, (V.c.asset_id == A.c.id) & (V.c.number == A.c.latest_version))
        .where(A.c.project_id == project_id, A.c.kind == "suite")
    ).all():
        for target in (content or {}).get("targets") or []:
            if isinstance(target, str):
                out[target.split("@")[0].split(":")[0]].add(f"suite/{name}")
    names = {
        aid: f"{k}/{n}"
        for aid, k, n in s.execute(select(A.c.id, A.c.kind, A.c.name).where(A.c.project_id == project_id))
    }
    for suite_id, target_id in s.execute(
        select(ER.c.suite_asset_id, ER.c.target_asset_id).where(ER.c.project_id == project_id).distinct()
    ).all():
        if suite_id in names and target_id in names:
            out[names[target_id]].add(names[suite_id])
    return out


# -- estimates -----------------------------------------------------------------------------------


def estimate(s: Session, project_id: int, plan: PlanRecord) -> PlanRecord:
    """Fill each step's estimate from past runs and the plan's total."""
    builds = _index_build_seconds(s, project_id)
    evals = _eval_means(s, project_id)
    total_s, total_tokens, total_cost = 0.0, 0, 0.0
    steps = []
    for step in plan.steps:
        asset = step.target.rsplit(":", 1)[0]
        if step.action == "rebuild" and step.kind in ("app", "policy", "suite"):
            est = Estimate(seconds=0.0, tokens=0, cost=0.0, basis="metadata only")
        elif step.action == "rebuild" and step.kind == "index" and asset in builds:
            runs = builds[asset]
            est = Estimate(
                seconds=round(sum(runs) / len(runs), 2),
                tokens=0,
                cost=0.0,
                basis=f"mean of {len(runs)} index.build job{'s' * (len(runs) != 1)} of {asset}",
            )
        elif step.action == "re-evaluate" and (step.suite, asset) in evals:
            n, sec, tok, cost = evals[(step.suite or "", asset)]
            est = Estimate(
                seconds=round(sec, 2), tokens=int(tok), cost=round(cost, 6),
                basis=f"mean of {n} eval run{'s' * (n != 1)} of {step.suite} on {asset}",
            )  # fmt: skip
        elif step.action == "redeploy":
            est = Estimate(seconds=REDEPLOY_SECONDS, basis="no past run (a typical redeploy)")
        elif step.action == "review":
            est = Estimate(basis="a person reviews it")
        else:
            est = Estimate(basis="no past run")
        total_s += est.seconds or 0.0
        total_tokens += est.tokens or 0
        total_cost += est.cost or 0.0
        steps.append(step.model_copy(update={"estimate": est}))
    known = sum(1 for st in steps if st.estimate.seconds is not None)
    total = Estimate(
        seconds=round(total_s, 2), tokens=total_tokens, cost=round(total_cost, 6),
        basis=f"sum over {known} of {len(steps)} steps with an estimate",
    )  # fmt: skip
    return plan.model_copy(update={"steps": steps, "estimate": total})


def _index_build_seconds(s: Session, project_id: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    rows = s.execute(
        select(J.c.params, J.c.started_at, J.c.finished_at)
        .where(J.c.project_id == project_id, J.c.kind == "index.build", J.c.state == "succeeded")
        .order_by(J.c.id.desc())
        .limit(500)
    ).all()
    for params, started, finished in rows:
        if started is not None and finished is not None and isinstance(params, dict) and params.get("name"):
            out[f"index/{params['name']}"].append(max(0.0, (finished - started).total_seconds()))
    return out


def _eval_means(s: Session, project_id: int) -> dict[tuple[str, str], tuple[int, float, float, float]]:
    names = {
        aid: f"{k}/{n}"
        for aid, k, n in s.execute(select(A.c.id, A.c.kind, A.c.name).where(A.c.project_id == project_id))
    }
    q = (
        select(
            ER.c.suite_asset_id,
            ER.c.target_asset_id,
            func.count(),
            func.avg(ER.c.duration_s),
            func.avg(ER.c.tokens),
            func.avg(ER.c.cost),
        )
        .where(ER.c.project_id == project_id, ER.c.state == "succeeded")
        .group_by(ER.c.suite_asset_id, ER.c.target_asset_id)
    )
    out = {}
    for suite_id, target_id, n, sec, tok, cost in s.execute(q).all():
        if suite_id in names and target_id in names:
            out[(names[suite_id], names[target_id])] = (int(n), float(sec or 0), float(tok or 0), float(cost or 0))
    return out
