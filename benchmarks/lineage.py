"""Resolving a reference and a 5-level lineage walk over 10,000 versions (target p50 < 5 ms).

The store holds 2,000 assets x 5 versions; chains of 6 assets link each version to the one
before, so walking from the end of a chain goes 5 levels up."""

from __future__ import annotations

import random
import sys

from _common import fresh_home, report, timed
from sqlalchemy import insert, select

from rippleops.services import Services
from rippleops.store.models import Asset, Label, Version, VersionInput
from rippleops.store.models.base import utcnow

ASSETS, VERSIONS, CHAIN = 2000, 5, 6


def populate(svc: Services) -> None:
    """Bulk rows straight into the store (the registration path is measured elsewhere)."""
    now = utcnow()
    with svc.db.engine.begin() as conn:
        conn.execute(
            insert(Asset),
            [
                {
                    "project_id": 1,
                    "kind": "prompt",
                    "name": f"p{a}",
                    "description": "",
                    "tags": [],
                    "latest_version": VERSIONS,
                    "created_at": now,
                    "created_by": "bench",
                    "updated_at": now,
                }
                for a in range(ASSETS)
            ],
        )
        ids = dict(conn.execute(select(Asset.name, Asset.id)).all())
        conn.execute(
            insert(Version),
            [
                {
                    "asset_id": ids[f"p{a}"],
                    "number": v,
                    "hash": f"sha256:{a}-{v}",
                    "content": {"a": a, "v": v},
                    "message": "",
                    "tags": [],
                    "created_at": now,
                    "created_by": "bench",
                }
                for a in range(ASSETS)
                for v in range(1, VERSIONS + 1)
            ],
        )
        vid = {(n, num): i for i, n, num in conn.execute(select(Version.id, Asset.name, Version.number).join(Asset))}
        edges = []
        for a in range(ASSETS):
            if a % CHAIN == 0:
                continue
            for v in range(1, VERSIONS + 1):
                edges.append(
                    {
                        "version_id": vid[(f"p{a}", v)],
                        "input_version_id": vid[(f"p{a - 1}", v)],
                        "ref": f"prompt/p{a - 1}:{v}",
                        "input_hash": f"sha256:{a - 1}-{v}",
                        "role": "input",
                    }
                )
        conn.execute(insert(VersionInput), edges)
        conn.execute(
            insert(Label),
            [
                {
                    "asset_id": ids[f"p{a}"],
                    "name": "production",
                    "version_id": vid[(f"p{a}", 3)],
                    "version_number": 3,
                    "updated_at": now,
                    "updated_by": "bench",
                }
                for a in range(ASSETS)
            ],
        )


def main() -> None:
    settings = fresh_home(sys.argv[1] if len(sys.argv) > 1 else None)
    svc = Services(settings)
    who = svc.access.authenticate(settings.token_file.read_text().strip())
    populate(svc)
    ends = [a for a in range(ASSETS) if a % CHAIN == CHAIN - 1]
    rnd = random.Random(1)
    report(
        "resolve prompt/pN@production (10,000 versions)",
        timed(lambda: svc.assets.get(who, "default", f"prompt/p{rnd.randrange(ASSETS)}@production"), 2000),
        "ms",
        "< 5 ms",
    )

    def walk() -> None:
        rec = svc.lineage.walk(who, "default", f"prompt/p{rnd.choice(ends)}@production", direction="up")
        assert len(rec.upstream) == CHAIN - 1 and max(n.depth for n in rec.upstream) == CHAIN - 1

    report("resolve + 5-level upstream lineage walk", timed(walk, 1000), "ms", "< 5 ms")
    svc.close()


if __name__ == "__main__":
    main()
