"""Registering prompt versions per second through the SDK, embedded (SQLite by default;
pass a PostgreSQL URL as the first argument to measure that instead).

    python benchmarks/register.py [postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import sys
import time

from _common import fresh_home

from rippleops import Client


def main() -> None:
    settings = fresh_home(sys.argv[1] if len(sys.argv) > 1 else None)
    rp = Client(settings=settings)
    n = 1000
    for i in range(20):
        rp.prompts.create("warmup", template=f"warm {i} {{{{ q }}}}")
    t = time.perf_counter()
    for i in range(n):
        rp.prompts.create("answer", template=f"Answer version {i}: {{{{ question }}}}", message=f"v{i}")
    dt = time.perf_counter() - t
    db = "PostgreSQL" if settings.database_url else "SQLite"
    print(
        f"register prompt versions, embedded {db}: {n / dt:8.0f} versions/s ({dt / n * 1e3:.2f} ms each; target > 400/s)"
    )
    t = time.perf_counter()
    for i in range(n):
        rp.prompts.create("answer", template=f"Answer version {i}: {{{{ question }}}}")
    dt = time.perf_counter() - t
    print(f"re-register identical content (no-op):   {n / dt:8.0f} calls/s")
    rp.close()


if __name__ == "__main__":
    main()
