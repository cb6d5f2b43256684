"""Shared parts of the CLI tests (tests/bot/test_cli*.py): the demo feeds at a fixed moment,
the fields each JSON document must have, an environment cleaned of WIREWATCH_ variables
(autouse), a data dir, and `wirewatch` run in-process (CliRunner) or as a subprocess with
readers of what it printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.adapters.cli.main import cli
from bot.demo import sample_feeds

# Demo feeds rendered at a fixed moment, so every run stores the same dates.
FIXED_NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
FEEDS = sample_feeds(FIXED_NOW)
FEED_TITLES = {"Euphrates Monitor", "Levant Wire — Syria & Iraq", "Tigris Daily"}
# A public IP literal: `feeds add` checks it without DNS, and nothing is ever fetched from it.
PUBLIC_URL = "https://93.184.215.14/feed.xml"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
FEED_FIELDS = {
    "feed_id",
    "url",
    "name",
    "interval_s",
    "last_polled_at",
    "last_status",
    "error_count",
    "articles",
    "enabled",
}
REPORT_FIELDS = {"feeds_polled", "new_articles", "duplicates", "failed_feeds", "alerts"}
STATS_FIELDS = {"feeds", "articles", "stories", "passages", "watches", "alerts"}
HIT_FIELDS = {
    "passage_id",
    "article_id",
    "story_id",
    "title",
    "url",
    "source",
    "published_at",
    "text",
    "score",
}


def entries_in(body: bytes) -> int:
    return body.count(b"<item>") + body.count(b"<entry>")


def isolate(mp: pytest.MonkeyPatch, cwd: Path) -> None:
    """No WIREWATCH_* from the caller's environment, and no `.env` in the working directory."""
    for name in [n for n in os.environ if n.startswith("WIREWATCH_")]:
        mp.delenv(name)
    mp.chdir(cwd)


@pytest.fixture(name="clean_env", autouse=True)
def clean_env_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("WIREWATCH_MODEL_CACHE_DIR", str(model_cache))  # one export per session


@pytest.fixture(name="data_dir")
def data_dir_fixture(tmp_path: Path) -> Path:
    return tmp_path / "data"


def wirewatch(data_dir: Path | None, *args: str, code: int = 0) -> Result:
    """Run the CLI in-process; check the exit code and that no traceback reached the user."""
    prefix = [] if data_dir is None else ["--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli, [*prefix, *args])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    if code == 0:
        assert result.exception is None
    else:
        assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result


def doc_of(result: Result) -> dict[str, Any]:
    """stdout must be exactly one JSON document (json.loads refuses anything after it)."""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def error_line(result: Result) -> str:
    """Our expected failures say so in exactly one line on stderr."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def assert_iso_utc(value: Any) -> datetime:
    assert isinstance(value, str) and ISO_UTC.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def feeds_of(data_dir: Path) -> list[dict[str, Any]]:
    feeds: list[dict[str, Any]] = doc_of(wirewatch(data_dir, "feeds", "list", "--json"))["feeds"]
    return feeds


def run_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
