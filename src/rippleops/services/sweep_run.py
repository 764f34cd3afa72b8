"""The body of a ``sweep.run`` job: make a candidate app version per point, score it with the
suite, and summarise (Pareto front of quality against cost and latency, marginal gain per
extra cost, a recommendation), with a JSON and an HTML report in the home's ``reports``.

Index variants for ``chunk_size`` are built in this job's own thread (not as child jobs:
a job that waits on another job in the server's pool could wait on itself), as new versions
of the app's index asset.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.pareto import marginal_gains, pareto_front, recommend
from rippleops.domain.records import EvalRunRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.sweeps import SweepSpec, apply_knobs, grid_points, knob_label, retrieve_index
from rippleops.errors import InvalidError, RippleError
from rippleops.runtime.executor import JobCancelled, JobContext
from rippleops.services.eval_report import render_sweep_html, write_report

if TYPE_CHECKING:
    from rippleops.services import Services

log = logging.getLogger(__name__)
OBJECTIVES = [("quality", "max"), ("cost", "min"), ("latency_ms", "min")]
ALWAYS = ("latency_ms", "tokens", "cost", "guard_block_rate")


class SweepRun:
    """One sweep, run to the end in the calling thread."""

    def __init__(
        self, services: Services, principal: Principal, project: str, spec: SweepSpec, ctx: JobContext
    ) -> None:
        self.services = services
        self.principal = principal
        self.project = project
        self.spec = spec
        self.ctx = ctx
        self.base: VersionRecord = services.apps.get(principal, project, spec.app)
        self.suite: VersionRecord = services.assets.get(principal, project, parse_ref(spec.suite, "suite"))
        self.objective = spec.objective or first_metric(self.suite.content)
        self.indexes: dict[int, str] = {}  # chunk_size -> exact index version built for it
        self.points: list[dict[str, Any]] = []
        self._done: dict[tuple[Any, ...], dict[str, Any]] = {}

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        if self.spec.method == "optuna":
            self._optuna()
        else:
            points = grid_points(self.spec)
            self.ctx.progress(0, len(points), f"{len(points)} points")
            for i, knobs in enumerate(points, 1):
                self._point(knobs)
                self.ctx.progress(i, len(points), knob_label(knobs))
        if not any(p.get("quality") is not None for p in self.points):
            errors = "; ".join(f"{knob_label(p['knobs'])}: {p['error']}" for p in self.points if p.get("error"))
            raise InvalidError(f"no point of the sweep could be scored on {self.objective}: {errors or 'no points'}")
        return self._result(time.perf_counter() - started)

    # -- points -----------------------------------------------------------------------------------

    def _point(self, knobs: dict[str, Any]) -> dict[str, Any]:
        """Score one point (once: a point seen before returns its result)."""
        key = tuple(knobs.get(k) for k in self.spec.grid)
        if key in self._done:
            return self._done[key]
        if self.ctx.cancelled():
            raise JobCancelled()
        point: dict[str, Any] = {
            "knobs": dict(knobs),
            "app": None,
            "run": None,
            "quality": None,
            "cost": None,
            "latency_ms": None,
        }
        try:
            index = self._index(int(knobs["chunk_size"])) if "chunk_size" in knobs else None
            content = apply_knobs(self.base.content, knobs, index=index)
            spec = {**content, "message": f"sweep (job {self.ctx.job_id}) of {self.base.ref}: {knob_label(knobs)}"}
            version = self.services.apps.create(self.principal, self.project, self.base.name, spec)
            point["app"] = version.ref
            run = self.services.evals.evaluate(self.principal, self.project, self.spec.suite, version.ref)
            point.update(self._scores(run))
        except JobCancelled:
            raise
        except RippleError as exc:  # one bad point (a model down, a bad knob value) does not end the sweep
            point["error"] = exc.message
            self.ctx.log(f"{knob_label(knobs)}: {exc.message}", "error")
        else:
            self.ctx.log(
                f"{knob_label(knobs)}: {point['app']} run {point['run']} {self.objective}={point['quality']} "
                f"cost={point['cost']} latency_p50={point['latency_ms']}"
            )
        self.points.append(point)
        self._done[key] = point
        return point

    def _scores(self, run: EvalRunRecord) -> dict[str, Any]:
        agg = run.aggregates
        if self.objective not in agg:
            raise InvalidError(
                f"run {run.id} has no {self.objective!r}; its metrics: {', '.join(agg)} (pick one with --objective)"
            )
        cost = agg["cost"].mean if "cost" in agg else None
        latency = agg["latency_ms"].p50 if "latency_ms" in agg else None
        return {
            "run": run.id, "quality": agg[self.objective].mean, "cost": cost if cost is not None else 0.0,
            "latency_ms": latency, "errors": run.errors, "samples": run.samples,
        }  # fmt: skip

    def _index(self, chunk_size: int) -> str:
        """The exact index version with this chunk size (built once per sweep)."""
        if chunk_size not in self.indexes:
            name = parse_ref(retrieve_index(self.base.content), "index").name
            params = self.services.indexes.check_params(
                self.principal, self.project,
                {"name": name, "rebuild": True, "chunk_size": chunk_size,
                 "message": f"sweep (job {self.ctx.job_id}): chunk_size={chunk_size}"},
            )  # fmt: skip
            self.ctx.log(f"building index/{name} with chunk_size={chunk_size}")
            result = self.services.indexes.run_build(self.principal, self.project, params, self.ctx)
            self.indexes[chunk_size] = str(result["index"])
        return self.indexes[chunk_size]

    def _optuna(self) -> None:
        optuna = import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            directions=["maximize", "minimize", "minimize"], sampler=optuna.samplers.TPESampler(seed=self.spec.seed),
            storage=self.spec.storage, study_name=self.spec.study or f"ripple-sweep-{self.ctx.job_id}",
            load_if_exists=True,
        )  # fmt: skip
        trials = self.spec.trials or 0
        self.ctx.progress(0, trials, f"{trials} trials (TPE) over {self.spec.size} combinations")
        for i in range(1, trials + 1):
            trial = study.ask()
            knobs = {k: trial.suggest_categorical(k, values) for k, values in self.spec.grid.items()}
            point = self._point(knobs)
            if point.get("quality") is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                latency = point["latency_ms"] if point["latency_ms"] is not None else 0.0
                study.tell(trial, [point["quality"], point["cost"], latency])
            self.ctx.progress(i, trials, knob_label(knobs))
            if len(self._done) >= self.spec.size:
                self.ctx.log(f"every one of the {self.spec.size} combinations is scored; stopping after {i} trials")
                break

    # -- the result -------------------------------------------------------------------------------

    def _result(self, seconds: float) -> dict[str, Any]:
        points = self.points
        front = pareto_front(points, OBJECTIVES)
        gains = marginal_gains(points)
        for step in gains:
            points[step["to"]]["marginal_gain"] = step["gain_per_cost"]
        pick, reason = recommend(points, latency="latency_ms")
        return {
            "app": parse_ref(self.spec.app, "app").asset, "base": self.base.ref, "suite": self.suite.ref,
            "objective": self.objective, "method": self.spec.method, "spec": self.spec.to_dict(),
            "points": points, "front": front, "gains": gains,
            "recommendation": {"index": pick, "app": points[pick]["app"], "knobs": points[pick]["knobs"], "reason": reason},
            "indexes": {str(k): v for k, v in self.indexes.items()}, "seconds": round(seconds, 3),
        }  # fmt: skip


def first_metric(suite_content: dict[str, Any]) -> str:
    """The suite's first metric's key (its ``as`` name, else its name): the default quality."""
    for entry in suite_content.get("metrics") or []:
        if isinstance(entry, str):
            return entry
        if isinstance(entry, dict) and isinstance(entry.get("as") or entry.get("name"), str):
            return str(entry.get("as") or entry.get("name"))
    raise InvalidError("the suite names no metric to use as quality; pass --objective METRIC")


def import_optuna() -> Any:
    """The ``optuna`` module, or an error naming the extra that brings it."""
    try:
        import optuna
    except ImportError as exc:
        raise InvalidError(
            f"--method optuna needs Optuna, which is not installed ({exc}); pip install 'rippleops[eval]'"
        ) from exc
    return optuna


def write_reports(reports_dir: Path, job_id: int, result: dict[str, Any]) -> dict[str, str]:
    """The result as ``sweep-<job>.json`` and, when Plotly is installed, ``sweep-<job>.html``."""
    out = {"json": str(write_report(reports_dir / f"sweep-{job_id}.json", json.dumps(result, indent=2, default=str)))}
    try:
        out["html"] = str(write_report(reports_dir / f"sweep-{job_id}.html", render_sweep_html(result)))
    except InvalidError as exc:  # no plotly: the JSON report still stands
        out["html_error"] = exc.message
    return out
