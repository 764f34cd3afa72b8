"""The impact of one change on a project's graph: every affected live version once, with
the action it needs, in topological order.

A change is a new version (``embedder/minilm:2``: the references that resolve to it now —
bare / ``@latest`` when it is the latest, and its labels) or a label move
(``prompt/answer@production``: the references written with that label whose recorded hash
differs from where the label points now, or would point ``to``).

>>> from rippleops.domain.ripple import EdgeRow, Graph, VersionRow
>>> g = Graph(
...     [VersionRow(1, "embedder", "m", 1, "h1"), VersionRow(2, "embedder", "m", 2, "h2"),
...      VersionRow(3, "index", "d", 1, "h3", has_recipe=True)],
...     [EdgeRow(3, 1, "embedder/m", "h1", "embedder")], labels={})
>>> [s.key for s in impact(g, "embedder/m:2").steps]
['rebuild:index/d:1']
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from rippleops.domain.records import PlanRecord, PlanStep
from rippleops.domain.refs import Ref, parse_ref
from rippleops.domain.ripple import DEPLOYMENT, REBUILD, REDEPLOY, REEVALUATE, REVIEW, Graph, VersionRow, parse_written
from rippleops.errors import InvalidError, NotFoundError


@dataclass(slots=True)
class _Hit:
    depth: int
    reasons: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def impact(graph: Graph, change: str, *, to: int | None = None) -> PlanRecord:
    """What ``change`` affects (estimates left empty: the service fills them from past runs)."""
    ref = parse_ref(change)
    notes: list[str] = []
    if ref.label is None:
        if to is not None:
            raise InvalidError(f"--to moves a label hypothetically; give a label: {ref.asset}@LABEL --to N")
        target = _require(graph, ref)
        seeds = _version_seeds(graph, target, notes)
    else:
        target = _label_target(graph, ref, to)
        seeds = _label_seeds(graph, ref, target)
    hits = _walk(graph, seeds)
    steps = _steps(graph, hits)
    if not steps:
        notes.insert(0, _nothing_note(graph, ref, target))
    return PlanRecord(
        change=change, resolved=target.ref, steps=_ordered(steps), affected=len(hits), notes=_dedupe(notes)
    )


def _require(graph: Graph, ref: Ref) -> VersionRow:
    v = graph.resolve(ref)
    if v is None:
        raise NotFoundError(f"{ref.text} does not resolve in this project; see `ripple {ref.kind} versions {ref.name}`")
    return v


def _label_target(graph: Graph, ref: Ref, to: int | None) -> VersionRow:
    if to is None:
        return _require(graph, ref)
    return _require(graph, Ref(ref.kind, ref.name, version=to))


def _version_seeds(graph: Graph, target: VersionRow, notes: list[str]) -> dict[int, _Hit]:
    seeds: dict[int, _Hit] = {}
    for e in graph.by_input_asset.get(target.asset, ()):
        if not graph.is_live(e.version_id):
            continue
        r = parse_written(e.ref)
        if r.version is not None:
            continue
        now = graph.resolve(r)
        if now is not None and now.id == target.id:
            if e.input_hash != target.hash:
                _add(seeds, e.version_id, 1, f"refers to {e.ref}, which is now {target.ref}", e.ref)
        elif r.label is not None and e.input_version_id != target.id:
            still = f":{now.number}" if now else "unset"
            dep = graph.versions[e.version_id].asset
            notes.append(
                f"{dep} refers to {e.ref}, still {still}; "
                f"move the label to ripple further (`ripple {r.kind} label {r.name} {r.label} {target.number}`)"
            )
    return seeds


def _label_seeds(graph: Graph, ref: Ref, target: VersionRow) -> dict[int, _Hit]:
    seeds: dict[int, _Hit] = {}
    for e in graph.by_input_asset.get(ref.asset, ()):
        r = parse_written(e.ref)
        if r.label != ref.label or not graph.is_live(e.version_id) or e.input_hash == target.hash:
            continue
        _add(seeds, e.version_id, 1, f"refers to {e.ref}, which points at {target.ref}", e.ref)
    # deployments of this env run the app version the label leaves
    if ref.kind == "app":
        for d in graph.deployments.get(ref.asset, ()):
            dv = graph.versions[d]
            app = graph.deployed_app(d)
            if dv.env == ref.label and app is not None and app.id != target.id:
                _add(seeds, d, 1, f"runs {app.ref}; {ref.text} points at {target.ref}", ref.text)
    return seeds


def _add(hits: dict[int, _Hit], vid: int, depth: int, reason: str, via: str) -> bool:
    hit = hits.get(vid)
    new = hit is None
    if hit is None:
        hit = hits[vid] = _Hit(depth)
    hit.depth = min(hit.depth, depth)
    if reason not in hit.reasons:
        hit.reasons.append(reason)
    if via not in hit.via:
        hit.via.append(via)
    return new


def _walk(graph: Graph, seeds: dict[int, _Hit]) -> dict[int, _Hit]:
    """Every live version downstream of the seeds, each once (diamonds merge)."""
    hits = dict(seeds)
    queue = sorted(seeds, key=lambda v: hits[v].depth)
    while queue:
        vid = queue.pop(0)
        v, depth = graph.versions[vid], hits[vid].depth
        for e in graph.dependents.get(vid, ()):
            if parse_written(e.ref).version is not None or not graph.is_live(e.version_id):
                continue
            if _add(hits, e.version_id, depth + 1, f"refers to {e.ref} ({v.ref}), which is affected", e.ref):
                queue.append(e.version_id)
        if v.kind == "app":
            for d in graph.deployments.get(v.asset, ()):
                dv = graph.versions[d]
                if dv.env and graph.assets[v.asset].labels.get(dv.env) == v.number:
                    reason = f"serves {v.asset}@{dv.env} ({v.ref}), which is affected"
                    if _add(hits, d, depth + 1, reason, f"{v.asset}@{dv.env}"):
                        queue.append(d)
    return hits


def _steps(graph: Graph, hits: dict[int, _Hit]) -> list[PlanStep]:
    keys = {vid: f"{graph.action_of(vid)}:{graph.versions[vid].ref}" for vid in hits}
    evals: dict[int, list[str]] = {}
    steps: list[PlanStep] = []
    for vid, hit in hits.items():
        v = graph.versions[vid]
        if v.kind == DEPLOYMENT:
            continue
        # a hand-made input under review makes no new version: what depends on it rebuilds on it as it is
        ups = sorted(
            {
                keys[e.input_version_id]
                for e in graph.inputs.get(vid, ())
                if e.input_version_id in hits and graph.action_of(e.input_version_id) != REVIEW
            }
        )
        steps.append(
            PlanStep(
                key=keys[vid],
                action=graph.action_of(vid),
                target=v.ref,
                kind=v.kind,
                reason="; ".join(hit.reasons),
                via=hit.via,
                depends_on=ups,
                labels=graph.labels_of(vid),
                depth=hit.depth,
            )
        )
        if graph.action_of(vid) != REBUILD:
            continue
        for suite in graph.suites.get(v.asset, ()):
            key = f"{REEVALUATE}:{suite}:{v.ref}"
            deps = [keys[vid]]
            suite_v = graph.resolve(suite)
            if suite_v is not None and suite_v.id in hits:
                deps.append(keys[suite_v.id])
            evals.setdefault(vid, []).append(key)
            steps.append(
                PlanStep(
                    key=key,
                    action=REEVALUATE,
                    target=v.ref,
                    kind=v.kind,
                    suite=suite,
                    depends_on=sorted(deps),
                    reason=f"{suite} evaluates {v.asset}: score the rebuilt version against the baseline",
                    labels=graph.labels_of(vid),
                    depth=hit.depth + 1,
                )
            )
    for vid, hit in hits.items():
        v = graph.versions[vid]
        if v.kind != DEPLOYMENT:
            continue
        app = graph.deployed_app(vid)
        deps = []
        if app is not None:
            for a_vid in (a for a in hits if graph.versions[a].asset == app.asset):
                deps.extend(evals.get(a_vid) or [keys[a_vid]])
        steps.append(
            PlanStep(
                key=keys[vid],
                action=REDEPLOY,
                target=v.ref,
                kind=v.kind,
                reason="; ".join(hit.reasons),
                via=hit.via,
                depends_on=sorted(set(deps)),
                labels=graph.labels_of(vid),
                depth=hit.depth + 1,
            )
        )
    return steps


def _ordered(steps: list[PlanStep]) -> list[PlanStep]:
    """Kahn's algorithm; ready steps leave in (kind, target, key) order."""
    by_key = {s.key: s for s in steps}
    waiting = {s.key: {d for d in s.depends_on if d in by_key} for s in steps}
    users: dict[str, list[str]] = {}
    for k, deps in waiting.items():
        for d in deps:
            users.setdefault(d, []).append(k)
    ready = [(_tie(by_key[k]), k) for k, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out: list[PlanStep] = []
    while ready:
        _, k = heapq.heappop(ready)
        out.append(by_key[k])
        for u in users.get(k, ()):
            waiting[u].discard(k)
            if not waiting[u]:
                heapq.heappush(ready, (_tie(by_key[u]), u))
    return out


def _tie(s: PlanStep) -> tuple[str, str, str]:
    return (s.kind, s.target, s.key)


def _nothing_note(graph: Graph, ref: Ref, target: VersionRow) -> str:
    if ref.label is None and not graph.labels_of(target.id):
        return (
            f"nothing refers to {target.ref}: it is not the latest and holds no label; move a label to it "
            f"(`ripple {target.kind} label {target.name} LABEL {target.number}`) to ripple it"
        )
    return f"nothing depends on {target.ref}: no live version refers to it by label or latest"


def _dedupe(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))


def stale_plan(graph: Graph) -> PlanRecord:
    """A plan from what is stale now: every directly stale live version and its dependents."""
    seeds: dict[int, _Hit] = {}
    for vid in sorted(graph.versions):
        if not graph.is_live(vid):
            continue
        for r in graph.direct_reasons(vid):
            _add(seeds, vid, 1, f"{r.input} was {r.recorded}, now {r.now or 'unresolved'}", r.input)
    hits = _walk(graph, seeds)
    steps = _steps(graph, hits)
    notes = [] if steps else ["nothing is stale"]
    return PlanRecord(change="stale", steps=_ordered(steps), affected=len(hits), notes=notes)
