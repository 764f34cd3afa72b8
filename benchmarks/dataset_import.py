"""Importing a generated ~200 MB CSV as a dataset, embedded on SQLite: rows/s and MB/s of
reading + writing Parquet + storing, of the quality report, and of the whole import; peak
memory (RSS high-water mark, anonymous memory sampled as it runs, Arrow's allocations);
the no-op re-import; and the PII scan's share of the quality report.

    python benchmarks/dataset_import.py [ROWS]        # default 2,300,000 rows, ~200 MB
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from _common import fresh_home

from rippleops.domain.datasets import ImportSource, file_uri
from rippleops.runtime.analyzers.quality import quality_report
from rippleops.services import Services

MB = 1e6


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Probe:
    """A reporter that times the phases and samples memory at every progress call."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.quality_started: float | None = None
        self.anon_peak_kb = 0
        self.arrow_peak = 0
        self.calls = 0

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self.calls += 1
        if message.startswith("quality") and self.quality_started is None:
            self.quality_started = time.perf_counter()
        self.anon_peak_kb = max(self.anon_peak_kb, status_kb("RssAnon"))
        self.arrow_peak = max(self.arrow_peak, pa.total_allocated_bytes())

    def log(self, message: str, level: str = "info") -> None:
        return None

    def cancelled(self) -> bool:
        return False


def write_csv(path: Path, rows: int) -> None:
    cities = ["Zürich", "Genève", "Lisboa", "Kraków", "Osaka", "Lagos", "Lima", "Oslo"]
    with path.open("w") as f:
        f.write("id,customer,city,amount,score,note\n")
        for i in range(rows):
            f.write(f"{i},customer-{i:09d},{cities[i % 8]},{i % 9973 * 0.37:.2f},{(i * 7919) % 1000 / 7:.6f},"
                    f"order {i % 5003} shipped on day {i % 365}\n")  # fmt: skip


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_300_000
    settings = fresh_home()
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    services.datasets.create_from_table(admin, "default", "warm-up", pa.table({"x": ["a"]}), provenance={})
    folder = Path(tempfile.mkdtemp(prefix="ripple-bench-csv-"))
    path = folder / "orders.csv"
    write_csv(path, rows)
    size = path.stat().st_size
    print(f"CSV: {rows:,} rows, {size / MB:.0f} MB; RSS before the import {status_kb('VmRSS') / 1e3:.0f} MB")

    probe = Probe()
    source = ImportSource(path, "csv", file_uri(path))
    t0 = time.perf_counter()
    record = services.datasets.import_file(admin, "default", "orders", source, key="id", pii=False, reporter=probe)
    total = time.perf_counter() - t0
    read = (probe.quality_started or time.perf_counter()) - t0
    quality = total - read
    print(
        f"read CSV + write Parquet + key check + hash: {rows / read:10,.0f} rows/s  {size / MB / read:7.1f} MB/s  ({read:.1f} s)"
    )
    print(
        f"quality report (no PII scan):                {rows / quality:10,.0f} rows/s  {size / MB / quality:7.1f} MB/s  ({quality:.1f} s)"
    )
    print(
        f"whole import:                                {rows / total:10,.0f} rows/s  {size / MB / total:7.1f} MB/s  ({total:.1f} s)"
    )
    print(f"Parquet blob: {record.content['bytes'] / MB:.0f} MB; progress calls: {probe.calls}")
    print(
        f"peak RSS (high-water mark, incl. the memory-mapped CSV pages): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB"
    )
    print(f"peak anonymous RSS sampled while importing:                    {probe.anon_peak_kb / 1e3:.0f} MB")
    print(f"peak Arrow allocations sampled while importing:                {probe.arrow_peak / MB:.0f} MB")

    t0 = time.perf_counter()
    again = services.datasets.import_file(admin, "default", "orders", source, key="id", pii=False)
    dt = time.perf_counter() - t0
    assert again.created is False
    print(f"re-import of identical data (no-op, read + hash only):  {rows / dt:10,.0f} rows/s  ({dt:.1f} s)")

    sample = pa.table(
        {"text": [f"Order {i} for customer-{i:09d} was shipped to the Lisboa depot" for i in range(20_000)]}
    )
    for pii in (False, True):
        t0 = time.perf_counter()
        quality_report(sample.to_batches(8192), pii=pii)
        dt = time.perf_counter() - t0
        print(f"quality report of a 60-character text column, pii={pii!s:<5}: {20_000 / dt:10,.0f} rows/s")
    services.close()


if __name__ == "__main__":
    main()
