"""The steps of one ``ripple apply``: rebuild, re-evaluate (and promote), redeploy, review.

Each step returns ``(status, message, result)`` with status ``done``, ``held`` (a gate failed,
a person must review, nothing evaluated it), ``failed`` (an error) or ``skipped`` (something it
depends on did not finish). Every step is idempotent, so a resumed apply may redo the step it
was killed in: a rebuild of the same inputs returns the same version, an eval run resumes,
a label move to where the label already is changes nothing.

Promotion rule: a label moves only where every suite covering the asset passed. A rebuilt
asset that suites evaluate gets its old version's labels (not ``latest``) when all its gates
pass; a rebuilt upstream asset (an index) gets them when every evaluated dependent passed, and
is held when nothing evaluated it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.records import PlanRecord, PlanStep
from rippleops.domain.refs import LATEST, parse_ref
from rippleops.errors import RippleError
from rippleops.runtime.executor import JobContext

if TYPE_CHECKING:
    from rippleops.services import Services

DONE, HELD, FAILED, SKIPPED = "done", "held", "failed", "skipped"
FINAL_KEY = "promote:upstream"
Outcome = tuple[str, str, dict[str, Any]]


@dataclass(slots=True)
class Finished:
    status: str
    message: str
    result: dict[str, Any]


class StepRunner:
    def __init__(
        self,
        services: Services,
        principal: Principal,
        project: str,
        plan: PlanRecord,
        finished: dict[str, Finished],
        ctx: JobContext,
    ) -> None:
        self.s, self.principal, self.project, self.plan = services, principal, project, plan
        self.finished, self.ctx = finished, ctx
        self.by_key = {st.key: st for st in plan.steps}

    # -- helpers -------------------------------------------------------------------------------

    def new_versions(self) -> dict[str, str]:
        """Old exact version -> the version its rebuild made, for every finished rebuild."""
        return {
            f.result["old"]: f.result["new"]
            for f in self.finished.values()
            if f.status == DONE and "old" in f.result and "new" in f.result
        }

    def blocked(self, step: PlanStep) -> str | None:
        for dep in step.depends_on:
            f = self.finished.get(dep)
            if f is None or f.status != DONE:
                why = f.message if f is not None else "did not run"
                return f"{dep} is {f.status if f else 'not finished'} ({why})"
        return None

    def run(self, step: PlanStep) -> Outcome:
        why = self.blocked(step)
        if why is not None:
            return SKIPPED, f"skipped: {why}", {}
        try:
            if step.action == "rebuild":
                return self.rebuild(step)
            if step.action == "re-evaluate":
                return self.evaluate(step)
            if step.action == "redeploy":
                return self.redeploy(step)
            return HELD, f"review: {step.target} is hand-made ({step.reason}); register a new version by hand", {}
        except RippleError as exc:  # a step's own failure: recorded, its dependents are skipped
            return FAILED, exc.message, {"error": type(exc).__name__}

    # -- rebuild -------------------------------------------------------------------------------

    def rebuild(self, step: PlanStep) -> Outcome:
        old = self.s.assets.get(self.principal, self.project, step.target)
        news = self.new_versions()
        pins: dict[str, str] = {}
        for inp in old.inputs:
            new = news.get(inp.resolved)
            if new is not None and self.s.assets.get(self.principal, self.project, inp.ref).ref != new:
                pins[inp.ref] = new  # written with a label that has not moved (yet): use the new one
        if old.kind == "index":
            params: dict[str, Any] = {"name": old.name, "rebuild": True, "message": f"ripple: rebuild of {old.ref}"}
            for inp in old.inputs:
                if inp.ref in pins and inp.role in ("dataset", "embedder"):
                    params[inp.role] = pins[inp.ref]
            checked = self.s.indexes.check_params(self.principal, self.project, params)
            built = self.s.indexes.run_build(self.principal, self.project, checked, self.ctx)
            new_ref = str(built["index"])
        elif old.kind == "app":
            new_ref = self.s.apps.create(self.principal, self.project, old.name, old.content, pins=pins).ref
        elif old.kind == "suite":
            new_ref = self.s.suites.create(self.principal, self.project, old.name, old.content).ref
        elif old.kind == "policy":
            new_ref = self.s.policies.create(self.principal, self.project, old.name, old.content).ref
        else:
            return HELD, f"rebuilding a {old.kind} is not automated; rebuild {old.ref} by hand", {}
        result = {"old": old.ref, "new": new_ref, "pins": pins}
        note = " (same content: early cutoff)" if new_ref == old.ref else ""
        return DONE, f"rebuilt {old.ref} -> {new_ref}{note}", result

    # -- re-evaluate and promote ---------------------------------------------------------------

    def evaluate(self, step: PlanStep) -> Outcome:
        new = self.new_versions().get(step.target)
        if new is None:
            return SKIPPED, f"skipped: {step.target} was not rebuilt", {}
        evals, suite = self.s.evals, step.suite or ""
        run = evals.evaluate(self.principal, self.project, suite, new, ctx=self.ctx)
        gate = evals.gate(self.principal, self.project, run.id)
        extra: dict[str, Any] = {}
        if not gate.comparable and gate.baseline_target:
            # the baseline ran on another dataset version: score the baseline target on this one
            base = evals.evaluate(self.principal, self.project, suite, gate.baseline_target, ctx=self.ctx)
            gate = evals.gate(self.principal, self.project, run.id, baseline=base.id)
            extra["rebaselined"] = {"target": gate.baseline_target, "run": base.id}
        result = {
            "suite": step.suite, "target": new, "old": step.target, "run": run.id, "passed": bool(gate.passed),
            "baseline_run": gate.baseline_run, "comparable": gate.comparable,
            "gates": [g.model_dump(mode="json") for g in gate.gates], "gate_message": gate.message, **extra,
        }  # fmt: skip
        if not gate.passed:
            failing = [f"{g.metric} {g.rule} {g.threshold}: {g.message or g.value}" for g in gate.gates if not g.passed]
            return HELD, f"gate failed for {new} on {step.suite}: {'; '.join(failing) or gate.message}", result
        result["promoted"] = self._promote_if_covered(step, new)
        return DONE, f"{new} passed {step.suite} (run {run.id})", result

    def _promote_if_covered(self, step: PlanStep, new: str) -> list[dict[str, Any]]:
        """Move the old version's labels once every suite covering the target has passed."""
        siblings = [s for s in self.plan.steps if s.action == "re-evaluate" and s.target == step.target]
        for sib in siblings:
            if sib.key == step.key:
                continue
            f = self.finished.get(sib.key)
            if f is None or f.status != DONE:
                return []  # a later sibling (or none, when one failed) promotes
        return self.move_labels(step.target, new, step.labels)

    def move_labels(self, old: str, new: str, labels: list[str]) -> list[dict[str, Any]]:
        ref = parse_ref(new)
        moved = []
        for label in labels:
            if label == LATEST:
                continue
            rec = self.s.labels.set(self.principal, self.project, ref.asset, label, ref.version or 0)
            moved.append({"asset": ref.asset, "label": label, "from": old, "to": new, "record": rec.version})
        return moved

    # -- redeploy ------------------------------------------------------------------------------

    def redeploy(self, step: PlanStep) -> Outcome:
        old = self.s.assets.get(self.principal, self.project, step.target)
        c: Mapping[str, Any] = old.content
        app = parse_ref(c["app"])
        current = self.s.assets.get(self.principal, self.project, f"{app.asset}@{c['env']}")
        if current.ref == c["app"]:
            return (
                SKIPPED,
                f"held: {app.asset}@{c['env']} did not move (not promoted); {step.target} keeps {c['app']}",
                {},
            )
        rec = self.s.deployments.create(
            self.principal, self.project, current.ref, env=c["env"], target=c["target"], port=c.get("port"),
            replicas=c.get("replicas"), image=c.get("image"), resources=c.get("resources"),
            min_replicas=c.get("min_replicas"), max_replicas=c.get("max_replicas"),
        )  # fmt: skip
        return (
            DONE,
            f"redeployed {c['env']}: {c['app']} -> {current.ref}",
            {"old": step.target, "deployment": rec.ref, "app": current.ref},
        )

    # -- the final step: upstream promotion ----------------------------------------------------

    def promote_upstream(self) -> Outcome:
        """Labels of rebuilt assets no suite scores directly: moved when every evaluated
        dependent passed, held when a dependent failed or nothing evaluated them."""
        evaluated = {s.target for s in self.plan.steps if s.action == "re-evaluate"}
        users: dict[str, list[str]] = {}
        for st in self.plan.steps:
            for d in st.depends_on:
                users.setdefault(d, []).append(st.key)
        promoted: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        for st in self.plan.steps:
            f = self.finished.get(st.key)
            if st.action != "rebuild" or st.target in evaluated or f is None or f.status != DONE:
                continue
            evals = _downstream_evals(st.key, users, self.by_key)
            labels = [lb for lb in st.labels if lb != LATEST]
            if not evals:
                held.append({"target": f.result["new"], "old": st.target, "labels": labels,
                             "reason": "held: not evaluated by any suite"})  # fmt: skip
                continue
            bad = [k for k in evals if self.finished.get(k) is None or self.finished[k].status != DONE]
            if bad:
                held.append({"target": f.result["new"], "old": st.target, "labels": labels,
                             "reason": f"held: a dependent did not pass ({', '.join(bad)})"})  # fmt: skip
                continue
            promoted.extend(self.move_labels(st.target, f.result["new"], st.labels))
        msg = f"{len(promoted)} label moves upstream, {len(held)} held"
        return DONE, msg, {"promoted": promoted, "held": held}


def _downstream_evals(key: str, users: dict[str, list[str]], by_key: Mapping[str, PlanStep]) -> list[str]:
    seen: set[str] = set()
    todo = [key]
    while todo:
        for u in users.get(todo.pop(), ()):
            if u not in seen:
                seen.add(u)
                todo.append(u)
    return sorted(k for k in seen if by_key[k].action == "re-evaluate")


def report(plan: PlanRecord, finished: Mapping[str, Finished]) -> dict[str, Any]:
    """The final report: what moved, what did not and why."""
    out: dict[str, list[Any]] = {
        k: [] for k in ("rebuilt", "evaluated", "promoted", "redeployed", "held", "failed", "skipped", "review")
    }
    for st in [*plan.steps]:
        f = finished.get(st.key)
        if f is None:
            continue
        r = f.result
        if st.action == "rebuild" and f.status == DONE:
            out["rebuilt"].append({"from": r["old"], "to": r["new"]})
        if st.action == "re-evaluate" and "run" in r:
            out["evaluated"].append(
                {
                    k: r.get(k)
                    for k in ("suite", "target", "run", "passed", "baseline_run", "comparable", "gates", "rebaselined")
                }
            )
        out["promoted"].extend(r.get("promoted") or [])
        if st.action == "redeploy" and f.status == DONE:
            out["redeployed"].append({"deployment": r["deployment"], "app": r["app"], "from": r["old"]})
        if f.status == HELD:
            out["review" if st.action == "review" else "held"].append(
                {"step": st.key, "target": st.target, "reason": f.message}
            )
        elif f.status == FAILED:
            out["failed"].append({"step": st.key, "target": st.target, "reason": f.message})
        elif f.status == SKIPPED:
            out["skipped"].append({"step": st.key, "target": st.target, "reason": f.message})
    final = finished.get(FINAL_KEY)
    if final is not None:
        out["promoted"].extend(final.result.get("promoted") or [])
        out["held"].extend(final.result.get("held") or [])
    return out
