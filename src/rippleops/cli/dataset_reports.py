"""How ``ripple dataset diff``, ``quality`` and ``bias`` look as Rich tables (the shapes of
the reports are those of :mod:`rippleops.runtime.analyzers` and the dataset diff)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.markup import escape

from rippleops.cli.common import echo, note, stdout, table

MAX_CELL = 60
FINDINGS = {
    "exact_duplicates": "exact duplicates",
    "near_duplicates": "near-duplicates",
    "empty_texts": "empty texts",
    "over_long_texts": "over-long texts",
    "pii": "PII findings",
    "warnings": "warnings",
}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{100 * value:.1f}%"


def _title(text: str) -> None:
    stdout().print(f"[bold]{escape(text)}[/bold]", highlight=False)


# -- diff --------------------------------------------------------------------------------------


def render_diff(d: Mapping[str, Any]) -> None:
    if d.get("same"):
        echo(f"{d['from']} and {d['to']} hold the same records", style="green")
        return
    counts = d["counts"]
    _title(f"{d['from']} -> {d['to']}  (by {d['key']})")
    table(
        None,
        ["added", "removed", "changed", "unchanged", "rows before", "rows after"],
        [
            [
                counts["added"],
                counts["removed"],
                counts["changed"],
                counts["unchanged"],
                d["rows"]["from"],
                d["rows"]["to"],
            ]
        ],
    )
    schema = d.get("schema") or {}
    changes = [[f["name"], "added", f["type"]] for f in schema.get("added", [])]
    changes += [[f["name"], "removed", f["type"]] for f in schema.get("removed", [])]
    changes += [[f["name"], "retyped", f"{f['from']} -> {f['to']}"] for f in schema.get("retyped", [])]
    if changes:
        table("columns", ["column", "change", "type"], changes)
    if d.get("changed_columns"):
        table(
            "changed columns", ["column", "rows changed"], sorted(d["changed_columns"].items(), key=lambda kv: -kv[1])
        )
    ex = d.get("examples") or {}
    if ex.get("changed"):
        rows = [
            [_short(e["key"]), col, _short(v["from"]), _short(v["to"])]
            for e in ex["changed"]
            for col, v in e["columns"].items()
        ]
        table("changed rows (examples)", [d["key"], "column", "from", "to"], rows)
    for kind in ("added", "removed"):
        if ex.get(kind):
            columns = list(ex[kind][0])
            table(f"{kind} rows (examples)", columns, [[_short(r.get(c)) for c in columns] for r in ex[kind]])


# -- quality -----------------------------------------------------------------------------------


def render_quality(ref: str, r: Mapping[str, Any]) -> None:
    _title(f"quality of {ref} ({r.get('rows', 0):,} rows)")
    findings = []
    for name in ("exact_duplicates", "near_duplicates", "empty_texts", "over_long_texts"):
        section = r.get(name)
        if isinstance(section, Mapping):
            extra = ""
            if name == "near_duplicates":
                extra = f"Jaccard >= {section.get('threshold')}"
            elif name == "over_long_texts":
                extra = f"over {section.get('max_chars')} characters"
            by = {k: v for k, v in (section.get("by_column") or {}).items() if v}
            if by:
                extra = ", ".join(filter(None, [extra, ", ".join(f"{k}: {v}" for k, v in by.items())]))
            findings.append([FINDINGS[name], section.get("count"), extra])
    key_check = r.get("key_check")
    if isinstance(key_check, Mapping):
        findings.append([f"key {r.get('key')!s}", key_check.get("duplicates"), f"{key_check.get('nulls')} empty"])
    table("findings", ["finding", "rows", "detail"], findings)
    columns = r.get("columns") or {}
    rows = []
    for name, c in columns.items():
        text = c.get("text") or {}
        chars = f"{text.get('min_chars')}..{text.get('max_chars')} (mean {text.get('mean_chars')})" if text else None
        distinct = c.get("distinct")
        if distinct is not None and not c.get("distinct_exact", True):
            distinct = f"~{distinct}"
        rows.append([name, c.get("type"), c.get("nulls"), _pct(c.get("null_rate")), distinct, chars])
    table("columns", ["column", "type", "nulls", "null rate", "distinct", "text length"], rows)
    pii = r.get("pii")
    if isinstance(pii, Mapping):
        entities = pii.get("entities") or {}
        examples = pii.get("examples") or {}
        prows = []
        for entity, count in sorted(entities.items(), key=lambda kv: -kv[1]):
            first = (examples.get(entity) or [{}])[0]
            where = f"row {first.get('row')}, {first.get('column')}: {first.get('masked')}" if first else None
            prows.append([entity, count, where])
        table("personal data found (patterns)", ["entity", "findings", "first (masked)"], prows, empty="no PII found")
    balance = r.get("label_balance")
    if isinstance(balance, Mapping):
        lrows = [[lb.get("label"), lb.get("count"), _pct(lb.get("share"))] for lb in balance.get("labels") or []]
        table(f"label balance of {balance.get('column')}", ["label", "rows", "share"], lrows)
    for w in r.get("warnings") or []:
        note(f"warning: {w}")


# -- bias --------------------------------------------------------------------------------------


def render_bias(ref: str, r: Mapping[str, Any]) -> None:
    positive = ", ".join(map(str, r.get("positive") or [])) or "-"
    _title(f"{r.get('outcome_column')} = {positive} by {r.get('group_column')} in {ref} ({r.get('rows', 0):,} rows)")
    rows = []
    for g in r.get("groups") or []:
        ci = g.get("ci95") or []
        ci_text = f"{_pct(ci[0])}-{_pct(ci[1])}" if len(ci) == 2 else None
        flag = "ok" if g.get("four_fifths") else "BELOW 4/5"
        if g.get("small"):
            flag += " (small group)"
        disparity = g.get("disparity")
        rows.append([
            g.get("group"), g.get("rows"), g.get("positives"), _pct(g.get("rate")), ci_text,
            "-" if disparity is None else f"{disparity:.2f}", flag,
        ])  # fmt: skip
    table(
        f"most favoured: {r.get('most_favoured')}; overall rate {_pct(r.get('overall_rate'))}",
        ["group", "rows", "positive", "rate", "95% CI", "disparity", "four-fifths"],
        rows,
    )
    ff = r.get("four_fifths") or {}
    if ff:
        if ff.get("passes"):
            echo("every group's rate is at least four fifths of the most favoured group's", style="green")
        else:
            flagged = ", ".join(map(str, ff.get("flagged") or []))
            echo(f"below four fifths of the most favoured group's rate: {flagged}", style="yellow")
    for w in r.get("warnings") or []:
        note(f"warning: {w}")
    for n in r.get("notes") or []:
        note(f"note: {n}", style="dim")
