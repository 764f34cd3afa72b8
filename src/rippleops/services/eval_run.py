"""One eval run: a suite version scoring an exact target version over the suite's pinned
dataset version.

With ``concurrency`` 1 the samples run one by one in the calling thread; above it, each
sample's target call and metrics run in a worker thread (at most ``concurrency`` at a time).
The calling thread stores each finished sample in its own small transaction, reports
progress and honours cancellation. A run killed half-way resumes: the next run of the same
suite version on the same target version takes over the unfinished run and skips the
samples it already holds. At the end every metric gets its mean with a bootstrap interval.

Fault point ``eval.after_sample`` (``RIPPLE_FAULTS``) kills the process right after the
second sample this process scored is stored, so tests can prove a resumed run keeps them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.eval_metrics import MetricContext, MetricError, Outcome, Sample, parse_metric
from rippleops.domain.eval_stats import aggregate
from rippleops.domain.records import EvalRunRecord, EvalSampleRecord, MetricAggregate, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.suites import SuiteSpec
from rippleops.errors import InvalidError, RippleError
from rippleops.runtime.executor import JobCancelled, JobContext
from rippleops.services.eval_context import bind_context
from rippleops.services.eval_store import EvalStore, RunKey
from rippleops.services.eval_targets import Called, Caller, target_caller
from rippleops.services.suites import pinned, suite_spec

if TYPE_CHECKING:
    from rippleops.services import Services

FAULT_POINT = "eval.after_sample"
FAULT_AFTER = 2
MAX_SAMPLES = 100_000


def resolve_target(
    services: Services, principal: Principal, project: str, spec: SuiteSpec, suite: str, target: str
) -> VersionRecord:
    """The exact target version ``target`` names; its kind must be the one the suite scores."""
    text = target if "/" in target.split("@")[0].split(":")[0] else f"{spec.target}/{target}"
    record = services.assets.get(principal, project, parse_ref(text))
    if record.kind != spec.target:
        raise InvalidError(
            f"{suite} scores {spec.target} versions (target: {spec.target}); {record.ref} is a {record.kind}: "
            f"give a {spec.target} such as {spec.target}/NAME@production"
        )
    return record


class EvalRunner:
    def __init__(
        self, services: Services, store: EvalStore, principal: Principal, project: str, suite: str, target: str, *,
        ctx: JobContext | None = None, concurrency: int | None = None, limit: int | None = None,
    ) -> None:  # fmt: skip
        self.services, self.store, self.principal, self.project = services, store, principal, project
        self.suite = services.suites.get(principal, project, suite)
        self.spec = suite_spec(self.suite)
        self.target = resolve_target(services, principal, project, self.spec, self.suite.ref, target)
        self.ctx = ctx
        self.concurrency = int(concurrency or self.spec.concurrency)
        if not 1 <= self.concurrency <= 64:
            raise InvalidError(f"concurrency must be from 1 to 64, not {self.concurrency}")
        if limit is not None and limit < 1:
            raise InvalidError(f"limit must be 1 or more, not {limit}")
        self.limit = limit
        self.metrics = [
            *self.spec.metrics,
            *(parse_metric(a) for a in self.spec.metric_names[len(self.spec.metrics) :]),
        ]
        self.stored_here = 0

    def run(self) -> EvalRunRecord:
        dataset = self.services.datasets.get(self.principal, self.project, pinned(self.suite, self.spec.dataset))
        samples = self._samples(dataset)
        key = RunKey(self.suite.ref, self.target.ref, dataset.ref, dataset.hash)
        model = pinned(self.suite, self.spec.model) if self.spec.model else None
        caller = target_caller(self.services, self.principal, self.project, self.spec.target, self.target.ref, model)
        metric_ctx, breakers = bind_context(self.services, self.principal, self.project, self.suite, self.spec)
        config = {"concurrency": self.concurrency, "limit": self.limit}
        run, resumed = self.store.start(
            self.principal, self.project, key, len(samples), config, self.ctx.job_id if self.ctx else None
        )
        have = self.store.done_indexes(run.id)
        todo = [s for s in samples if s.idx not in have]
        self._log(
            f"{'resumed' if resumed else 'started'} eval run {run.id}: {self.suite.ref} on {self.target.ref} over "
            f"{dataset.ref} ({len(samples)} samples, {len(have)} already scored, concurrency {self.concurrency})"
        )
        t0 = time.perf_counter()
        try:
            self._score_all(run.id, todo, len(samples), len(have), caller, metric_ctx)
        except JobCancelled:
            self.store.finish(run.id, state="cancelled", duration_s=run.duration_s + time.perf_counter() - t0)
            raise
        except BaseException as exc:
            message = exc.message if isinstance(exc, RippleError) else f"{type(exc).__name__}: {exc}"
            self.store.finish(
                run.id, state="failed", error=message, duration_s=run.duration_s + time.perf_counter() - t0
            )
            raise
        for breaker in breakers.values():
            if breaker.open:
                self._log(breaker.message, "warning")
        aggregates = self._aggregates(run.id)
        _, tokens, cost = self.store.sample_totals(run.id)
        stored = self.store.samples(self.principal, self.project, run.id)
        self.store.finish(
            run.id, state="succeeded", aggregates={k: v.model_dump(mode="json") for k, v in aggregates.items()},
            duration_s=run.duration_s + time.perf_counter() - t0, tokens=tokens, cost=cost, done=len(stored),
            errors=sum(1 for s in stored if s.error or s.metric_errors), error=None,
        )  # fmt: skip
        return self.store.get(self.principal, self.project, run.id)

    # -- samples -------------------------------------------------------------------------------------

    def _samples(self, dataset: VersionRecord) -> list[Sample]:
        rows = int(dataset.content.get("rows") or 0)
        if rows > MAX_SAMPLES and (self.limit is None or self.limit > MAX_SAMPLES):
            raise InvalidError(f"{dataset.ref} has {rows} rows; an eval run takes at most {MAX_SAMPLES} (use --limit)")
        cols = self.suite.content["columns"]
        wanted = sorted({c for c in cols.values() if c})
        table = self.services.datasets.read_table(self.principal, self.project, dataset.ref, columns=wanted)
        out: list[Sample] = []
        for idx, row in enumerate(table.to_pylist()):
            if self.limit is not None and idx >= self.limit:
                break
            out.append(to_sample(idx, row, cols))
        return out

    def _score_all(
        self, run_id: int, todo: list[Sample], total: int, done: int, caller: Caller, mctx: MetricContext
    ) -> None:
        self._progress(done, total, "scoring")
        if not todo:
            return
        if self.concurrency == 1:
            # in this thread: a worker thread would cost the local model a warm-up per run (~1 s)
            for sample in todo:
                done = self._stored(run_id, self._one(sample, caller, mctx), done, total)
                if self.ctx is not None and self.ctx.cancelled():
                    raise JobCancelled()
            return
        items: Iterator[Sample] = iter(todo)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"eval-{run_id}") as pool:
            pending: set[Future[EvalSampleRecord]] = set()

            def fill() -> None:
                while len(pending) < self.concurrency:
                    sample = next(items, None)
                    if sample is None:
                        return
                    pending.add(pool.submit(self._one, sample, caller, mctx))

            fill()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    pending.discard(fut)
                    done = self._stored(run_id, fut.result(), done, total)
                if self.ctx is not None and self.ctx.cancelled():
                    for fut in pending:
                        fut.cancel()
                    for fut in pending:
                        if not fut.cancelled():
                            self.store.add_samples(run_id, [fut.result()])
                    raise JobCancelled()
                fill()

    def _stored(self, run_id: int, record: EvalSampleRecord, done: int, total: int) -> int:
        """Store one finished sample (its own transaction) and report progress."""
        self.store.add_samples(run_id, [record])
        self.stored_here += 1
        if self.stored_here == FAULT_AFTER:
            self.services.settings.fault(FAULT_POINT)
        self._progress(done + 1, total, f"sample {record.key}" + (" (error)" if record.error else ""))
        return done + 1

    def _one(self, sample: Sample, caller: Caller, mctx: MetricContext) -> EvalSampleRecord:
        """Call the target on one sample and score it."""
        base = {"idx": sample.idx, "key": sample.key, "input": _json(sample.input), "expected": _json(sample.expected)}
        t0 = time.perf_counter()
        try:
            called = caller(sample)
        except RippleError as exc:
            return EvalSampleRecord(**base, error=exc.message, latency_ms=(time.perf_counter() - t0) * 1000)
        except (
            Exception
        ) as exc:  # boundary around the target (the user's app, its tools, model servers): recorded per sample
            return EvalSampleRecord(
                **base, error=f"{type(exc).__name__}: {exc}", latency_ms=(time.perf_counter() - t0) * 1000
            )
        scores, errors = score(self.metrics, sample, called.outcome, mctx)
        out = called.outcome
        return EvalSampleRecord(
            **base, output=_json(called.output), scores=scores, metric_errors=errors, latency_ms=out.latency_ms,
            tokens=out.tokens, cost=out.cost, trace_id=called.trace_id,
        )  # fmt: skip

    def _aggregates(self, run_id: int) -> dict[str, MetricAggregate]:
        stored = self.store.samples(self.principal, self.project, run_id)
        out: dict[str, MetricAggregate] = {}
        for m in self.spec.metric_names:
            values = [s.scores[m] for s in stored if m in s.scores]
            out[m] = aggregate(values, errors=len(stored) - len(values))
        return out

    def _progress(self, done: int, total: int, message: str) -> None:
        if self.ctx is not None:
            self.ctx.progress(done, total, message)

    def _log(self, message: str, level: str = "info") -> None:
        if self.ctx is not None:
            self.ctx.log(message, level)


def score(
    metrics: list[Any], sample: Sample, outcome: Outcome, ctx: MetricContext
) -> tuple[dict[str, float], dict[str, str]]:
    """Every metric on one sample: scores, and the reason of each metric without one."""
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    for metric in metrics:
        try:
            scores[metric.name] = metric.score(sample, outcome, ctx)
        except MetricError as exc:
            errors[metric.name] = str(exc)
        except RippleError as exc:
            errors[metric.name] = exc.message
        except Exception as exc:  # boundary around metric code (third-party scorers): recorded, never a NaN
            errors[metric.name] = f"{type(exc).__name__}: {exc}"
    return scores, errors


def to_sample(idx: int, row: Mapping[str, Any], cols: Mapping[str, str | None]) -> Sample:
    """A dataset row as a :class:`Sample`, through the suite's resolved columns."""

    def get(what: str) -> Any:
        col = cols.get(what)
        return row.get(col) if col else None

    key = get("id")
    return Sample(
        idx=idx, key=str(idx) if key is None else str(key)[:200], input=get("input"), expected=get("expected"),
        contexts=_texts(get("contexts")), relevant=_texts(get("relevant")), row=dict(row),
    )  # fmt: skip


def _texts(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip()) if "," in value else (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _json(value: Any) -> Any:
    """A value as plain JSON (dataset rows may hold dates, bytes ...)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


__all__ = ["Called", "EvalRunner", "resolve_target", "score", "to_sample"]
