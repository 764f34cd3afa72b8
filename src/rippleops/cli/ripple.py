"""``ripple impact``, ``ripple stale``, ``ripple apply``: the ripple engine on the command line."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from rippleops.cli.common import JSON_HELP, client, echo, note, print_json, stdout, table
from rippleops.cli.job import job_error, run_and_follow
from rippleops.domain.records import ApplyRecord, Estimate, PlanRecord, StaleReport
from rippleops.errors import GateFailedError

Json = typer.Option(False, "--json", help=JSON_HELP)


def _est(e: Estimate) -> str:
    parts = []
    if e.seconds is not None:
        parts.append(f"{e.seconds:.1f} s")
    if e.tokens:
        parts.append(f"{e.tokens} tok")
    if e.cost:
        parts.append(f"${e.cost:.4f}")
    return ", ".join(parts) or "?"


def render_plan(plan: PlanRecord) -> None:
    tree = Tree(f"[bold]{escape(plan.change)}[/]" + (f" ({escape(plan.resolved)})" if plan.resolved else ""))
    nodes: dict[str, Any] = {}
    for step in plan.steps:  # topological: a step's parents are placed before it
        parent = next((nodes[d] for d in step.depends_on if d in nodes), tree)
        label = f"[cyan]{step.action}[/] {escape(step.target)}"
        if step.suite:
            label += f" with {escape(step.suite)}"
        if step.labels:
            label += f" [dim]({escape(', '.join(step.labels))})[/]"
        nodes[step.key] = parent.add(label)
    stdout().print(tree)
    rows = [
        (i, s.action, s.target, s.suite or "", ", ".join(s.labels), _est(s.estimate), s.estimate.basis)
        for i, s in enumerate(plan.steps, 1)
    ]
    table(None, ("#", "action", "target", "suite", "labels", "estimate", "basis"), rows, empty="no steps")
    if plan.steps:
        echo(f"{plan.affected} affected versions, {len(plan.steps)} steps, about {_est(plan.estimate)}")
    for n in plan.notes:
        note(n)


def impact(
    ctx: typer.Context,
    change: str = typer.Argument(..., help="A new version (embedder/minilm:2) or a label (prompt/answer@production)."),
    to: int | None = typer.Option(None, "--to", help="For a label: what if it moved to version N."),
    as_json: bool = Json,
) -> None:
    """What a change affects: every live version that refers to it, with the action it needs
    (rebuild, re-evaluate, redeploy, review) and its estimated cost, in order.

    Example: ripple impact embedder/minilm:2
    """
    with client(ctx) as rp:
        plan = rp.ripple.impact(change, to=to)
    if as_json:
        print_json(plan)
        return
    render_plan(plan)


def stale(
    ctx: typer.Context,
    all_versions: bool = typer.Option(False, "--all", help="Old history too, not only latest and labelled versions."),
    kind: str | None = typer.Option(None, "--kind", help="Only versions of this kind: index, app ..."),
    as_json: bool = Json,
) -> None:
    """Every version whose recorded inputs no longer match what its references resolve to now, and why.

    Example: ripple stale --kind index
    """
    with client(ctx) as rp:
        rep = rp.ripple.stale(all=all_versions, kind=kind)
    if as_json:
        print_json(rep)
        return
    _render_stale(rep)


def _render_stale(rep: StaleReport) -> None:
    rows = []
    for item in rep.items:
        why = "; ".join(
            f"{r.input} is stale upstream"
            if r.upstream_stale
            else f"{r.input}: {r.recorded or '?'} -> {r.now or 'unresolved'}"
            + (f" ({(r.recorded_hash or '')[:8]} -> {(r.now_hash or '')[:8]})" if r.recorded_hash else "")
            for r in item.reasons
        )
        rows.append((item.ref, ", ".join(item.labels), item.action, "yes" if item.transitive else "", why))
    table("stale", ("version", "labels", "action", "transitive", "why"), rows, empty="nothing is stale")
    echo(f"checked {rep.checked} versions in {rep.took_ms:.1f} ms", style="dim")


def apply(
    ctx: typer.Context,
    change: str | None = typer.Argument(None, help="The change to apply (as for `ripple impact`)."),
    to: int | None = typer.Option(None, "--to", help="For a label change: the version it moves to."),
    from_stale: bool = typer.Option(False, "--stale", help="Apply what `ripple stale` lists instead of a change."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    resume: int | None = typer.Option(None, "--resume", help="Rerun apply ID, skipping its finished steps."),
    show: int | None = typer.Option(None, "--show", help="Show apply ID: its steps and report."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero when something was held or failed."),
    as_json: bool = Json,
) -> None:
    """Rebuild what a change affects, re-run the suites, and move labels and redeploy only
    where every gate passes: one resumable job, with a report of what moved and why not.

    Example: ripple apply embedder/minilm:2 --dry-run
    """
    with client(ctx) as rp:
        if show is not None:
            record = rp.ripple.get_apply(show)
        elif dry_run:
            record = rp.ripple.apply(change, to=to, stale=from_stale, dry_run=True)
        else:
            holder: list[ApplyRecord] = []

            def start(on_update: Any) -> Any:
                holder.append(rp.ripple.apply(change, to=to, stale=from_stale, resume=resume, on_update=on_update))
                return _job_of(rp, holder[0])

            job = run_and_follow(start, f"applying {change or ('apply ' + str(resume) if resume else 'stale')}")
            if job is not None and job.state.value not in ("succeeded", "queued", "running"):
                raise job_error(job)
            record = rp.ripple.get_apply(holder[0].id) if holder[0].id else holder[0]
    if as_json:
        print_json(record)
    else:
        render_apply(record)
    rep = record.report or {}
    if strict and (rep.get("held") or rep.get("failed")):
        raise GateFailedError(
            f"apply {record.id}: {len(rep.get('held') or [])} held, {len(rep.get('failed') or [])} failed"
        )


def _job_of(rp: Any, record: ApplyRecord) -> Any:
    if record.job_id is None:
        return None
    return rp.jobs.get(record.job_id)


def render_apply(record: ApplyRecord) -> None:
    if record.state == "dry-run":
        echo("dry run: nothing changes", style="yellow")
        render_plan(record.plan)
        return
    echo(f"apply {record.id} ({record.change}): {record.state}" + (f", job {record.job_id}" if record.job_id else ""))
    table(
        "steps",
        ("step", "status", "message"),
        [(s.key, s.status, s.message) for s in record.steps],
    )
    rep = record.report
    if not rep:
        note(f"no report yet; resume with `ripple apply --resume {record.id}` if its job is gone")
        return
    rows: list[tuple[str, str, str]] = []
    rows += [("rebuilt", f"{r['from']} -> {r['to']}", "") for r in rep.get("rebuilt", [])]
    rows += [
        ("evaluated", f"{r['target']} on {r['suite']}", f"run {r['run']}: {'pass' if r['passed'] else 'FAIL'}")
        for r in rep.get("evaluated", [])
    ]
    rows += [("promoted", f"{r['asset']}@{r['label']}", f"{r['from']} -> {r['to']}") for r in rep.get("promoted", [])]
    rows += [("redeployed", r["deployment"], r["app"]) for r in rep.get("redeployed", [])]
    for key in ("held", "failed", "skipped", "review"):
        rows += [(key, r.get("target", ""), r.get("reason", "")) for r in rep.get(key, [])]
    table("report", ("outcome", "what", "detail"), rows, empty="nothing to do")
