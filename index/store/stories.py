"""Stage: article text -> MinHash signature; signature x recent signatures -> the story it joins.
Side effects: none.

Two outlets running the same agency copy, or one outlet re-publishing its own story under a new
link, produce near-identical text. We estimate the Jaccard similarity of their word-bigram shingle
sets with MinHash (datasketch) and join the first article's story above a threshold. Candidates
come from locality-sensitive hashing: the signature is cut into 21 bands of 3 values; articles
that share a band are compared (a pair at similarity 0.5 shares one with probability 0.94, a
pair at 0.05 with 0.003), so matching never scans every recent article.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

from index.text import words as _words

BANDS, ROWS = 21, 3  # LSH: articles sharing any band of 3 hash values become candidates
NUM_PERM = BANDS * ROWS


def shingles(text: str) -> set[bytes]:
    """Word bigrams (unigrams for one-word texts), case- and accent-folded."""
    words = _words(text)
    if len(words) < 2:
        return {w.encode() for w in words}
    return {f"{a} {b}".encode() for a, b in zip(words, words[1:], strict=False)}


def signature(title: str, text: str) -> np.ndarray:
    """The MinHash signature of an article's title and text (uint64, NUM_PERM values)."""
    sig = MinHash(num_perm=NUM_PERM, seed=1)
    sig.update_batch(list(shingles(f"{title}\n{text}")))
    return np.asarray(sig.hashvalues, dtype=np.uint64)


def to_blob(sig: np.ndarray) -> bytes:
    return sig.astype(np.uint64).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint64)


def best_match(sig: np.ndarray, candidates: np.ndarray) -> tuple[int, float]:
    """Index and estimated Jaccard similarity of the closest candidate row; (-1, 0.0) if none."""
    if len(candidates) == 0:
        return -1, 0.0
    sims = (candidates == sig[None, :]).mean(axis=1)
    best = int(np.argmax(sims))
    return best, float(sims[best])


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def band_hashes(sig: np.ndarray) -> list[tuple[int, int]]:
    """(band, hash) pairs of a signature, the hashes as signed 64-bit integers for SQLite."""
    bands = sig.astype(np.uint64).reshape(BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = np.bitwise_xor.reduce(bands * _MIX[None, :], axis=1)
    return [(band, int(h)) for band, h in enumerate(mixed.view(np.int64))]
