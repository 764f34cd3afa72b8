"""Real text for the vector benchmarks: sentences of Python's standard library (docstrings,
comments and prose in its sources) and of the installed packages and the licence texts in
/usr/share/common-licenses,
embedded once with the shipped MiniLM and cached under /tmp for reruns.

    .venv/bin/python benchmarks/_corpus.py [N]     # prepare (embeds; ~200 texts/s on 2 cores)
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("RIPPLE_BENCH_CACHE", "/tmp/ripple-bench"))
LICENSES = Path("/usr/share/common-licenses")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def _sources() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts and "test" not in p.parts)
    # the installed packages' docstrings (SQLAlchemy, numpy, pydantic ...) for more varied prose
    purelib = Path(sysconfig.get_paths()["purelib"])
    files += sorted(p for p in purelib.rglob("*.py") if "tests" not in p.parts and "test" not in p.parts)
    if LICENSES.is_dir():
        files += sorted(p for p in LICENSES.iterdir() if p.is_file())
    return files


def sentences(limit: int) -> list[str]:
    """Up to ``limit`` distinct sentences of 6-60 words, in a fixed order."""
    seen: set[str] = set()
    out: list[str] = []
    for path in _sources():
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        # prose lives in comments, docstrings and licences: drop code-looking lines
        lines = [ln.strip().lstrip("#").strip() for ln in text.splitlines()]
        prose = " ".join(ln for ln in lines if ln and len(_WORD.findall(ln)) >= 0.6 * max(1, len(ln.split())))
        for raw in re.split(r"(?<=[.!?])\s+", prose):
            words = raw.split()
            if not 6 <= len(words) <= 60:
                continue
            sentence = " ".join(words)
            if sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
                if len(out) >= limit:
                    return out
    return out


def embedded(n: int) -> tuple[list[str], np.ndarray]:
    """``n`` sentences and their MiniLM vectors (n, 384), from the cache when present.

    The cache keeps the texts with the vectors: installing a package changes what
    :func:`sentences` finds, and a rerun must measure the same set.
    """
    path = CACHE / f"minilm-{n}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return [str(t) for t in saved["texts"]], saved["vectors"]
    texts = sentences(n)
    from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder

    CACHE.mkdir(parents=True, exist_ok=True)
    embedder = OnnxMiniLMEmbedder()
    parts = []
    started = time.perf_counter()
    for start in range(0, len(texts), 2048):
        parts.append(embedder.embed(texts[start : start + 2048], batch_size=64))
        done = start + len(parts[-1])
        print(f"  embedded {done}/{len(texts)} ({done / (time.perf_counter() - started):.0f} texts/s)", flush=True)
    vectors = np.concatenate(parts).astype(np.float32)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, texts=np.array(texts), vectors=vectors)
    tmp.replace(path)
    return texts, vectors


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
    print(f"{len(sentences(count))} sentences available")
    embedded(count)
