"""Near-duplicate texts: MinHash signatures of word shingles, LSH banding, Jaccard estimates.

The signatures are datasketch's :class:`~datasketch.MinHash` ("affine32" scheme: the same
permutations and formula; a test checks they are equal), computed for many texts at once in
numpy rather than one call per text. Bands and rows per band are chosen the way datasketch's
:class:`~datasketch.MinHashLSH` chooses them (the least weighted sum of the false-positive
and false-negative areas), but with false negatives weighted 0.95 rather than 0.5 — every
candidate pair is checked against its signature estimate anyway, so a missed pair costs
more than an extra candidate; at 0.9 that gives 9 bands of 14 rows, catching a pair of true
similarity 0.9 nine times in ten (datasketch's 5 x 25 catches it three times in ten).
One band is allowed too, so thresholds up to 0.99 work. Instead of
datasketch's in-memory LSH index (about 2 KB of Python objects per text), each text keeps 8
bytes per band plus a 16-bit signature (b-bit minwise hashing, Li and König 2010: one slot
in 65,536 agrees by chance, corrected for) for the Jaccard estimate: ~340 bytes per text.
A band's hash is a multilinear hash of its slots (a sum of slot x random odd multiplier,
mod 2**64): one pass per band. Candidate pairs are found once, at the end, by sorting the
band hashes one band at a time; work is proportional to the pairs within buckets.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers._hashing import hash_binary

NUM_PERM = 128
SHINGLE_WORDS = 3
SEED = 1
#: Within one LSH bucket a text is compared with at most this many earlier texts (a bucket of
#: 10,000 templated texts stays linear, not quadratic).
MAX_BUCKET_COMPARISONS = 32
SCHEME = "affine32"
_MAX_HASH = np.uint32((1 << 32) - 1)
_NOT_WORD = re.compile(r"\W+")  # Python's \w is [\pL\pN_], what pyarrow's RE2 is given below
_NOT_WORD_RE2 = r"[^\pL\pN_]+"
_CHUNK = 16384  # shingles per numpy step: 16,384 x 128 x 4 bytes = 8 MiB
_VERIFY_CHUNK = 65536  # candidate pairs checked per numpy step: 65,536 x 2 x 256 bytes = 32 MiB


def words(text: str) -> list[str]:
    """The words of ``text`` as the signatures see them: lower-cased runs of letters, digits
    and underscores (the pure-Python twin of :func:`shingle_hashes`, for tests and docs)."""
    return [w for w in _NOT_WORD.split(text.lower()) if w]


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[tuple[str, ...]]:
    """The word k-grams of ``text``; a text of fewer than k words is one shingle."""
    w = words(text)
    if len(w) < k:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}


def shingle_hashes(texts: pa.Array, k: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """32-bit hashes of every word k-gram of every text, computed by pyarrow and numpy.

    Returns ``(hashes, starts, kept)``: the shingle hashes of text ``kept[i]`` are
    ``hashes[starts[i]:starts[i + 1]]``; texts without a word are not in ``kept``. A word
    hashes as the 64-bit hash of its UTF-8 (:func:`~._hashing.hash_binary`, each distinct
    word once per batch); a shingle mixes its words' hashes in order.
    """
    spaced, n_words = _words(texts)
    kept = np.flatnonzero(n_words)
    hashes, starts = _shingle_hashes(spaced.take(pa.array(kept, pa.int64())), n_words[kept], k)
    return hashes, starts, kept


def _words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The texts' words (lower-cased, joined by single spaces) and the number of words of each."""
    lowered = pc.utf8_lower(texts)
    spaced = pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, _NOT_WORD_RE2, " "))
    n_words = np.asarray(pc.fill_null(pc.count_substring(spaced, " "), 0), dtype=np.int64) + 1
    n_words[np.asarray(pc.fill_null(pc.equal(pc.utf8_length(spaced), 0), True))] = 0
    return spaced, n_words


def _shingle_hashes(spaced: pa.Array, n_words: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of texts that have words (as :func:`_words` gives them), and where
    each text's start."""
    flat = pc.list_flatten(pc.split_pattern(spaced, " "))
    encoded = pc.dictionary_encode(flat)
    vocabulary = hash_binary(encoded.dictionary)
    h = vocabulary[np.asarray(encoded.indices, dtype=np.int64)] if len(flat) else np.zeros(0, dtype=np.uint64)
    word_starts = np.concatenate([[0], np.cumsum(n_words)])[:-1]
    per_text = np.where(n_words >= k, n_words - k + 1, 1)
    total = int(per_text.sum())
    starts = np.concatenate([[0], np.cumsum(per_text)])[:-1].astype(np.int64)
    owner = np.repeat(np.arange(n_words.size), per_text)
    first_word = word_starts[owner] + (np.arange(total) - starts[owner])
    length = np.minimum(n_words, k)[owner]
    value = np.full(total, 0xCBF29CE484222325, dtype=np.uint64)  # FNV-1a over the word hashes
    with np.errstate(over="ignore"):
        for j in range(k):
            w = np.where(j < length, h[np.minimum(first_word + j, max(h.size - 1, 0))], 0) if total else value
            value = (value ^ w.astype(np.uint64)) * np.uint64(0x100000001B3)
        value ^= value >> np.uint64(32)
    return (value & np.uint64(0xFFFFFFFF)).astype(np.uint32), starts


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, which datasketch applies to each input hash first."""
    h = h.astype(np.uint32, copy=True)
    with np.errstate(over="ignore"):
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


@functools.cache
def lsh_bands(threshold: float, num_perm: int, false_negative_weight: float = 0.95) -> tuple[int, int]:
    """(bands, rows per band) minimising the weighted false-positive area below ``threshold``
    plus the false-negative area above it, as datasketch does (on a fixed 2,001-point grid)."""
    s = np.linspace(0.0, 1.0, 2001)
    below, above = s <= threshold, s >= threshold
    best, best_error = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1 - (1 - s**r) ** b  # probability that a pair of similarity s shares a band
            fp = np.trapezoid(p[below], s[below])
            fn = np.trapezoid(1 - p[above], s[above])
            error = (1 - false_negative_weight) * fp + false_negative_weight * fn
            if error < best_error:
                best, best_error = (b, r), float(error)
    return best


@dataclass
class NearDuplicateFinder:
    """Collects texts (by row number) and finds pairs with estimated Jaccard >= threshold.

    A text of one shingle (three words or fewer) can only reach a threshold above 0.5 with
    a text of that same single shingle, that is the same words: such texts skip MinHash and
    are paired exactly, by a 64-bit hash of their words (Jaccard 1.0). Memory per text: 8
    bytes of row number, then 8 bytes of that hash, or 8 bytes per band plus the 16-bit
    signature."""

    threshold: float
    num_perm: int = NUM_PERM
    rows: list[np.ndarray] = field(default_factory=list)
    bands: list[np.ndarray] = field(default_factory=list)
    signatures: list[np.ndarray] = field(default_factory=list)
    single_rows: list[np.ndarray] = field(default_factory=list)
    single_keys: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            from datasketch import MinHash  # type: ignore[import-untyped]
        except ImportError as exc:
            raise InvalidError(
                "near-duplicate detection needs the 'data' extra: pip install 'rippleops[data]'",
                details={"missing": exc.name},
            ) from exc

        self.b, self.r = lsh_bands(self.threshold, self.num_perm)
        a, b = MinHash(num_perm=self.num_perm, seed=SEED, scheme=SCHEME).permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)
        # a band's hash: sum of its (r) slots times odd random 64-bit multipliers (multilinear hashing)
        rng = np.random.default_rng(SEED)
        self._band_mult = rng.integers(0, 2**63, size=(self.b, self.r), dtype=np.uint64) * np.uint64(2) + np.uint64(1)

    def signatures_of(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """MinHash signatures (n x num_perm, uint32) of the texts that have words, and the
        positions of those texts in ``texts``."""
        hashes, starts, kept = shingle_hashes(texts)
        return self._signatures(hashes, starts, kept.size), kept

    def _signatures(self, hashes: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
        """Shingles are permuted in slices of ``_CHUNK``, whatever the texts' lengths, so
        memory stays flat."""
        sig = np.full((n, self.num_perm), _MAX_HASH, dtype=np.uint32)
        for s0 in range(0, hashes.size, _CHUNK):
            s1 = min(hashes.size, s0 + _CHUNK)
            t0 = int(np.searchsorted(starts, s0, side="right")) - 1  # texts overlapping [s0, s1)
            t1 = int(np.searchsorted(starts, s1 - 1, side="right"))
            segments = np.maximum(starts[t0:t1], s0) - s0
            mins = np.minimum.reduceat(self._permute(hashes[s0:s1]), segments, axis=1)
            sig[t0:t1] = np.minimum(sig[t0:t1], mins.T)
        return sig

    def _permute(self, hv: np.ndarray) -> np.ndarray:
        """Every permutation of every hash, one row per permutation (``num_perm`` x n): this
        layout keeps numpy's inner loops long, ~4x faster than n x ``num_perm``."""
        with np.errstate(over="ignore"):  # a * h + b wraps at 2**32: that is the modulo
            permuted: np.ndarray = self._a[:, None] * _fmix32(hv)[None, :] + self._b[:, None]
        return permuted

    def add(self, rows: np.ndarray, texts: pa.Array) -> None:
        """Add ``texts`` (a pyarrow string array) found at row numbers ``rows``."""
        spaced, n_words = _words(texts)
        short = (n_words > 0) & (n_words <= SHINGLE_WORDS) if self.threshold > 0.5 else np.zeros(n_words.size, bool)
        if short.any():
            self.single_rows.append(rows[short])
            self.single_keys.append(hash_binary(spaced.filter(pa.array(short))))
        many = np.flatnonzero((n_words > 0) & ~short)
        if many.size == 0:
            return
        hashes, starts = _shingle_hashes(spaced.take(pa.array(many, pa.int64())), n_words[many], SHINGLE_WORDS)
        sigs = self._signatures(hashes, starts, many.size)
        self.rows.append(rows[many])
        self.signatures.append((sigs & np.uint64(0xFFFF)).astype(np.uint16))
        band_hashes = np.empty((many.size, self.b), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for band in range(self.b):
                slots = sigs[:, band * self.r : (band + 1) * self.r].astype(np.uint64)
                band_hashes[:, band] = (slots * self._band_mult[band]).sum(axis=1, dtype=np.uint64)
        self.bands.append(band_hashes)

    def pairs(self) -> list[tuple[int, int, float]]:
        """Every (earlier row, later row, estimated Jaccard) at or above the threshold,
        sorted by the later row, then the earlier one."""
        out = self._single_pairs() + self._minhash_pairs()
        return sorted(out, key=lambda p: (p[1], p[0]))

    def _single_pairs(self) -> list[tuple[int, int, float]]:
        if not self.single_rows:
            return []
        rows, keys = np.concatenate(self.single_rows), np.concatenate(self.single_keys)
        order = np.lexsort((rows, keys))
        earlier, later = _bucket_pairs(keys[order])
        return [(a, b, 1.0) for a, b in zip(rows[order[earlier]].tolist(), rows[order[later]].tolist(), strict=True)]

    def _all_signatures(self, n: int) -> np.ndarray:
        """The signatures as one array, built part by part so memory never holds two copies."""
        if len(self.signatures) == 1:
            return self.signatures[0]
        out = np.empty((n, self.num_perm), dtype=np.uint16)
        pos = 0
        while self.signatures:
            part = self.signatures.pop(0)
            out[pos : pos + part.shape[0]] = part
            pos += part.shape[0]
        self.signatures.append(out)
        return out

    def _minhash_pairs(self) -> list[tuple[int, int, float]]:
        if not self.rows:
            return []
        rows = np.concatenate(self.rows)
        n = rows.size
        found: list[np.ndarray] = []
        for band in range(self.b):  # one band's column at a time: 8 bytes per text
            column = np.concatenate([part[:, band] for part in self.bands])
            order = np.argsort(column, kind="stable")  # stable: positions ascend in a bucket
            earlier, later = _bucket_pairs(column[order])
            found.append(order[earlier] * np.int64(n) + order[later])
        if not found:
            return []
        codes = np.unique(np.concatenate(found))
        first, second = codes // n, codes % n
        sigs = self._all_signatures(n)
        agree = np.empty(codes.size, dtype=np.float64)
        for c0 in range(0, codes.size, _VERIFY_CHUNK):  # slices: two gathered signatures per pair
            c1 = c0 + _VERIFY_CHUNK
            agree[c0:c1] = (sigs[first[c0:c1]] == sigs[second[c0:c1]]).mean(axis=1)
        chance = 1 / 65536
        jaccard = np.clip((agree - chance) / (1 - chance), 0.0, 1.0)
        keep = jaccard >= self.threshold
        return [
            (int(rows[i]), int(rows[j]), round(float(jac), 4))
            for i, j, jac in zip(first[keep].tolist(), second[keep].tolist(), jaccard[keep].tolist(), strict=True)
        ]


def _bucket_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (earlier, later) within runs of equal ``keys`` (sorted): each element with
    each of the up to :data:`MAX_BUCKET_COMPARISONS` elements before it in its run. Work is
    proportional to the pairs, not to the number of keys times the limit."""
    if keys.size < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, keys.size])
    multi = sizes > 1
    if not multi.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts, sizes = starts[multi], sizes[multi]
    # every element of a run but its first, with its rank in the run
    later = np.repeat(starts, sizes - 1) + _ranks(sizes - 1) + 1
    rank = later - np.repeat(starts, sizes - 1)
    back = np.minimum(rank, MAX_BUCKET_COMPARISONS)
    pair_later = np.repeat(later, back)
    pair_earlier = pair_later - (_ranks(back) + 1)
    return pair_earlier, pair_later


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for each count c, concatenated."""
    total = int(counts.sum())
    ranks: np.ndarray = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return ranks
