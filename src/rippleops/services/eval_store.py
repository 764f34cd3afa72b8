"""Eval runs and samples in the database: rows in, records out (no rules besides who may
read and write, which the access service decides).

A run is written when it starts, each sample as it finishes (its own small transaction, so
a killed run keeps what it did), and the run again when it ends.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.records import EvalRunRecord, EvalSampleRecord, GateResult, MetricAggregate
from rippleops.domain.refs import parse_ref
from rippleops.errors import NotFoundError
from rippleops.runtime.process import ProcessIdentity, is_alive, this_process
from rippleops.services import audit
from rippleops.services.access import AccessService, ProjectRef
from rippleops.store.db import Database
from rippleops.store.models import Asset, EvalRun, EvalSample, Version
from rippleops.store.models.base import utcnow

UNFINISHED = ("running", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class RunKey:
    """What a run scores: exact suite, target and dataset versions."""

    suite: str
    target: str
    dataset: str
    dataset_hash: str


class EvalStore:
    def __init__(self, db: Database, access: AccessService) -> None:
        self.db = db
        self.access = access

    # -- runs ------------------------------------------------------------------------------------

    def start(
        self, principal: Principal, project: str, key: RunKey, samples: int, config: dict[str, Any], job_id: int | None
    ) -> tuple[EvalRunRecord, bool]:
        """A run to work on: an unfinished one of the same suite version on the same target
        version and dataset version, taken over (``True``: resumed), else a new one."""
        owner = _owner_dict(this_process())

        def work(s: Session) -> tuple[EvalRunRecord, bool]:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            suite_v, suite_a = _version_ids(s, proj, key.suite)
            target_v, target_a = _version_ids(s, proj, key.target)
            candidates = s.execute(
                select(EvalRun)
                .where(
                    EvalRun.project_id == proj.id,
                    EvalRun.suite_version_id == suite_v,
                    EvalRun.target_version_id == target_v,
                    EvalRun.dataset_hash == key.dataset_hash,
                    EvalRun.samples == samples,
                    EvalRun.state.in_(UNFINISHED),
                )
                .order_by(EvalRun.id.desc())
                .with_for_update()
            ).scalars()
            for run in candidates:
                if run.state == "running" and _owner_alive(run.config.get("owner")) is not False:
                    continue  # someone is working on it (or we cannot tell): leave it be
                run.state, run.job_id, run.error, run.finished_at = "running", job_id, None, None
                run.config = {**config, "owner": owner, "resumed": int(run.config.get("resumed", 0)) + 1}
                audit.record(s, principal.name, "eval.resume", f"eval/{run.id}", project=project,
                             after={"suite": key.suite, "target": key.target, "job": job_id})  # fmt: skip
                s.flush()
                return run_record(run, project), True
            run = EvalRun(
                project_id=proj.id, suite_version_id=suite_v, suite_asset_id=suite_a, target_version_id=target_v,
                target_asset_id=target_a, suite_ref=key.suite, target_ref=key.target, dataset_ref=key.dataset,
                dataset_hash=key.dataset_hash, job_id=job_id, state="running", samples=samples, done=0, errors=0,
                aggregates={}, gates=None, config={**config, "owner": owner}, duration_s=0.0, tokens=0, cost=0.0,
                created_at=utcnow(), created_by=principal.name,
            )  # fmt: skip
            s.add(run)
            s.flush()
            audit.record(s, principal.name, "eval.run", f"eval/{run.id}", project=project,
                         after={"suite": key.suite, "target": key.target, "dataset": key.dataset, "job": job_id})  # fmt: skip
            return run_record(run, project), False

        return self.db.write(work)

    def finish(self, run_id: int, **values: Any) -> None:
        """Write the run's end state (``state``, ``aggregates``, ``duration_s`` ...)."""
        if values.get("state") in ("succeeded", "failed", "cancelled"):
            values.setdefault("finished_at", utcnow())

        def work(s: Session) -> None:
            s.execute(update(EvalRun).where(EvalRun.id == run_id).values(**values))

        self.db.write(work)

    def set_gates(self, run_id: int, gates: Sequence[GateResult]) -> None:
        def work(s: Session) -> None:
            s.execute(
                update(EvalRun).where(EvalRun.id == run_id).values(gates=[g.model_dump(mode="json") for g in gates])
            )

        self.db.write(work)

    def get(self, principal: Principal, project: str, run_id: int) -> EvalRunRecord:
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            return run_record(_find(s, proj, run_id), project)

    def list(
        self, principal: Principal, project: str, *, suite: str | None = None, target: str | None = None,
        state: str | None = None, limit: int = 50,
    ) -> list[EvalRunRecord]:  # fmt: skip
        """Newest first; ``suite`` / ``target`` an asset (any version) or an exact version."""
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            q = select(EvalRun).where(EvalRun.project_id == proj.id)
            for ref, kind, exact_col, asset_col in (
                (suite, "suite", EvalRun.suite_ref, EvalRun.suite_asset_id),
                (target, None, EvalRun.target_ref, EvalRun.target_asset_id),
            ):
                if ref is None:
                    continue
                parsed = parse_ref(ref, kind)
                if parsed.version is not None:
                    q = q.where(exact_col == parsed.text)
                else:
                    asset_id = s.execute(
                        select(Asset.id).where(
                            Asset.project_id == proj.id, Asset.kind == parsed.kind, Asset.name == parsed.name
                        )
                    ).scalar_one_or_none()
                    q = q.where(asset_col == (asset_id or -1))
            if state is not None:
                q = q.where(EvalRun.state == state)
            rows = s.execute(q.order_by(EvalRun.id.desc()).limit(limit)).scalars()
            return [run_record(r, project) for r in rows]

    def newest_succeeded(
        self, principal: Principal, project: str, suite_asset: str, target_exact: str
    ) -> EvalRunRecord | None:
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            ref = parse_ref(suite_asset, "suite")
            row = s.execute(
                select(EvalRun)
                .join(Asset, Asset.id == EvalRun.suite_asset_id)
                .where(
                    EvalRun.project_id == proj.id,
                    Asset.name == ref.name,
                    Asset.kind == "suite",
                    EvalRun.target_ref == target_exact,
                    EvalRun.state == "succeeded",
                )
                .order_by(EvalRun.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if row is None else run_record(row, project)

    # -- samples -----------------------------------------------------------------------------------

    def done_indexes(self, run_id: int) -> set[int]:
        with self.db.reading() as s:
            return set(s.execute(select(EvalSample.idx).where(EvalSample.run_id == run_id)).scalars())

    def add_samples(self, run_id: int, samples: Sequence[EvalSampleRecord]) -> None:
        """Store finished samples and count them on the run, in one transaction."""
        if not samples:
            return

        def work(s: Session) -> None:
            s.add_all(EvalSample(run_id=run_id, **smp.model_dump(mode="json")) for smp in samples)
            errors = sum(1 for smp in samples if smp.error or smp.metric_errors)
            s.execute(
                update(EvalRun).where(EvalRun.id == run_id)
                .values(done=EvalRun.done + len(samples), errors=EvalRun.errors + errors)
            )  # fmt: skip

        self.db.write(work)

    def samples(
        self, principal: Principal, project: str, run_id: int, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[EvalSampleRecord]:
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            _find(s, proj, run_id)
            q = select(EvalSample).where(EvalSample.run_id == run_id).order_by(EvalSample.idx).offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [sample_record(r) for r in s.execute(q).scalars()]

    def sample_totals(self, run_id: int) -> tuple[int, int, float]:
        """(samples stored, tokens, cost) over the run's samples."""
        with self.db.reading() as s:
            row = s.execute(
                select(func.count(EvalSample.id), func.coalesce(func.sum(EvalSample.tokens), 0),
                       func.coalesce(func.sum(EvalSample.cost), 0.0)).where(EvalSample.run_id == run_id)
            ).one()  # fmt: skip
            return int(row[0]), int(row[1]), float(row[2])


# -- rows <-> records ---------------------------------------------------------------------------------


def run_record(run: EvalRun, project: str) -> EvalRunRecord:
    return EvalRunRecord(
        id=run.id, project=project, suite=run.suite_ref, target=run.target_ref, dataset=run.dataset_ref,
        dataset_hash=run.dataset_hash, state=run.state, samples=run.samples, done=run.done, errors=run.errors,
        aggregates={k: MetricAggregate.model_validate(v) for k, v in (run.aggregates or {}).items()},
        gates=None if run.gates is None else [GateResult.model_validate(g) for g in run.gates],
        duration_s=run.duration_s, tokens=run.tokens, cost=run.cost, error=run.error, job_id=run.job_id,
        created_at=run.created_at, created_by=run.created_by, finished_at=run.finished_at,
    )  # fmt: skip


def sample_record(row: EvalSample) -> EvalSampleRecord:
    return EvalSampleRecord(
        idx=row.idx, key=row.key, input=row.input, expected=row.expected, output=row.output,
        scores=dict(row.scores or {}), metric_errors=dict(row.metric_errors or {}), error=row.error,
        latency_ms=row.latency_ms, tokens=row.tokens, cost=row.cost, trace_id=row.trace_id,
    )  # fmt: skip


def _find(s: Session, proj: ProjectRef, run_id: int) -> EvalRun:
    run = s.execute(select(EvalRun).where(EvalRun.id == run_id, EvalRun.project_id == proj.id)).scalar_one_or_none()
    if run is None:
        raise NotFoundError(
            f"eval run {run_id} does not exist in project {proj.name!r}; list them with `ripple eval list`"
        )
    return run


def _version_ids(s: Session, proj: ProjectRef, exact: str) -> tuple[int, int]:
    ref = parse_ref(exact)
    row = s.execute(
        select(Version.id, Asset.id)
        .join(Asset, Asset.id == Version.asset_id)
        .where(
            Asset.project_id == proj.id, Asset.kind == ref.kind, Asset.name == ref.name, Version.number == ref.version
        )
    ).first()
    if row is None:
        raise NotFoundError(f"{exact} does not exist in project {proj.name!r}")
    return int(row[0]), int(row[1])


def _owner_dict(p: ProcessIdentity) -> dict[str, Any]:
    return {"host": p.host, "pid": p.pid, "instance": p.instance}


def _owner_alive(owner: Any) -> bool | None:
    if not isinstance(owner, dict):
        return False
    try:
        return is_alive(ProcessIdentity(str(owner["host"]), int(owner["pid"]), str(owner["instance"])))
    except (KeyError, TypeError, ValueError):
        return False
