"""Shared fixtures: the shared data folder, the real embedding model (once per session), a
PostgreSQL database (tests/pg.py) and the `engine` that runs a test on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# PostgreSQL for the tests, and the fixture that runs a test on each engine.
from tests.engines import engine  # noqa: F401
from tests.pg import pg_server_url, pg_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _shared_data_dir() -> Path | None:
    env = os.environ.get("WIREWATCH_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    return next((c for c in candidates if c.is_dir()), None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the project root; tests that need it skip cleanly without it."""
    found = _shared_data_dir()
    if found is None:
        pytest.skip(
            "shared data not found: expected ../shared/data beside the project root "
            "(or set WIREWATCH_SHARED_DATA)"
        )
    return found


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2, loaded once per test session (offline, from its package)."""
    from index.retrieve.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the ONNX export of the model (WIREWATCH_MODEL_CACHE_DIR) per session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path):  # type: ignore[no-untyped-def]
    """Settings for a fresh data dir; loopback feeds allowed (tests serve feeds on 127.0.0.1)."""
    from bot.settings import Settings

    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",  # type: ignore[call-arg]
        allowed_networks=["127.0.0.1/32"],
        model_cache_dir=model_cache,
        backoff_base_s=60.0,
        connect_timeout_s=2.0,
        read_timeout_s=2.0,
        fetch_timeout_s=5.0,
    )


@pytest.fixture(scope="session")
def gazetteer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One gazetteer cache for the test session (built from the installed GeoNames data)."""
    return tmp_path_factory.mktemp("gazetteer")


@pytest.fixture(scope="session")
def extractor(real_embedder, gazetteer_cache: Path):  # type: ignore[no-untyped-def]
    """The real event-metadata extractor, loaded once per test session."""
    from index.extract.extractor import Extractor

    return Extractor.load(real_embedder, gazetteer_cache)
