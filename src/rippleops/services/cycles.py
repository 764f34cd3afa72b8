"""Refuse asset-level cycles when a version is registered.

Versions only refer to older versions, so the version graph cannot loop; but asset X may
refer to ``Y@latest`` while Y refers to ``X@latest``, and then every rebuild of one would
ripple into the other for ever. A new version of X is refused when one of its inputs' assets
refers back to X (through the references, by label or latest, of its live versions). An
exact reference (``kind/name:N``) never moves, so it closes no loop; nor does a reference to
the asset itself (a dataset appended to its own latest version): it resolves to an older
version, which is history (the ripple engine does not follow such edges).

One query per level of the walk, over the input assets only: registering a version whose
inputs refer to nothing (prompts, embedders, datasets) costs one small query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, aliased

from rippleops.domain.refs import Ref
from rippleops.domain.ripple import cycle_error, find_cycle
from rippleops.store.models import Asset, Label, Version, VersionInput

A = cast(Table, Asset.__table__)
V = cast(Table, Version.__table__)
VI = cast(Table, VersionInput.__table__)
L = cast(Table, Label.__table__)
MAX_DEPTH = 50


def check_cycle(s: Session, asset_id: int, asset: str, inputs: Sequence[tuple[int, Ref]]) -> None:
    """Raise :class:`InvalidError` naming the cycle when these inputs would close one."""
    # a reference to the asset itself resolves to one of its older versions: history, no loop
    first = [str(aid) for aid, ref in inputs if ref.version is None and aid != asset_id]
    if not first:
        return
    me = str(asset_id)
    refers: dict[str, set[str]] = {}
    frontier = {int(a) for a in first} - {asset_id}
    seen = set(frontier)
    v_in = aliased(V)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        live = (V.c.number == A.c.latest_version) | V.c.id.in_(select(L.c.version_id).where(L.c.asset_id.in_(frontier)))
        rows = s.execute(
            select(V.c.asset_id, v_in.c.asset_id, VI.c.ref)
            .join(V, V.c.id == VI.c.version_id)
            .join(A, A.c.id == V.c.asset_id)
            .join(v_in, v_in.c.id == VI.c.input_version_id)
            .where(V.c.asset_id.in_(frontier), live)
        ).all()
        nxt: set[int] = set()
        for src, dst, ref in rows:
            if ":" in ref:  # exact: never moves
                continue
            refers.setdefault(str(src), set()).add(str(dst))
            if dst not in seen and dst != asset_id:
                seen.add(dst)
                nxt.add(dst)
        frontier = nxt
    path = find_cycle(me, first, refers)
    if path is None:
        return
    ids = {int(p) for p in path}
    names = {str(i): f"{k}/{n}" for i, k, n in s.execute(select(A.c.id, A.c.kind, A.c.name).where(A.c.id.in_(ids)))}
    names[me] = asset
    raise cycle_error([names.get(p, p) for p in path])
