"""Stage: article text -> MinHash signature; signature x recent signatures -> the story it joins.
Side effects: none.

Two outlets running the same agency copy, or one outlet re-publishing its own story under a new
link, produce near-identical text. We estimate the Jaccard similarity of their word-bigram shingle
sets with MinHash (datasketch) and join the first article's story above a threshold.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from datasketch import MinHash

NUM_PERM = 64
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))


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
