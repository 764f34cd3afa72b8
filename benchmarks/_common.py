"""Helpers for the benchmark scripts: a fresh home, percentiles."""

from __future__ import annotations

import atexit
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from rippleops.services import initialise
from rippleops.settings import Settings, get_settings


def fresh_home(database_url: str | None = None) -> Settings:
    """An initialised home in a temp folder: SQLite, or a fresh schema in the PostgreSQL
    database given (dropped at exit)."""
    home = Path(tempfile.mkdtemp(prefix="ripple-bench-"))
    os.environ["RIPPLE_HOME"] = str(home)
    if database_url:
        os.environ["RIPPLE_DATABASE_URL"] = _fresh_schema(database_url)
    get_settings.cache_clear()
    settings = get_settings()
    initialise(settings, "bench")
    return settings


def _fresh_schema(url: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    atexit.register(drop)
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def timed(fn: Callable[[], object], n: int, warmup: int = 50) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def report(name: str, samples: list[float], unit: str = "us", target: str = "") -> None:
    scale = {"us": 1e6, "ms": 1e3}[unit]
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))] * scale  # noqa: E731
    line = f"{name:<48} p50 {p(0.5):8.1f} {unit}   p95 {p(0.95):8.1f} {unit}   mean {statistics.mean(s) * scale:8.1f} {unit}"
    print(line + (f"   (target {target})" if target else ""))
