"""``impact`` and ``stale`` over a project of ~10,000 versions (target < 100 ms).

A realistic shape, repeated per group: a dataset (10 versions), an embedder (5), two indexes
over them (10 each, built from ``dataset/dG`` and ``embedder/eG`` as written), three prompts
(5 each), two apps (10 each) over ``index@production`` and the prompts, a suite (5) over the
dataset with the apps as targets, and a deployment (3); one shared model. In half the groups
the embedder's newest version came after the newest index, so those chains are stale.

Rows go straight into the store (bulk Core inserts); then impact and stale run through the
service: cold (the graph loaded from the database) and warm (the cached graph, after a cheap
generation check). Usage: ``python benchmarks/ripple_graph.py [POSTGRES_URL]``.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from _common import fresh_home, report, timed
from sqlalchemy import insert, select

from rippleops.domain.access import Principal
from rippleops.domain.indexes import CODE_VERSION
from rippleops.services import Services
from rippleops.store.models import Asset, Label, Version, VersionInput
from rippleops.store.models.base import utcnow

GROUPS = 128  # x 78 versions + 1 = 9,985 versions


def populate(svc: Services) -> int:
    now = utcnow()
    assets: list[dict[str, Any]] = []
    versions: list[tuple[str, int, dict[str, Any] | None, dict[str, Any]]] = []  # asset, number, recipe, content
    edges: list[tuple[str, int, str, str, int, str]] = []  # asset, number, ref, input asset, input number, role
    labels: list[tuple[str, str, int]] = []

    def asset(kind: str, name: str, latest: int) -> str:
        assets.append({"project_id": 1, "kind": kind, "name": name, "description": "", "tags": [],
                       "latest_version": latest, "created_at": now, "created_by": "bench", "updated_at": now})  # fmt: skip
        return f"{kind}/{name}"

    model = asset("model", "m", 1)
    versions.append((model, 1, None, {"provider": "local"}))
    labels.append((model, "production", 1))
    for g in range(GROUPS):
        stale = g % 2 == 0
        ds, emb = asset("dataset", f"d{g}", 10), asset("embedder", f"e{g}", 5)
        versions += [(ds, n, None, {"rows": n}) for n in range(1, 11)]
        versions += [(emb, n, None, {"provider": "minilm", "n": n}) for n in range(1, 6 if not stale else 5)]
        idx = [asset("index", f"i{g}-{k}", 10) for k in range(2)]
        for i in idx:
            for n in range(1, 11):
                versions.append((i, n, {"code_version": CODE_VERSION, "chunking": {"size": 800}}, {"n": n}))
                edges.append((i, n, ds, ds, n, "dataset"))
                edges.append((i, n, emb, emb, min(n // 2 + 1, 4 if stale else 5), "embedder"))
            labels.append((i, "production", 10))
        if stale:  # the embedder's newest version came after the indexes were built
            versions.append((emb, 5, None, {"provider": "minilm", "n": 5}))
        prompts = [asset("prompt", f"p{g}-{k}", 5) for k in range(3)]
        versions += [(p, n, None, {"template": f"{p} {n}"}) for p in prompts for n in range(1, 6)]
        apps = [asset("app", f"a{g}-{k}", 10) for k in range(2)]
        for k, a in enumerate(apps):
            for n in range(1, 11):
                versions.append((a, n, {"pins": {}}, {"n": n}))
                edges.append((a, n, f"{idx[k]}@production", idx[k], 10, "retrieve"))
                edges.append((a, n, prompts[k], prompts[k], 5, "render"))
                edges.append((a, n, f"{model}@production", model, 1, "generate"))
            labels.append((a, "production", 9))
        suite = asset("suite", f"s{g}", 5)
        for n in range(1, 6):
            versions.append((suite, n, {"pins": {}}, {"targets": apps}))
            edges.append((suite, n, ds, ds, 10, "dataset"))
        dep = asset("deployment", f"a{g}-0-production", 3)
        for n in range(1, 4):
            versions.append((dep, n, None, {"app": f"{apps[0]}:{6 + n}", "env": "production", "target": "k8s"}))
            edges.append((dep, n, f"{apps[0]}:{6 + n}", apps[0], 6 + n, "app"))
    with svc.db.engine.begin() as conn:
        conn.execute(insert(Asset), assets)
        ids = {f"{k}/{n}": i for i, k, n in conn.execute(select(Asset.id, Asset.kind, Asset.name))}
        rows = [{"asset_id": ids[a], "number": n, "hash": f"h-{a}-{n}", "content": c, "recipe": r, "message": "",
                 "tags": [], "created_at": now, "created_by": "bench"} for a, n, r, c in versions]  # fmt: skip
        conn.execute(insert(Version), rows)
        vid = {(f"{k}/{nm}", num): i for i, k, nm, num in
               conn.execute(select(Version.id, Asset.kind, Asset.name, Version.number).join(Asset))}  # fmt: skip
        conn.execute(
            insert(VersionInput),
            [{"version_id": vid[(a, n)], "input_version_id": vid[(ia, inum)], "ref": ref,
              "input_hash": f"h-{ia}-{inum}", "role": role} for a, n, ref, ia, inum, role in edges],
        )  # fmt: skip
        conn.execute(
            insert(Label),
            [{"asset_id": ids[a], "name": lb, "version_id": vid[(a, n)], "version_number": n, "updated_at": now,
              "updated_by": "bench"} for a, lb, n in labels],
        )  # fmt: skip
    return len(versions)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    settings = fresh_home(url)
    svc = Services(settings)
    who: Principal = svc.access.authenticate(settings.token_file.read_text().strip())
    n = populate(svc)
    backend = "PostgreSQL" if url else "SQLite"
    print(f"{backend}: {n} versions")
    rnd = random.Random(7)

    def impact() -> object:
        return svc.ripple.impact(who, "default", f"embedder/e{rnd.randrange(0, GROUPS, 2)}:5")

    def stale() -> object:
        return svc.ripple.stale(who, "default")

    def from_disk(fn: Any) -> Any:  # a new process: nothing in memory, the graph cache file on disk
        def run() -> object:
            svc.ripple.graphs._cache.clear()
            return fn()

        return run

    def cold(fn: Any) -> Any:  # nothing cached anywhere: the graph loaded from the database
        def run() -> object:
            svc.ripple.graphs._cache.clear()
            for f in settings.home_path.joinpath("cache").glob("graph-*.json"):
                f.unlink()
            return fn()

        return run

    start = time.perf_counter()
    plan: Any = cold(impact)()
    print(f"first impact (cold): {(time.perf_counter() - start) * 1000:.1f} ms, {len(plan.steps)} steps")
    rep: Any = stale()
    print(f"stale: {len(rep.items)} stale live versions of {rep.checked}")
    report("impact, warm (graph in memory)", timed(impact, 200, warmup=10), "ms", "< 100 ms")
    report("stale, warm (graph in memory)", timed(stale, 50, warmup=3), "ms", "< 100 ms")
    report("impact, new process (graph from disk)", timed(from_disk(impact), 20, warmup=2), "ms", "< 100 ms")
    report("stale, new process (graph from disk)", timed(from_disk(stale), 20, warmup=2), "ms", "< 100 ms")
    report("impact, cold (graph from the database)", timed(cold(impact), 20, warmup=2), "ms", "< 100 ms")
    report("stale, cold (graph from the database)", timed(cold(stale), 20, warmup=2), "ms", "< 100 ms")
    svc.close()


if __name__ == "__main__":
    main()
