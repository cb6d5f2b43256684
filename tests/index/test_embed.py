"""Embedding backends: the choice per CPU, the fallbacks, the ONNX export cache, and agreement
of every backend with plain fp32 on real sentences (the real model, no stand-ins)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from index.retrieve.embed import (
    DEFAULT_MODEL,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    backend_model_id,
    choose_backend,
    load_embedder,
    onnx_model,
)

SENTENCES = [
    "Rebels shelled the outskirts of Goma on Tuesday, killing at least six civilians.",
    "Islamic State claimed the car bomb near the market in Albu Kamal.",
    "The central bank held interest rates steady amid rising inflation.",
    "Floods displaced thousands of families in the south of the country.",
    "Talks between the government and the armed groups resumed in Doha after a month-long pause "
    "that followed a wave of attacks on army positions near the border, officials said.",
    "A drone strike hit a convoy.",
    "",
]

NO_AVX512 = frozenset({"sse4_2", "avx", "avx2", "fma"})
WITH_BF16 = NO_AVX512 | {"avx512f", "avx512_bf16"}
WITH_VNNI = WITH_BF16 | {"avx512_vnni"}


@pytest.fixture(scope="module")
def onnx_embedder(model_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(DEFAULT_MODEL, cache_dir=model_cache)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.sum(a * b, axis=1)
    return result


@pytest.mark.parametrize(
    ("requested", "flags", "expected"),
    [
        ("auto", WITH_VNNI, "onnx-int8"),
        ("auto", NO_AVX512 | {"avx_vnni"}, "onnx-int8"),
        ("auto", WITH_BF16, "bf16"),
        ("auto", NO_AVX512 | {"amx_bf16"}, "bf16"),
        ("auto", NO_AVX512, "onnx-fp32"),
        ("auto", frozenset(), "onnx-fp32"),
        ("fp32", WITH_VNNI, "fp32"),
        ("onnx-fp32", WITH_VNNI, "onnx-fp32"),
        ("bf16", NO_AVX512, "bf16"),  # asked for: honoured, if slow
        ("onnx-int8", NO_AVX512, "onnx-int8"),
    ],
)
def test_the_backend_follows_the_cpu_and_an_explicit_choice(
    requested: str, flags: frozenset[str], expected: str
) -> None:
    assert choose_backend(requested, flags) == expected


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend 'int4'"):
        choose_backend("int4", WITH_VNNI)


def test_the_backend_is_part_of_the_model_id() -> None:
    assert backend_model_id(DEFAULT_MODEL, "fp32") == DEFAULT_MODEL
    ids = {backend_model_id(DEFAULT_MODEL, b) for b in ("fp32", "bf16", "onnx-fp32", "onnx-int8")}
    assert len(ids) == 4 and f"{DEFAULT_MODEL}+onnx-int8" in ids


def test_a_cpu_without_avx512_gets_onnx_fp32_with_the_vectors_of_fp32(
    model_cache: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = load_embedder(cache_dir=model_cache, flags=NO_AVX512)
    assert isinstance(embedder, OnnxEmbedder) and embedder.backend == "onnx-fp32"
    assert embedder.model_id == f"{DEFAULT_MODEL}+onnx-fp32"
    ours, plain = embedder.embed_passages(SENTENCES), real_embedder.embed_passages(SENTENCES)
    assert cosines(ours, plain).min() > 0.99999
    assert float(embedder.embed_query(SENTENCES[0]) @ plain[0]) > 0.99999


def test_plain_fp32_when_asked(tmp_path: Path) -> None:
    embedder = load_embedder(backend="fp32", cache_dir=tmp_path, flags=WITH_VNNI)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.backend == "fp32" and embedder.model_id == DEFAULT_MODEL
    assert list(tmp_path.iterdir()) == []  # nothing exported
    vectors = embedder.embed_passages(SENTENCES[:2])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


@pytest.mark.parametrize(
    ("flags", "tried", "fallback"),
    [(WITH_VNNI, "onnx-int8", "bf16"), (NO_AVX512, "onnx-fp32", "fp32")],
)
def test_when_the_onnx_export_fails_auto_falls_back_and_says_why(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    flags: frozenset[str],
    tried: str,
    fallback: str,
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="index.retrieve.embed"):
        embedder = load_embedder(cache_dir=blocked, flags=flags)
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.backend == fallback
    assert f"{tried} embedding unavailable" in caplog.text and f"using {fallback}" in caplog.text
    with pytest.raises(OSError):  # asked for by name: the failure is the answer
        load_embedder(backend=tried, cache_dir=blocked, flags=flags)


def test_bf16_agrees_with_fp32(real_embedder: SentenceTransformerEmbedder) -> None:
    bf16 = SentenceTransformerEmbedder(bf16=True)
    assert bf16.model_id == f"{DEFAULT_MODEL}+bf16"
    ours, plain = bf16.embed_passages(SENTENCES), real_embedder.embed_passages(SENTENCES)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, plain).min() > 0.999


def test_onnx_int8_agrees_with_fp32(
    onnx_embedder: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    assert onnx_embedder.model_id == f"{DEFAULT_MODEL}+onnx-int8" and onnx_embedder.dim == 384
    ours, plain = onnx_embedder.embed_passages(SENTENCES), real_embedder.embed_passages(SENTENCES)
    assert ours.shape == plain.shape and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    sims = cosines(ours, plain)
    assert sims.min() > 0.95 and sims.mean() > 0.98
    # Sorting by length for batching must not shuffle the rows: each text is nearest its own.
    assert list(np.argmax(ours @ plain.T, axis=1)) == list(range(len(SENTENCES)))
    # Dynamic quantisation scales activations per batch, so a text alone differs by a hair.
    one = onnx_embedder.embed_query(SENTENCES[1])
    assert float(one @ ours[1]) > 0.98 and float(one @ plain[1]) > 0.98
    assert onnx_embedder.embed_passages([]).shape == (0, 384)


def test_a_long_text_is_cut_at_the_models_limit_like_fp32(
    onnx_embedder: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    long = " ".join(SENTENCES[:6]) * 12  # far above 256 tokens
    ours, plain = onnx_embedder.embed_passages([long]), real_embedder.embed_passages([long])
    assert float(cosines(ours, plain)[0]) > 0.95


def test_the_export_is_cached_and_checked(onnx_embedder: OnnxEmbedder, model_cache: Path) -> None:
    path = onnx_model(DEFAULT_MODEL, model_cache)
    plain = onnx_model(DEFAULT_MODEL, model_cache, quantized=False)
    assert plain.parent != path.parent and plain.stat().st_size > 3 * path.stat().st_size
    stamp = path.stat().st_mtime_ns
    assert onnx_model(DEFAULT_MODEL, model_cache) == path
    assert path.stat().st_mtime_ns == stamp  # reused, not exported again
    meta = (path.parent / "meta.json").read_text()
    assert DEFAULT_MODEL in meta and "onnx_sha256" in meta and "source_sha256" in meta


def test_a_damaged_export_is_rebuilt(tmp_path: Path, onnx_embedder: OnnxEmbedder) -> None:
    path = onnx_model(DEFAULT_MODEL, tmp_path)
    path.write_bytes(b"not an onnx model")
    fresh = OnnxEmbedder(DEFAULT_MODEL, cache_dir=tmp_path)
    assert path.stat().st_size > 1_000_000
    vectors = fresh.embed_passages(SENTENCES[:3])
    assert cosines(vectors, onnx_embedder.embed_passages(SENTENCES[:3])).min() > 0.9999
