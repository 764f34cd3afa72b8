"""Quality report speed: rows/s of quality_report on N rows (default 100,000) of generated
support tickets (~200 characters, 2% exact copies, 1% near copies, a quarter with PII), with
and without the PII scan, in batches of 8,192, plus the resident memory at the end.

    .venv/bin/python benchmarks/quality.py [N_ROWS]

Needs the data extra (pip install -e '.[data]').
"""

from __future__ import annotations

import random
import resource
import sys
import time

import pyarrow as pa
from pii import message  # benchmarks/pii.py: the same generated support messages

from rippleops.runtime.analyzers.quality import quality_report


def table(n: int) -> pa.Table:
    rng = random.Random(3)
    texts: list[str] = []
    for _ in range(n):
        r = rng.random()
        if texts and r < 0.02:
            texts.append(rng.choice(texts))  # an exact copy
        elif texts and r < 0.03:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = "changed"
            texts.append(" ".join(words))  # a near copy
        else:
            texts.append(message(rng)[0])
    labels = [rng.choice(["billing", "account", "shipping", "bug", "other"]) for _ in range(n)]
    return pa.table({"id": [f"t{i}" for i in range(n)], "text": texts, "label": labels})


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = table(n)
    batches = data.to_batches(max_chunksize=8192)
    print(f"{n} rows, {data.nbytes / 2**20:.1f} MiB in Arrow")
    quality_report(batches[:1], pii=True)  # warm-up: datasketch and presidio import once (~1 s)
    for pii in (False, True):
        start = time.perf_counter()
        report = quality_report(batches, key="id", label_column="label", pii=pii)
        took = time.perf_counter() - start
        print(
            f"quality_report pii={pii!s:<5}  {took:6.1f} s   {n / took:9.0f} rows/s   "
            f"exact {report['exact_duplicates']['count']}, near {report['near_duplicates']['count']}, "
            f"pii {sum(report['pii']['entities'].values()) if report['pii'] else '-'}"
        )
    print(f"max resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
