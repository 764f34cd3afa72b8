"""The ripple engine's graph: versions, lineage edges as written, labels; what is stale.

Pure: built from plain rows (no I/O), so that impact and stale over a whole project are a
few dictionary walks. A version is *directly stale* when an input reference it wrote (not an
exact ``:N`` one) now resolves to a version with another hash, or when its recipe's code
version differs from the builder's current one; *transitively stale* when an input version
is stale. A deployment is stale when its environment's label on the app has moved away from
the app version it runs. Early cutoff falls out of hashes: a rebuild that produced the same
content hash is the same version, so its dependents still match.

>>> g = Graph(
...     [VersionRow(1, "embedder", "m", 1, "h1"), VersionRow(2, "embedder", "m", 2, "h2"),
...      VersionRow(3, "index", "d", 1, "h3", has_recipe=True)],
...     [EdgeRow(3, 1, "embedder/m", "h1", "embedder")], labels={})
>>> [r.ref for r in g.stale().items]
['index/d:1']
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rippleops.domain.records import StaleReason, StaleRecord, StaleReport
from rippleops.domain.refs import Ref, parse_ref
from rippleops.errors import InvalidError

REBUILD, REEVALUATE, REDEPLOY, REVIEW = "rebuild", "re-evaluate", "redeploy", "review"
DEPLOYMENT = "deployment"


@dataclass(slots=True)
class VersionRow:
    id: int
    kind: str
    name: str
    number: int
    hash: str
    has_recipe: bool = False
    code_version: str | None = None  # the recipe's code version, when it records one
    env: str | None = None  # deployments: the environment (= the app label it serves)
    asset: str = field(init=False)  # kind/name, looked up often

    def __post_init__(self) -> None:
        self.asset = f"{self.kind}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}:{self.number}"


@dataclass(slots=True)
class EdgeRow:
    version_id: int
    input_version_id: int
    ref: str  # as written: embedder/minilm@production
    input_hash: str  # the input's hash when the version was made
    role: str = "input"


@dataclass(slots=True)
class _Asset:
    latest: int = 0
    numbers: dict[int, int] = field(default_factory=dict)  # number -> version id
    labels: dict[str, int] = field(default_factory=dict)  # label -> number


@lru_cache(maxsize=65536)
def parse_written(ref: str) -> Ref:
    """A reference as written on an edge (refs are few and repeat: parse each once)."""
    return parse_ref(ref)


class Graph:
    """A project's version graph. ``labels``: asset (``kind/name``) -> {label: number};
    ``latest`` defaults to each asset's highest number; ``suites``: target asset -> the
    suite assets that evaluate it; ``code_versions``: kind -> its builder's code version."""

    def __init__(
        self,
        versions: Iterable[VersionRow],
        edges: Iterable[EdgeRow],
        labels: Mapping[str, Mapping[str, int]],
        *,
        latest: Mapping[str, int] | None = None,
        suites: Mapping[str, Iterable[str]] | None = None,
        code_versions: Mapping[str, str] | None = None,
    ) -> None:
        self.versions: dict[int, VersionRow] = {}
        self.assets: dict[str, _Asset] = {}
        for v in versions:
            self.versions[v.id] = v
            a = self.assets.setdefault(v.asset, _Asset())
            a.numbers[v.number] = v.id
            a.latest = max(a.latest, v.number)
        for name, n in (latest or {}).items():
            if name in self.assets:
                self.assets[name].latest = n
        for name, lbs in labels.items():
            if name in self.assets:
                self.assets[name].labels = dict(lbs)
        self.inputs: dict[int, list[EdgeRow]] = {}
        self.by_input_asset: dict[str, list[EdgeRow]] = {}  # edges whose input is a version of the asset
        self.dependents: dict[int, list[EdgeRow]] = {}  # input version id -> edges from its dependents
        versions_ = self.versions
        for e in edges:
            was = versions_.get(e.input_version_id)
            if was is None or e.version_id not in versions_ or was.asset == versions_[e.version_id].asset:
                continue  # an edge to the asset's own older version is history: nothing to re-resolve
            self.inputs.setdefault(e.version_id, []).append(e)
            self.by_input_asset.setdefault(was.asset, []).append(e)
            self.dependents.setdefault(e.input_version_id, []).append(e)
        self.suites = {k: sorted(set(v)) for k, v in (suites or {}).items()}
        self.code_versions = dict(code_versions or {})
        self._stale: dict[int, list[_Raw]] | None = None  # computed once per graph
        self._transitive: set[int] = set()
        self._reports: dict[tuple[bool, str | None], StaleReport] = {}
        self._resolved: dict[str, tuple[bool, VersionRow | None]] = {}
        self.deployments: dict[str, list[int]] = {}  # app asset -> live deployment versions
        for vid, v in self.versions.items():
            if v.kind == DEPLOYMENT and self.is_live(vid):
                app = self.deployed_app(vid)
                if app is not None:
                    self.deployments.setdefault(app.asset, []).append(vid)

    # -- lookups ------------------------------------------------------------------------------

    def resolve(self, ref: str | Ref) -> VersionRow | None:
        """The version a reference resolves to now (None: no such asset, version or label)."""
        r = parse_written(ref) if isinstance(ref, str) else ref
        a = self.assets.get(r.asset)
        if a is None:
            return None
        if r.version is not None:
            number: int | None = r.version
        elif r.label is not None:
            number = a.labels.get(r.label)
        else:
            number = a.latest
        vid = a.numbers.get(number) if number is not None else None
        return self.versions[vid] if vid is not None else None

    def _now(self, ref: str) -> tuple[bool, VersionRow | None]:
        """(exact?, what it resolves to now) of a reference as written, memoised: a graph
        never changes and the same references recur on many versions."""
        hit = self._resolved.get(ref)
        if hit is None:
            r = parse_written(ref)
            hit = self._resolved[ref] = (r.version is not None, self.resolve(r))
        return hit

    def labels_of(self, vid: int) -> list[str]:
        v = self.versions[vid]
        a = self.assets[v.asset]
        out = sorted(lb for lb, n in a.labels.items() if n == v.number)
        return [*out, "latest"] if a.latest == v.number else out

    def is_live(self, vid: int) -> bool:
        """The latest version of its asset, or one holding a label."""
        v = self.versions[vid]
        a = self.assets[v.asset]
        return a.latest == v.number or v.number in a.labels.values()

    def deployed_app(self, vid: int) -> VersionRow | None:
        for e in self.inputs.get(vid, ()):
            if e.role == "app":
                return self.versions[e.input_version_id]
        return None

    def action_of(self, vid: int) -> str:
        v = self.versions[vid]
        if v.kind == DEPLOYMENT:
            return REDEPLOY
        return REBUILD if v.has_recipe else REVIEW

    # -- stale ---------------------------------------------------------------------------------

    def direct_reasons(self, vid: int) -> list[StaleReason]:
        """Why ``vid`` no longer matches what its references resolve to now (empty: it does)."""
        return [_reason(r) for r in self._direct(vid)]

    def _direct(self, vid: int) -> list[_Raw]:
        # plain tuples: a pass over every version of a project builds thousands of them
        v = self.versions[vid]
        out: list[_Raw] = []
        if v.kind == DEPLOYMENT:
            app = self.deployed_app(vid)
            if app is not None and v.env:
                now_n = self.assets[app.asset].labels.get(v.env)
                if now_n != app.number:
                    now = self.resolve(Ref(app.kind, app.name, version=now_n)) if now_n else None
                    out.append((f"{app.asset}@{v.env}", "app", app.ref, app.hash,
                                now.ref if now else None, now.hash if now else None, False))  # fmt: skip
            return out
        for e in self.inputs.get(vid, ()):
            exact, now = self._now(e.ref)
            if exact:
                continue  # pinned exactly: never moves
            if now is None or now.hash != e.input_hash:
                was = self.versions[e.input_version_id]
                out.append((e.ref, e.role, was.ref, e.input_hash, now.ref if now else None,
                            now.hash if now else None, False))  # fmt: skip
        current = self.code_versions.get(v.kind)
        if v.code_version is not None and current is not None and v.code_version != current:
            out.append(("recipe", "recipe", v.code_version, None, current, None, False))
        return out

    def stale_reasons(self) -> dict[int, list[_Raw]]:
        """Every stale version (live or not) and why; computed once (a graph never changes)."""
        if self._stale is not None:
            return self._stale
        was = gc.isenabled()
        gc.disable()  # thousands of small tuples, no cycles: spare the collector's heap walks
        try:
            return self._compute_stale()
        finally:
            if was:
                gc.enable()

    def _compute_stale(self) -> dict[int, list[_Raw]]:
        stale: dict[int, list[_Raw]] = {}
        # inputs are older versions, so ids ascending visit inputs before their dependents
        for vid in sorted(self.versions):
            reasons = self._direct(vid)
            if not reasons:
                ups = [e for e in self.inputs.get(vid, ()) if e.input_version_id in stale]
                if ups:
                    self._transitive.add(vid)
                    reasons = [
                        (e.ref, e.role, self.versions[e.input_version_id].ref, e.input_hash, None, None, True)
                        for e in ups
                    ]
            if reasons:
                stale[vid] = reasons
        self._stale = stale
        return stale

    def stale(self, *, all: bool = False, kind: str | None = None) -> StaleReport:
        """Every stale version (live ones only unless ``all``), in version order (built once
        per question: a graph never changes)."""
        key = (all, kind)
        if key not in self._reports:
            self._reports[key] = self._stale_report(all, kind)
        return self._reports[key]

    def _stale_report(self, all: bool, kind: str | None) -> StaleReport:
        items = []
        for vid, reasons in self.stale_reasons().items():
            v = self.versions[vid]
            if (all or self.is_live(vid)) and (kind is None or v.kind == kind):
                items.append(
                    StaleRecord(
                        ref=v.ref,
                        kind=v.kind,
                        labels=self.labels_of(vid),
                        action=self.action_of(vid),
                        transitive=vid in self._transitive,
                        reasons=[_reason(r) for r in reasons],
                    )
                )
        return StaleReport(items=items, checked=len(self.versions))


#: (input as written, role, recorded, recorded hash, now, now hash, upstream stale)
_Raw = tuple[str, str, str | None, str | None, str | None, str | None, bool]


def _reason(r: _Raw) -> StaleReason:
    return StaleReason(
        input=r[0], role=r[1], recorded=r[2], recorded_hash=r[3], now=r[4], now_hash=r[5], upstream_stale=r[6]
    )


# -- cycles ------------------------------------------------------------------------------------


def find_cycle(asset: str, inputs: Iterable[str], refers: Mapping[str, Iterable[str]]) -> list[str] | None:
    """The asset path ``asset -> input -> ... -> asset`` when a new version of ``asset`` with
    these input assets would close a loop through ``refers`` (asset -> assets its live versions
    refer to by label or latest), else None. A self-reference is the shortest cycle."""
    parent: dict[str, str] = {}
    frontier = []
    for first in inputs:
        if first == asset:
            return [asset, asset]
        if first not in parent:
            parent[first] = asset
            frontier.append(first)
    while frontier:
        nxt = []
        for node in frontier:
            for dst in refers.get(node, ()):
                if dst == asset:
                    chain = [node]
                    while parent[chain[-1]] != asset:
                        chain.append(parent[chain[-1]])
                    return [asset, *reversed(chain), asset]
                if dst not in parent:
                    parent[dst] = node
                    nxt.append(dst)
        frontier = nxt
    return None


def cycle_error(path: Sequence[str]) -> InvalidError:
    loop = " -> ".join(path)
    return InvalidError(
        f"this would make a cycle: {loop}; a ripple could never settle. Refer to one of them by an "
        f"exact version (kind/name:N) or drop the reference",
        details={"cycle": list(path)},
    )
