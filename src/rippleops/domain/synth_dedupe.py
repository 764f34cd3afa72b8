"""Duplicates among generated rows and the rows that exist already: exact after
normalisation (:func:`~rippleops.domain.synth_output.normalise`), and near, by MinHash LSH
(``datasketch``) over character 5-grams, which suit short texts such as questions better
than word shingles do. Deterministic: MinHash permutations come from a fixed seed.

>>> d = Deduper(near_threshold=0.8)
>>> d.add_existing("What is a label in Ripple?")
>>> d.check("what is a label in ripple")
('duplicate_existing', 'the same text as an existing row')
>>> d.check("What is a version in Ripple?") is None
True
"""

from __future__ import annotations

import hashlib
from typing import Any

from rippleops.domain.synth import DUPLICATE, DUPLICATE_EXISTING, NEAR_DUPLICATE
from rippleops.domain.synth_output import normalise
from rippleops.errors import InvalidError

NUM_PERM = 64
SHINGLE_CHARS = 5
MINHASH_SEED = 1


def shingles(norm: str, k: int = SHINGLE_CHARS) -> set[bytes]:
    """Character k-grams of a normalised text (the whole text when it is shorter)."""
    data = norm.encode()
    if len(norm) <= k:
        return {data}
    return {norm[i : i + k].encode() for i in range(len(norm) - k + 1)}


class Deduper:
    """Texts seen so far, existing and accepted; :meth:`check` says whether a new one is a
    duplicate of either. ``near_threshold`` None: exact duplicates only."""

    def __init__(self, near_threshold: float | None, num_perm: int = NUM_PERM) -> None:
        self.near_threshold = near_threshold
        self.num_perm = num_perm
        self._existing: set[bytes] = set()
        self._accepted: set[bytes] = set()
        self._sketches: dict[str, Any] = {}
        self._lsh: Any = None
        if near_threshold is not None:
            try:
                from datasketch import MinHashLSH  # type: ignore[import-untyped]
            except ImportError:
                raise InvalidError(
                    "near-duplicate detection needs the 'data' extra: pip install 'rippleops[data]' "
                    "(or set dedupe.near_threshold to null for exact duplicates only)"
                ) from None
            self._lsh = MinHashLSH(threshold=near_threshold, num_perm=num_perm)

    @property
    def size(self) -> int:
        return len(self._existing) + len(self._accepted)

    def _sketch(self, norm: str) -> Any:
        from datasketch import MinHash

        m = MinHash(num_perm=self.num_perm, seed=MINHASH_SEED)
        m.update_batch(sorted(shingles(norm)))
        return m

    def _remember(self, norm: str, key: bytes, existing: bool) -> None:
        (self._existing if existing else self._accepted).add(key)
        if self._lsh is not None:
            name = f"{'e' if existing else 'b'}{len(self._sketches)}"
            sketch = self._sketch(norm)
            self._sketches[name] = sketch
            self._lsh.insert(name, sketch)

    def add_existing(self, text: str) -> None:
        """A row of the source or target dataset."""
        norm = normalise(text)
        key = _key(norm)
        if norm and key not in self._existing and key not in self._accepted:
            self._remember(norm, key, existing=True)

    def add(self, text: str) -> None:
        """A row accepted in this run."""
        norm = normalise(text)
        key = _key(norm)
        if norm and key not in self._existing and key not in self._accepted:
            self._remember(norm, key, existing=False)

    def check(self, text: str) -> tuple[str, str] | None:
        """``None`` when ``text`` is new, else ``(reason, detail)``."""
        norm = normalise(text)
        if not norm:
            return None
        key = _key(norm)
        if key in self._existing:
            return DUPLICATE_EXISTING, "the same text as an existing row"
        if key in self._accepted:
            return DUPLICATE, "the same text as a row accepted in this run"
        if self._lsh is None or not self._sketches:
            return None
        sketch = self._sketch(norm)
        best: tuple[float, str] | None = None
        for name in self._lsh.query(sketch):
            score = float(sketch.jaccard(self._sketches[name]))
            if self.near_threshold is not None and score >= self.near_threshold and (best is None or score > best[0]):
                best = (score, name)
        if best is None:
            return None
        whose = "an existing row" if best[1].startswith("e") else "a row accepted in this run"
        return NEAR_DUPLICATE, f"estimated Jaccard {best[0]:.2f} with {whose}"


def _key(norm: str) -> bytes:
    return hashlib.blake2b(norm.encode(), digest_size=16).digest()
