"""Shared fixtures: the shared data folder, the real embedding model (once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
        pytest.skip("shared data not found: expected ../shared/data beside the project root "
                    "(or set WIREWATCH_SHARED_DATA)")
    return found
